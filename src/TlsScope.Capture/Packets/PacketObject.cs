using TlsScope.Bpf;

namespace TlsScope.Capture.Packets;

/// <summary>The embedded packet capture object (bpf/packets.bpf.o), configured with the
/// capture's filters (only traced processes' packets are kept when any is given).</summary>
internal static class PacketObject
{
    public static BpfObject Load(CaptureOptions o) =>
        CaptureObject.LoadEmbedded("packets.bpf.o", CaptureObject.Config(o with { Keys = false }), scratchMap: "packet_scratch",
            ringMap: "packets", o.RingBufferMiB);
}
