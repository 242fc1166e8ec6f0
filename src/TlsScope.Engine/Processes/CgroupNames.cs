using System.Text.RegularExpressions;
using TlsScope.Bpf;

namespace TlsScope.Engine.Processes;

/// <summary>
/// cgroup v2 ids (what the kernel's bpf_get_current_cgroup_id gives: the inode of the cgroup's
/// directory) to paths and container ids. The hierarchy is walked once and again when an id is
/// not found (at most once a second: a cgroup made since then), never per event.
/// </summary>
public sealed partial class CgroupNames(string? root = null)
{
    private readonly string _root = root ?? Hierarchy;

    /// <summary>Where the cgroup v2 hierarchy is mounted: /sys/fs/cgroup on a unified host,
    /// /sys/fs/cgroup/unified on a hybrid one (from /proc/self/mounts); the first when none is.</summary>
    public static string Hierarchy { get; } = FindHierarchy();

    private static string FindHierarchy()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/mounts"))
            {
                var fields = line.Split(' ');
                if (fields.Length > 2 && fields[2] == "cgroup2")
                {
                    return fields[1];
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return "/sys/fs/cgroup";
    }

    private static readonly TimeSpan RescanInterval = TimeSpan.FromSeconds(1);

    private readonly Lock _gate = new();
    private Dictionary<ulong, string> _paths = [];
    private DateTime _scanned = DateTime.MinValue;

    /// <summary>The cgroup's path below the hierarchy's root ("/system.slice/x.service"), or null.</summary>
    public string? PathOf(ulong id)
    {
        if (id == 0)
        {
            return null;
        }

        lock (_gate)
        {
            if (_paths.TryGetValue(id, out string? path))
            {
                return path;
            }

            if (DateTime.UtcNow - _scanned < RescanInterval)
            {
                return null;
            }

            _paths = Scan(_root);
            _scanned = DateTime.UtcNow;
            return _paths.GetValueOrDefault(id);
        }
    }

    /// <summary>The container id (64 hex digits) the cgroup's path names, or null.</summary>
    public string? ContainerOf(ulong id) => PathOf(id) is { } path ? ContainerIn(path) : null;

    /// <summary>docker (docker-ID.scope, /docker/ID), containerd and Kubernetes (cri-containerd-ID.scope,
    /// /kubepods/.../ID), podman (libpod-ID.scope; not its conmon-ID) and CRI-O (crio-ID.scope).</summary>
    public static string? ContainerIn(string path)
    {
        foreach (string part in path.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse())
        {
            if (part.Contains("conmon", StringComparison.Ordinal))
            {
                continue;
            }

            if (ContainerId().Match(part) is { Success: true } m)
            {
                return m.Groups[1].Value;
            }
        }

        return null;
    }

    /// <summary>The cgroup v2 id of a directory of the hierarchy (its inode).</summary>
    public static ulong? IdOf(string directory) => FileIdentity.Of(directory)?.Inode;

    private static Dictionary<ulong, string> Scan(string root)
    {
        var paths = new Dictionary<ulong, string>();
        var pending = new Stack<string>();
        pending.Push(root);
        while (pending.Count > 0)
        {
            string dir = pending.Pop();
            if (FileIdentity.Of(dir) is { } id)
            {
                string relative = dir.Length == root.Length ? "/" : dir[root.Length..];
                paths.TryAdd(id.Inode, relative);
            }

            try
            {
                foreach (string sub in Directory.EnumerateDirectories(dir))
                {
                    pending.Push(sub);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // a cgroup removed while walking
            }
        }

        return paths;
    }

    [GeneratedRegex("^(?:[a-z-]+-)?([0-9a-f]{64})(?:\\.scope)?$")]
    private static partial Regex ContainerId();
}
