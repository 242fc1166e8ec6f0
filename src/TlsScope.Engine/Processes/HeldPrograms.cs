using TlsScope.Engine.Files;

namespace TlsScope.Engine.Processes;

/// <summary>
/// Programs the kernel stopped at their exec (bpf/process) until their probes are in: continued
/// with SIGCONT on every path. The ones held right now are written to /run/tlsscope/held-PID, so
/// that if this run is killed (SIGKILL) in those milliseconds, the next run continues them
/// (<see cref="ReleaseLeftovers"/>) instead of leaving them stopped. And none is held longer
/// than <see cref="MaxHold"/>: a slow file system under a program's libraries delays its probes,
/// never the program for more than that.
/// </summary>
public sealed class HeldPrograms : IDisposable
{
    /// <summary>The longest a program waits for its probes. Attaching takes a few milliseconds for
    /// most; a fresh copy of node (185k symbols) or a Go program takes 100-250 ms on a loaded
    /// 2-core machine right after start-up, so the cap is twice that.</summary>
    public static readonly TimeSpan MaxHold = TimeSpan.FromMilliseconds(500);

    public const string DefaultDirectory = "/run/tlsscope";

    private readonly string _directory;
    private readonly string _file;
    private readonly Lock _gate = new();
    private readonly Dictionary<int, (ulong? Start, long HeldAt, long Hold)> _held = [];
    private long _holds; // numbers each hold: a program may exec again, and be held again, while an old one is handled
    private readonly Timer _watchdog;
    private long _overdue;
    private bool _disposed;

    public HeldPrograms(string directory = DefaultDirectory)
    {
        _directory = directory;
        _file = $"held-{Environment.ProcessId}";
        _watchdog = new Timer(_ => ReleaseOverdue(), null, MaxHold / 10, MaxHold / 10); // overdue by 50 ms at most
    }

    /// <summary>Programs held so long their probes are late: continued anyway.</summary>
    public long Overdue => Interlocked.Read(ref _overdue);

    /// <summary>How many are held right now.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _held.Count;
            }
        }
    }

    private void ReleaseOverdue()
    {
        List<(int Pid, long Hold)> overdue;
        lock (_gate)
        {
            var now = Environment.TickCount64;
            overdue = [.. _held.Where(h => now - h.Value.HeldAt > (long)MaxHold.TotalMilliseconds).Select(h => (h.Key, h.Value.Hold))];
        }

        foreach (var (pid, hold) in overdue)
        {
            if (Release(pid, hold))
            {
                Interlocked.Increment(ref _overdue);
            }
        }
    }

    /// <summary>Continues what a killed run left held (its file names a pid that is gone), where
    /// the process is the same one (its start time matches) and still stopped. Files in a
    /// directory that is not TlsScope's own are never acted on.</summary>
    public static int ReleaseLeftovers(string directory = DefaultDirectory)
    {
        var released = 0;
        if (!PrivateDirectory.Prepare(directory, create: false, out _))
        {
            return 0;
        }

        foreach (var file in Directory.EnumerateFiles(directory, "held-*"))
        {
            var name = Path.GetFileName(file);
            if (!int.TryParse(name["held-".Length..], out var owner) || Directory.Exists($"/proc/{owner}"))
            {
                continue; // a living run's
            }

            foreach (var line in (PrivateDirectory.Read(directory, name) ?? "").Split('\n'))
            {
                var parts = line.Split(' ');
                if (parts.Length == 2 && int.TryParse(parts[0], out var pid) && ulong.TryParse(parts[1], out var start)
                    && ProcessFacts.StartTime(pid) == start && ProcessFacts.State(pid) == 'T'
                    && ProcessSignals.Send(pid, ProcessSignals.Sigcont) == 0)
                {
                    released++;
                }
            }

            try
            {
                File.Delete(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }

        return released;
    }

    /// <summary>A program is held: recorded before anything else is done for it. Returns the
    /// hold, for <see cref="Release"/>.</summary>
    public long Held(int pid)
    {
        lock (_gate)
        {
            var hold = ++_holds;
            if (_disposed)
            {
                ProcessSignals.Send(pid, ProcessSignals.Sigcont);
                return hold;
            }

            _held[pid] = (ProcessFacts.StartTime(pid), Environment.TickCount64, hold);
            Write();
            return hold;
        }
    }

    /// <summary>Continues a held program (the very process: its start time is checked, the pid may
    /// have been reused if it died stopped); forgotten from the file. False if that hold is over
    /// (continued by the watchdog; the process may be held again since, for a later exec).</summary>
    public bool Release(int pid, long hold)
    {
        lock (_gate)
        {
            if (!_held.TryGetValue(pid, out var held) || held.Hold != hold)
            {
                return false;
            }

            _held.Remove(pid);

            if (held.Start is null || ProcessFacts.StartTime(pid) == held.Start)
            {
                ProcessSignals.Send(pid, ProcessSignals.Sigcont);
            }

            Write();
            return true;
        }
    }

    /// <summary>Continues every program held now.</summary>
    public void ReleaseAll()
    {
        List<(int Pid, long Hold)> left;
        lock (_gate)
        {
            left = [.. _held.Select(h => (h.Key, h.Value.Hold))];
        }

        foreach (var (pid, hold) in left)
        {
            Release(pid, hold);
        }
    }

    /// <summary>The record a next run reads; losing it only loses that safety net, never a program.</summary>
    private void Write()
    {
        if (_held.Count > 0)
        {
            PrivateDirectory.Write(_directory, _file, string.Join('\n', _held.Select(h => $"{h.Key} {h.Value.Start ?? 0}")));
            return;
        }

        try
        {
            File.Delete(Path.Combine(_directory, _file));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // /run/tlsscope removed or read-only under us
        }
    }

    /// <summary>Stops the watchdog and continues whatever is still held; a program held after
    /// this is continued at once.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
        }

        _watchdog.Dispose();
        ReleaseAll();
    }
}
