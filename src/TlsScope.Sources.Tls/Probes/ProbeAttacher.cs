using TlsScope.Bpf;
using TlsScope.Bpf.Elf;
using TlsScope.Sources.Tls.Discovery;
using TlsScope.Engine;

namespace TlsScope.Sources.Tls.Probes;

/// <summary>The one attach loop: every probe row of a library's family, every fd tracepoint.
/// Owns the links; disposing detaches them all. The session keeps attaches and disposal apart.</summary>
public sealed class ProbeAttacher(BpfObject obj, int? pid, bool keys) : IDisposable
{
    private const int Tracepoints = -1; // the key of the syscall tracepoints' links

    private readonly Dictionary<int, List<BpfLink>> _links = []; // by library id
    private readonly HashSet<int> _detaching = [];
    private readonly object _gate = new(); // a monitor: an attach waits for its library's detach

    public int LinkCount
    {
        get
        {
            lock (_gate)
            {
                return _links.Values.Sum(l => l.Count);
            }
        }
    }

    public void AttachTracepoints()
    {
        foreach (var syscall in ProbeTable.FdSyscalls)
        {
            Keep(Tracepoints, BpfLink.AttachTracepoint(obj, "tp_" + syscall, "syscalls", "sys_enter_" + syscall));
        }
    }

    /// <summary>Takes one library's probes away from the attacher (at once: an attach of the same
    /// library from now on makes new ones, after these are gone). Removing them is slow (each
    /// waits for an RCU grace period), so it is the caller's to do, outside its locks:
    /// <see cref="PendingDetach.Complete"/>.</summary>
    public PendingDetach BeginDetach(TlsLibrary lib)
    {
        lock (_gate)
        {
            _links.Remove(lib.Id, out var links);
            _detaching.Add(lib.Id);
            return new PendingDetach(this, lib.Id, links ?? []);
        }
    }

    /// <summary>Probes taken by <see cref="BeginDetach"/>, removed by <see cref="Complete"/>.</summary>
    public sealed class PendingDetach(ProbeAttacher attacher, int library, List<BpfLink> links)
    {
        public void Complete()
        {
            foreach (var link in links)
            {
                link.Dispose();
            }

            lock (attacher._gate)
            {
                attacher._detaching.Remove(library);
                Monitor.PulseAll(attacher._gate);
            }
        }
    }

    /// <summary>Attaches every probe of the library; returns how many: 0 when it has them already.
    /// A required symbol that cannot be attached is an error (and none of the library's probes
    /// stay); optional ones are skipped when absent. Attaches of one library do not overlap (the
    /// caller's lock); one whose old probes are being removed waits for that, so a call is never
    /// seen twice.</summary>
    public int Attach(TlsLibrary lib)
    {
        lock (_gate)
        {
            while (_detaching.Contains(lib.Id))
            {
                Monitor.Wait(_gate);
            }

            if (_links.ContainsKey(lib.Id))
            {
                return 0;
            }
        }

        var made = new List<BpfLink>();
        try
        {
            foreach (var probe in lib.Family.Probes.Where(p => keys || !p.ForKeys))
            {
                if (probe.ReplacedBy is { } replacement && lib.Symbols.TryGetFunction(replacement, out _))
                {
                    continue;
                }

                if (!lib.Symbols.TryGetFunction(probe.Symbol, out var fn))
                {
                    if (probe.Optional)
                    {
                        continue;
                    }

                    throw new CaptureException(
                        $"attach {probe.Symbol} in {lib.Path}: symbol not found; statically linked? pass --binary PATH");
                }
                try
                {
                    foreach (var offset in Sites(lib, probe, fn))
                    {
                        made.Add(BpfLink.AttachUprobe(obj, probe.Program, lib.Path, offset, probe.IsReturn, pid ?? -1, (ulong)lib.Id));
                    }
                }
                catch (BpfException e)
                {
                    throw new CaptureException($"attach {probe.Symbol} in {lib.Path}: {e.Message}");
                }
            }
        }
        catch
        {
            foreach (var link in made)
            {
                link.Dispose();
            }

            throw;
        }

        lock (_gate)
        {
            _links[lib.Id] = made;
        }

        return made.Count;
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

    private void Keep(int library, BpfLink link)
    {
        lock (_gate)
        {
            if (!_links.TryGetValue(library, out var list))
            {
                _links[library] = list = [];
            }

            list.Add(link);
        }
    }

    /// <summary>Detaches everything, after any removal under way (<see cref="PendingDetach"/>) is
    /// done: no link may outlive the object it was made from.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            while (_detaching.Count > 0)
            {
                Monitor.Wait(_gate);
            }

            // Each uprobe's release waits for an RCU grace period: hundreds of them one after
            // another take seconds, side by side they share the waits.
            Parallel.ForEach(_links.Values.SelectMany(l => l), new ParallelOptions { MaxDegreeOfParallelism = 32 }, l => l.Dispose());
            _links.Clear();
        }
    }
}
