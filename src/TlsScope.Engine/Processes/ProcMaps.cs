using System.Globalization;
using TlsScope.Bpf;

namespace TlsScope.Engine.Processes;

/// <summary>A file-backed executable mapping of a process, from /proc/PID/maps.</summary>
public readonly record struct MappedFile(int Pid, string Path, FileIdentity Identity);

public static class ProcMaps
{
    /// <summary>Executable file mappings of <paramref name="pid"/>, one per file; empty when the
    /// process is gone or unreadable.</summary>
    public static List<MappedFile> ExecutableFiles(int pid)
    {
        var result = new List<MappedFile>();
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/maps");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return result;
        }
        foreach (var line in text.AsSpan().EnumerateLines())
        {
            if (TryParse(pid, line, out var m) && !result.Exists(r => r.Identity == m.Identity))
            {
                result.Add(m);
            }
        }

        return result;
    }

    /// <summary>Parses "start-end perms offset MM:mm inode path" keeping executable mappings of
    /// real files (not deleted, not anonymous).</summary>
    public static bool TryParse(int pid, ReadOnlySpan<char> line, out MappedFile mapped)
    {
        mapped = default;
        Span<Range> f = stackalloc Range[6];
        var n = line.Split(f, ' ', StringSplitOptions.RemoveEmptyEntries);
        if (n < 6)
        {
            return false;
        }

        var perms = line[f[1]];
        if (perms.Length < 3 || perms[2] != 'x')
        {
            return false;
        }

        var path = line[f[5].Start..].Trim();
        if (path.Length == 0 || path[0] != '/' || path.EndsWith(" (deleted)"))
        {
            return false;
        }

        var dev = line[f[3]];
        var colon = dev.IndexOf(':');
        if (colon < 0
            || !uint.TryParse(dev[..colon], NumberStyles.HexNumber, null, out var major)
            || !uint.TryParse(dev[(colon + 1)..], NumberStyles.HexNumber, null, out var minor)
            || !ulong.TryParse(line[f[4]], out var inode) || inode == 0)
        {
            return false;
        }

        mapped = new MappedFile(pid, path.ToString(), new FileIdentity(major, minor, inode));
        return true;
    }

    public static IEnumerable<int> AllPids()
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir.AsSpan()), out var pid))
            {
                yield return pid;
            }
        }
    }

    /// <summary>A path to the mapped file that this process can open: the path itself when it is
    /// the same file here, else through the process's root (containers, other mount spaces).</summary>
    public static string ReachablePath(MappedFile m)
    {
        if (FileIdentity.Of(m.Path) == m.Identity)
        {
            return m.Path;
        }

        var viaRoot = $"/proc/{m.Pid}/root{m.Path}";
        return FileIdentity.Of(viaRoot) == m.Identity ? viaRoot : m.Path;
    }

    /// <summary>The cgroup v2 id of a process (the inode of its cgroup's directory), or null
    /// when it is gone or not on cgroup v2.</summary>
    public static ulong? CgroupId(int pid)
    {
        try
        {
            return ProcessFacts.CgroupPath(pid) is { } path ? CgroupNames.IdOf(path == "/" ? CgroupNames.Hierarchy : CgroupNames.Hierarchy + path) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
