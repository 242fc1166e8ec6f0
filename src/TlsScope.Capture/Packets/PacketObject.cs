using TlsScope.Bpf;

namespace TlsScope.Capture.Packets;

/// <summary>The embedded packet capture object (bpf/packets.bpf.o), configured with the
/// capture's filters (only traced processes' packets are kept when any is given).</summary>
internal static class PacketObject
{
    public static BpfObject Load(CaptureOptions o)
    {
        var obj = BpfObject.Open(CaptureObject.EmbeddedObject("packets.bpf.o"), "packets.bpf.o");
        try
        {
            obj.SetInitialValue(".rodata.config", CaptureObject.Config(o));
            obj.SetMaxEntries("packet_scratch", (uint)KernelSupport.PossibleCpus());
            obj.SetMaxEntries("packets", CaptureObject.RingSize(o.RingBufferMiB));
            obj.Load();
            return obj;
        }
        catch (BpfException e)
        {
            obj.Dispose();
            throw new CaptureException(e.Message);
        }
        catch
        {
            obj.Dispose();
            throw;
        }
    }
}
