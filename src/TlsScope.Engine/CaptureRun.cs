using TlsScope.Bpf;
using TlsScope.Engine.Processes;
using TlsScope.Engine.Sources;
using TlsScope.Engine.Targets;

namespace TlsScope.Engine;

/// <summary>Why a capture ended.</summary>
public enum StopReason
{
    /// <summary>Asked to (a signal, --duration, no output left).</summary>
    Asked,

    /// <summary>Every process of a pid target exited.</summary>
    TargetExited,

    /// <summary>A source could not go on (its Stop says why).</summary>
    Failed,
}

/// <summary>
/// One capture: the target's kernel side (<see cref="ProcessWatch"/>) and every source, driven
/// through the same steps. <see cref="Attach"/> loads and attaches everything (every refusal
/// that needs the kernel happens there, before a caller replaces any output file), <see cref="Start"/>
/// starts delivering, <see cref="Run"/> waits for the end, <see cref="Stop"/> detaches and drains.
/// </summary>
public sealed class CaptureRun : IDisposable
{
    private static readonly TimeSpan TargetCheckInterval = TimeSpan.FromMilliseconds(250);

    private readonly Target _target;
    private readonly IReadOnlyList<ICaptureSource> _sources;
    private readonly ProcessWatch _processes;
    private readonly CancellationTokenSource _failed = new();
    private bool _stopped;
    private long _lostExecs, _overdueHolds;

    private CaptureRun(Target target, IReadOnlyList<ICaptureSource> sources, ProcessWatch processes)
    {
        _target = target;
        _sources = sources;
        _processes = processes;
    }

    public Target Target => _target;

    public IReadOnlyList<ICaptureSource> Sources => _sources;

    public ProcessWatch Processes => _processes;

    /// <summary>Loads the target's kernel side and every source's, and attaches them all: events
    /// wait in the ring buffers until <see cref="Start"/>.</summary>
    /// <exception cref="CaptureException">A one-line refusal; nothing stays attached.</exception>
    /// <param name="hold">A never-seen program is stopped at its exec until the sources have
    /// attached to it (see bpf/process/process.bpf.c for when it is never held).</param>
    public static CaptureRun Attach(Target target, IReadOnlyList<ICaptureSource> sources, int ringBufferMiB, bool verbose, bool hold, Action<string> log)
    {
        LibBpfLog.Install(verbose, log);
        try
        {
            Tracefs.EnsureMounted();
        }
        catch (BpfException e)
        {
            throw new CaptureException(e.Message);
        }
        var cgroups = new CgroupNames();
        var processes = ProcessWatch.Load(target, sources.Any(s => s.WantsExecEvents), hold && sources.Any(s => s.HoldsAtExec), cgroups);
        processes.LogTo(log, verbose);
        var run = new CaptureRun(target, sources, processes);
        try
        {
            var context = new SourceContext(target, processes, cgroups, ringBufferMiB, verbose, log, _ => run._failed.Cancel());
            foreach (var source in sources)
            {
                source.Attach(context);
                if (source.WantsExecEvents)
                {
                    processes.OnExec(source.OnExec);
                }
            }
            processes.Attach();
            return run;
        }
        catch
        {
            run.Dispose();
            throw;
        }
    }

    /// <summary>"17 probes on 2 libraries, packets on lo (pid 1234)", for the ready line.</summary>
    public string ReadyText
    {
        get
        {
            var described = _target.Describe();
            return string.Join(", ", _sources.Select(s => s.ReadyText)) + (described.Length == 0 ? "" : $" ({described})");
        }
    }

    /// <summary>Launch mode: every source attaches to the program before it runs.</summary>
    public void PrepareLaunch(string program, IReadOnlyList<string> libraryPath)
    {
        if (FileIdentity.Of(program) is { } launched)
        {
            _processes.MarkKnown(launched); // attached below: its exec needs no hold
        }

        foreach (var source in _sources)
        {
            source.PrepareLaunch(program, libraryPath);
        }
    }

    public void Start(EventOutlets outlets)
    {
        foreach (var source in _sources)
        {
            source.Start(outlets);
        }
    }

    /// <summary>Waits until <paramref name="stop"/> is cancelled, a source fails, or a pid target's
    /// processes have all exited (like strace -p, the capture ends with them).</summary>
    public StopReason Run(CancellationToken stop)
    {
        using var any = CancellationTokenSource.CreateLinkedTokenSource(stop, _failed.Token);
        var checksTarget = _target is { Scope: TargetScope.Processes, FollowForks: false };
        while (!any.Token.WaitHandle.WaitOne(checksTarget ? TargetCheckInterval : Timeout.InfiniteTimeSpan))
        {
            if (checksTarget && _target.Pids.All(pid => !Directory.Exists($"/proc/{pid}")))
            {
                return StopReason.TargetExited;
            }
        }
        return _failed.IsCancellationRequested ? StopReason.Failed : StopReason.Asked;
    }

    /// <summary>Detaches every source and drains what the kernel produced; the first source that
    /// failed while capturing is reported (after every source is stopped).</summary>
    /// <exception cref="CaptureException">A source failed.</exception>
    public void Stop()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        _processes.StopExecs(); // nothing is held while the sources detach
        CaptureException? first = null;
        foreach (var source in _sources)
        {
            try
            {
                source.Stop();
            }
            catch (CaptureException e)
            {
                first ??= e;
            }
        }
        _lostExecs = _processes.LostExecEvents;
        _overdueHolds = _processes.OverdueHolds;
        _processes.Dispose();
        if (first is not null)
        {
            throw first;
        }
    }

    /// <summary>Before the process dies of a second signal: what would outlive it goes now.</summary>
    public void DetachWhatOutlivesUs()
    {
        _processes.DetachNow();
        foreach (var source in _sources)
        {
            source.DetachWhatOutlivesUs();
        }
    }

    /// <summary>Every source's summary lines, then the engine's own (only when something went
    /// wrong: an exec the ring had no room for was attached late, if at all; a held program was
    /// continued before its probes were in).</summary>
    public IEnumerable<string> Summary()
    {
        foreach (var source in _sources)
        {
            foreach (var line in source.Summary())
            {
                yield return line;
            }
        }

        if (_lostExecs > 0 || _overdueHolds > 0)
        {
            yield return $"tlsscope: execs: {_lostExecs} not seen at once (ring buffer full; found by the next scans), "
                + $"{_overdueHolds} held past {HeldPrograms.MaxHold.TotalMilliseconds:0} ms and continued before their probes were in";
        }
    }

    /// <summary>Whether anything may be missing from the capture: a source's loss, an exec seen
    /// late, a program continued before its probes were in.</summary>
    public bool LostAny => _sources.Any(s => s.LostAny) || _lostExecs > 0 || _overdueHolds > 0;

    public void Dispose()
    {
        foreach (var source in _sources)
        {
            source.Dispose();
        }

        _processes.Dispose();
        _failed.Dispose();
    }
}
