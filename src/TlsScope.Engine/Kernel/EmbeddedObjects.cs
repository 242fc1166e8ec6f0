using System.Runtime.InteropServices;
using System.Text;
using TlsScope.Bpf;

namespace TlsScope.Engine.Kernel;

/// <summary>A source's kernel side, embedded in its assembly as bpf/NAME.bpf.o (bpf/bpf.targets):
/// configured (.rodata filters, ring and scratch sizes), loaded, and read back for its counters.</summary>
public static class EmbeddedObjects
{
    /// <summary>Opens the object embedded in <paramref name="owner"/>, sets its .rodata config, its
    /// per-CPU scratch array (one value per CPU) and ring size, and loads it; errors are one-line
    /// CaptureExceptions.</summary>
    /// <param name="beforeLoad">Last settings before the load (maps shared with other objects).</param>
    public static BpfObject Load(System.Reflection.Assembly owner, string name, in KernelConfig config, string scratchMap, string ringMap, int ringMiB,
        Action<BpfObject>? beforeLoad = null)
    {
        var obj = BpfObject.Open(Embedded(owner, name), name);
        try
        {
            obj.SetInitialValue(".rodata.config", config);
            obj.SetMaxEntries(scratchMap, (uint)KernelSupport.PossibleCpus());
            obj.SetMaxEntries(ringMap, RingSize(ringMiB));
            beforeLoad?.Invoke(obj);
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

    public static uint RingSize(int mib)
    {
        if (mib is < 1 or > 1024)
        {
            throw new CaptureException($"--buffer-size {mib}: must be between 1 and 1024 MiB");
        }

        return (uint)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)mib) << 20;
    }

    public static byte[] Embedded(System.Reflection.Assembly owner, string name)
    {
        using var s = owner.GetManifestResourceStream("bpf/" + name)
            ?? throw new CaptureException($"bpf object {name} is not embedded in this build");
        var bytes = new byte[s.Length];
        s.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>A one-entry per-CPU counter map, summed over CPUs (zero when unreadable).</summary>
    public static unsafe T SumPerCpu<T>(BpfObject obj, string map) where T : unmanaged, ICounters<T>
    {
        var values = new T[KernelSupport.PossibleCpus()];
        var total = default(T);
        var key = 0;
        if (obj.Lookup(map, MemoryMarshal.AsBytes(new Span<int>(ref key)), MemoryMarshal.AsBytes(values.AsSpan())))
        {
            foreach (ref readonly var v in values.AsSpan())
            {
                total.Add(in v);
            }
        }

        return total;
    }
}
