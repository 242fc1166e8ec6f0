using System.Globalization;

namespace TlsScope.Engine.Processes;

/// <summary>What /proc says of a running process, read the way the kernel's filters see it.
/// IOException when the process is gone (State and StartTime: null).</summary>
public static class ProcessFacts
{
    /// <summary>The real uid (the first of /proc/PID/status's Uid line), as bpf_get_current_uid_gid gives it.</summary>
    public static uint Uid(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("Uid:", StringComparison.Ordinal))
            {
                return uint.Parse(line.Split('\t', ' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            }
        }

        return uint.MaxValue;
    }

    /// <summary>The state letter of /proc/PID/stat ('T': stopped), or null when the process is gone.</summary>
    public static char? State(int pid) => Stat(pid) is { } fields ? fields[0][0] : null;

    /// <summary>Field 22 of /proc/PID/stat (clock ticks after boot): the start time that tells a
    /// process from a later one with its pid. Null when the process is gone.</summary>
    public static ulong? StartTime(int pid) =>
        Stat(pid) is { Length: > 19 } fields && ulong.TryParse(fields[19], CultureInfo.InvariantCulture, out var ticks) ? ticks : null;

    /// <summary>The fields of /proc/PID/stat after the name (which may hold spaces and parentheses):
    /// [0] is field 3, the state.</summary>
    private static string[]? Stat(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var end = stat.LastIndexOf(')');
            return end < 0 || end + 2 >= stat.Length ? null : stat[(end + 2)..].Split(' ');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The process's name (/proc/PID/comm).</summary>
    public static string Comm(int pid) => File.ReadAllText($"/proc/{pid}/comm").TrimEnd('\n');

    /// <summary>Its cgroup v2 path below the hierarchy's root ("/system.slice/x.service"), or null.</summary>
    public static string? CgroupPath(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/cgroup"))
        {
            if (line.StartsWith("0::", StringComparison.Ordinal))
            {
                return line.Length == 3 ? "/" : line[3..].TrimEnd('/') is { Length: > 0 } p ? p : "/";
            }
        }

        return null;
    }
}
