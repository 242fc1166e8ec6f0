namespace TlsScope.Engine.Model;

/// <summary>An interface packets are captured on. <see cref="LinkType"/> is the pcapng link
/// type (1 Ethernet, 101 raw IP).</summary>
public sealed record CaptureInterface(int Index, string Name, int LinkType);

/// <summary>
/// One packet seen by the TC programs. <see cref="Data"/> starts at the link-layer header and
/// is valid only during the call; <see cref="Owner"/> is the process whose socket sent or
/// receives it, when known.
/// </summary>
public sealed record CapturedPacket(
    long TimeUnixNs,
    CaptureInterface Interface,
    bool Egress,
    int OriginalLength,
    ReadOnlyMemory<byte> Data,
    PacketOwner? Owner);

/// <summary>The process owning a packet's socket; <see cref="CommandLine"/> (arguments joined by
/// spaces) as the kernel read it when the process connected or listened, null when unknown.</summary>
public sealed record PacketOwner(int Pid, uint Uid, string Comm, string? CommandLine = null, ulong Cgroup = 0, string? Container = null);

/// <summary>A consumer of captured packets. Calls come from the packet reader thread, which is
/// not the thread that delivers chunks and keys: a sink taking both must lock.</summary>
public interface IPacketSink : IDisposable
{
    void OnPacket(CapturedPacket packet);

    /// <summary>The reader drained what was available, or a tick passed with nothing
    /// (at least every 100 ms while capturing): write out buffers, release held packets.</summary>
    void Flush();
}
