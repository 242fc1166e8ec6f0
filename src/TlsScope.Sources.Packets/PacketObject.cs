using TlsScope.Bpf;
using TlsScope.Engine;
using TlsScope.Engine.Kernel;

namespace TlsScope.Sources.Packets;

/// <summary>The embedded packet capture object (bpf/packets.bpf.o), configured with the
/// capture's filters (only traced processes' packets are kept when any is given).</summary>
internal static class PacketObject
{
    public static BpfObject Load(CaptureOptions o) =>
        EmbeddedObjects.Load(typeof(PacketObject).Assembly, "packets.bpf.o", EmbeddedObjects.Config(o with { Keys = false }), scratchMap: "packet_scratch",
            ringMap: "packets", o.RingBufferMiB);
}
