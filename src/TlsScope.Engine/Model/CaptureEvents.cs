namespace TlsScope.Engine.Model;

/// <summary>Whom an event is about: process, thread, user, name, and the cgroup (v2 id) the
/// task ran in, with the container id when the cgroup's path names one.</summary>
public sealed record ProcessInfo(int Pid, int Tid, uint Uid, string Comm, ulong Cgroup = 0, string? Container = null);

/// <summary>
/// The plaintext of one TLS read or write call, reassembled from the kernel's records.
/// <see cref="Data"/> holds exactly the captured bytes; when <see cref="Truncated"/>,
/// <see cref="DroppedBytes"/> more were transferred but cut by --max-payload.
/// </summary>
public sealed record DataChunk(
    long TimeUnixNs,
    long StartUnixNs,
    ulong Connection,
    Direction Direction,
    ProcessInfo Process,
    int Fd,
    ConnectionAddress Address,
    string Library,
    long StreamOffset,
    ReadOnlyMemory<byte> Data,
    bool Truncated,
    long DroppedBytes)
{
    public int Length => Data.Length;
}

/// <summary>Bytes of a connection's stream that were transferred but not captured (the ring
/// buffer was full, or the process memory could not be read). Never silent.</summary>
public sealed record StreamGap(
    long TimeUnixNs,
    ulong Connection,
    Direction Direction,
    ProcessInfo? Process,
    long StreamOffset,
    long Length,
    string Reason);

/// <summary>The library freed the connection object; totals are the kernel's byte counts.</summary>
public sealed record ConnectionClosed(
    long TimeUnixNs,
    ulong Connection,
    int Pid,
    long ReadBytes,
    long WriteBytes);
