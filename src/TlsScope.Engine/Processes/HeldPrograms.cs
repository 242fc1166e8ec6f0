using System.Globalization;
using System.Runtime.InteropServices;

namespace TlsScope.Engine.Processes;

/// <summary>
/// Programs the kernel stopped at their exec (bpf/process) until their probes are in: continued
/// with SIGCONT on every path. The ones held right now are written to /run/tlsscope/held-PID, so
/// that if this run is killed (SIGKILL) in those milliseconds, the next run continues them
/// (<see cref="ReleaseLeftovers"/>) instead of leaving them stopped. And none is held longer
/// than <see cref="MaxHold"/>: a slow file system under a program's libraries delays its probes,
/// never the program for more than that.
/// </summary>
public sealed partial class HeldPrograms : IDisposable
{
    /// <summary>The longest a program waits for its probes; attaching takes a few milliseconds.</summary>
    public static readonly TimeSpan MaxHold = TimeSpan.FromMilliseconds(250);

    private const int Sigcont = 18;

    private readonly string _file;
    private readonly Lock _gate = new();
    private readonly Dictionary<int, (ulong Start, long HeldAt)> _held = [];
    private readonly Timer _watchdog;

    public HeldPrograms(string directory = "/run/tlsscope")
    {
        Directory.CreateDirectory(directory);
        File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        _file = Path.Combine(directory, $"held-{Environment.ProcessId}");
        _watchdog = new Timer(_ => ReleaseOverdue(), null, MaxHold / 4, MaxHold / 4);
    }

    /// <summary>Programs held so long their probes are late: continued anyway.</summary>
    public long Overdue { get; private set; }

    private void ReleaseOverdue()
    {
        List<int> overdue;
        lock (_gate)
        {
            var now = Environment.TickCount64;
            overdue = [.. _held.Where(h => now - h.Value.HeldAt > (long)MaxHold.TotalMilliseconds).Select(h => h.Key)];
            Overdue += overdue.Count;
        }

        foreach (var pid in overdue)
        {
            Release(pid);
        }
    }

    /// <summary>Continues what a killed run left held (its file names a pid that is gone), where
    /// the process is the same one (its start time matches) and still stopped.</summary>
    public static int ReleaseLeftovers(string directory = "/run/tlsscope")
    {
        var released = 0;
        if (!Directory.Exists(directory))
        {
            return 0;
        }

        foreach (var file in Directory.EnumerateFiles(directory, "held-*"))
        {
            if (!int.TryParse(Path.GetFileName(file)["held-".Length..], out var owner) || Directory.Exists($"/proc/{owner}"))
            {
                continue; // a living run's
            }

            foreach (var line in File.ReadAllLines(file))
            {
                var parts = line.Split(' ');
                if (parts.Length == 2 && int.TryParse(parts[0], out var pid) && ulong.TryParse(parts[1], out var start)
                    && StartTime(pid) == start && Kill(pid, Sigcont) == 0)
                {
                    released++;
                }
            }

            File.Delete(file);
        }

        return released;
    }

    /// <summary>A program is held: recorded before anything else is done for it.</summary>
    public void Held(int pid)
    {
        lock (_gate)
        {
            _held[pid] = (StartTime(pid) ?? 0, Environment.TickCount64);
            Write();
        }
    }

    /// <summary>Continues a held program; forgotten from the file.</summary>
    public void Release(int pid)
    {
        Kill(pid, Sigcont);
        lock (_gate)
        {
            if (_held.Remove(pid))
            {
                Write();
            }
        }
    }

    /// <summary>The record a next run reads; losing it only loses that safety net, never a program.</summary>
    private void Write()
    {
        try
        {
            if (_held.Count == 0)
            {
                File.Delete(_file);
                return;
            }

            File.WriteAllLines(_file, _held.Select(h => $"{h.Key} {h.Value.Start}"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // /run/tlsscope removed or read-only under us
        }
    }

    /// <summary>Field 22 of /proc/PID/stat: the start time that tells a process from a later one with its pid.</summary>
    private static ulong? StartTime(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return ulong.Parse(fields[19], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>Stops the watchdog and continues whatever is still held.</summary>
    public void Dispose()
    {
        _watchdog.Dispose();
        List<int> left;
        lock (_gate)
        {
            left = [.. _held.Keys];
        }

        foreach (var pid in left)
        {
            Release(pid);
        }
    }

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);
}
