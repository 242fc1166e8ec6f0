using System.Runtime.InteropServices;
using System.Text;
using TlsScope.Bpf;
using TlsScope.Capture.Events;

namespace TlsScope.Capture;

/// <summary>The embedded kernel side (bpf/capture.bpf.o): configured from the options (.rodata
/// filters, ring and scratch sizes), loaded, and read back for its counters.</summary>
public static class CaptureObject
{
    public static BpfObject Load(CaptureOptions o) =>
        LoadEmbedded("capture.bpf.o", Config(o), scratchMap: "scratch", ringMap: "events", o.RingBufferMiB);

    /// <summary>Opens an embedded object, sets its .rodata config, its per-CPU scratch array
    /// (one value per CPU) and ring size, and loads it; errors are one-line CaptureExceptions.</summary>
    internal static BpfObject LoadEmbedded(string name, in KernelConfig config, string scratchMap, string ringMap, int ringMiB)
    {
        var obj = BpfObject.Open(EmbeddedObject(name), name);
        try
        {
            obj.SetInitialValue(".rodata.config", config);
            obj.SetMaxEntries(scratchMap, (uint)KernelSupport.PossibleCpus());
            obj.SetMaxEntries(ringMap, RingSize(ringMiB));
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

    internal static uint RingSize(int mib)
    {
        if (mib is < 1 or > 1024)
            throw new CaptureException($"--buffer-size {mib}: must be between 1 and 1024 MiB");
        return (uint)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)mib) << 20;
    }

    /// <summary>The .rodata filters; a value the kernel cannot hold is a one-line CaptureException.</summary>
    internal static unsafe KernelConfig Config(CaptureOptions o)
    {
        var c = new KernelConfig
        {
            TargetPid = (uint)(o.Pid ?? 0),
            TargetUid = o.Uid ?? 0,
            FilterUid = o.Uid is null ? 0u : 1u,
            MaxPayload = o.MaxPayload,
            WakeupBytes = RingSize(o.RingBufferMiB) / 8,
            Keys = o.Keys ? 1u : 0u,
        };
        if (o.Comm is { } comm)
        {
            var bytes = Encoding.UTF8.GetBytes(comm);
            if (bytes.Length >= ChunkHeader.CommLength)
                throw new CaptureException($"--comm {comm}: longer than the kernel's 15-byte process name");
            c.FilterComm = 1;
            bytes.CopyTo(new Span<byte>(c.Comm, ChunkHeader.CommLength));
        }
        return c;
    }

    internal static byte[] EmbeddedObject(string name)
    {
        using var s = typeof(CaptureObject).Assembly.GetManifestResourceStream("bpf/" + name)
            ?? throw new CaptureException($"bpf object {name} is not embedded in this build");
        var bytes = new byte[s.Length];
        s.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>The kernel's loss and volume counters, summed over CPUs.</summary>
    public static KernelStats ReadStats(BpfObject obj) => SumPerCpu<KernelStats>(obj, "stats");

    /// <summary>A one-entry per-CPU counter map, summed over CPUs (zero when unreadable).</summary>
    internal static unsafe T SumPerCpu<T>(BpfObject obj, string map) where T : unmanaged, ICounters<T>
    {
        var values = new T[KernelSupport.PossibleCpus()];
        var total = default(T);
        var key = 0;
        if (obj.Lookup(map, MemoryMarshal.AsBytes(new Span<int>(ref key)), MemoryMarshal.AsBytes(values.AsSpan())))
            foreach (ref readonly var v in values.AsSpan())
                total.Add(in v);
        return total;
    }
}
