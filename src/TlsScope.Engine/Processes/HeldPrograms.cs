using System.Globalization;
using System.Runtime.InteropServices;

namespace TlsScope.Engine.Processes;

/// <summary>
/// Programs the kernel stopped at their exec (bpf/process) until their probes are in: continued
/// with SIGCONT on every path. The ones held right now are written to /run/tlsscope/held-PID, so
/// that if this run is killed (SIGKILL) in those milliseconds, the next run continues them
/// (<see cref="ReleaseLeftovers"/>) instead of leaving them stopped.
/// </summary>
public sealed partial class HeldPrograms
{
    private const int Sigcont = 18;

    private readonly string _file;
    private readonly Lock _gate = new();
    private readonly Dictionary<int, ulong> _held = [];

    public HeldPrograms(string directory = "/run/tlsscope")
    {
        Directory.CreateDirectory(directory);
        File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        _file = Path.Combine(directory, $"held-{Environment.ProcessId}");
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
            _held[pid] = StartTime(pid) ?? 0;
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

    private void Write()
    {
        if (_held.Count == 0)
        {
            File.Delete(_file);
            return;
        }

        File.WriteAllLines(_file, _held.Select(h => $"{h.Key} {h.Value}"));
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

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);
}
