using TlsScope.Bpf;
using TlsScope.Bpf.Elf;
using TlsScope.Sources.Tls.Discovery;
using TlsScope.Engine;

namespace TlsScope.Sources.Tls.Probes;

/// <summary>The one attach loop: every probe row of a library's family, every fd tracepoint.
/// Owns the links; disposing detaches them all. The session keeps attaches and disposal apart.</summary>
public sealed class ProbeAttacher(BpfObject obj, int? pid, bool keys) : IDisposable
{
    private readonly List<BpfLink> _links = [];
    private readonly object _gate = new();

    public int LinkCount
    {
        get
        {
            lock (_gate)
            {
                return _links.Count;
            }
        }
    }

    public void AttachTracepoints()
    {
        foreach (var syscall in ProbeTable.FdSyscalls)
        {
            Keep(BpfLink.AttachTracepoint(obj, "tp_" + syscall, "syscalls", "sys_enter_" + syscall));
        }
    }

    /// <summary>Attaches every probe of the library; returns how many. A required symbol that
    /// cannot be attached is an error; optional ones are skipped when absent.</summary>
    public int Attach(TlsLibrary lib)
    {
        var count = 0;
        foreach (var probe in lib.Family.Probes.Where(p => keys || !p.ForKeys))
        {
            if (!lib.Symbols.TryGetFunction(probe.Symbol, out var fn))
            {
                if (probe.Optional)
                {
                    continue;
                }

                throw new CaptureException(
                    $"attach {probe.Symbol} in {lib.Path}: symbol not found; statically linked? pass --libssl PATH");
            }
            try
            {
                foreach (var offset in Sites(lib, probe, fn))
                {
                    Keep(BpfLink.AttachUprobe(obj, probe.Program, lib.Path, offset, probe.IsReturn, pid ?? -1, (ulong)lib.Id));
                    count++;
                }
            }
            catch (BpfException e)
            {
                throw new CaptureException($"attach {probe.Symbol} in {lib.Path}: {e.Message}");
            }
        }
        return count;
    }

    /// <summary>The file offsets a probe goes at: the function's start, or the offsets inside it
    /// its family finds (every RET of a Go function, say).</summary>
    private static IReadOnlyList<ulong> Sites(TlsLibrary lib, ProbeSpec probe, ElfFunction fn)
    {
        if (probe.Site != ProbeSite.Offsets)
        {
            return [fn.FileOffset];
        }

        var offsets = probe.Offsets?.Invoke(lib.Symbols, fn) ?? [];
        if (offsets.Count == 0 && !probe.Optional)
        {
            throw new CaptureException($"attach {probe.Symbol} in {lib.Path}: no site found in the function for {probe.Program}");
        }

        return offsets.Select(o => fn.FileOffset + o).ToList();
    }

    private void Keep(BpfLink link)
    {
        lock (_gate)
        {
            _links.Add(link);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var l in _links)
            {
                l.Dispose();
            }

            _links.Clear();
        }
    }
}
