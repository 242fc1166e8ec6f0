using TlsScope.Bpf;
using TlsScope.Engine.Kernel;
using TlsScope.Sources.Tls.Events;

namespace TlsScope.Sources.Tls;

/// <summary>The TLS source's kernel side (bpf/tls/tls.bpf.c), embedded in this assembly.</summary>
public static class TlsObject
{
    /// <summary>The kernel's loss and volume counters, summed over CPUs.</summary>
    public static KernelStats ReadStats(BpfObject obj) => EmbeddedObjects.SumPerCpu<KernelStats>(obj, "stats");
}
