using System.Globalization;

namespace TlsScope.Engine.Processes;

/// <summary>What /proc says of a running process, read the way the kernel's filters see it.
/// IOException when the process is gone.</summary>
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
