using System.CommandLine;
using TlsScope.Engine;
using TlsScope.Engine.Processes;
using TlsScope.Engine.Targets;

namespace TlsScope.Cli;

/// <summary>The target a command line names: everything, pids, a cgroup (given, or the cgroup a
/// container's processes run in), with the uid and name filters. A launched command's target is
/// made when it is launched (<see cref="Launcher"/>).</summary>
public static class TargetBuilder
{
    /// <exception cref="CaptureException">A cgroup or container that does not exist, one line.</exception>
    public static Target From(CliOptions cli, ParseResult r)
    {
        var cgroupRoot = CgroupNames.Hierarchy;
        var target = new Target { Uid = r.GetValue(cli.Uid), Comm = r.GetValue(cli.Comm) };
        if ((r.GetValue(cli.Pid) ?? []) is { Length: > 0 } pids)
        {
            return target with { Scope = TargetScope.Processes, Pids = pids };
        }

        if (r.GetValue(cli.Cgroup) is { } cgroup)
        {
            return target with { Scope = TargetScope.Cgroup, CgroupDirectory = CgroupDirectory(cgroup, cgroupRoot) };
        }

        if (r.GetValue(cli.Container) is { } container)
        {
            var (id, directory) = ContainerCgroup(container, cgroupRoot);
            return target with { Scope = TargetScope.Cgroup, CgroupDirectory = directory, Container = id };
        }
        return target;
    }

    /// <summary>A cgroup v2 directory: a path under the hierarchy's mount, or one relative to its
    /// root ("/system.slice/x.service", as /proc/PID/cgroup shows it).</summary>
    private static string CgroupDirectory(string given, string root)
    {
        if (!File.Exists(Path.Combine(root, "cgroup.controllers")))
        {
            throw new CaptureException($"--cgroup {given}: no cgroup v2 hierarchy at {root}");
        }

        var full = Path.GetFullPath(given.StartsWith(root + "/", StringComparison.Ordinal) || given == root ? given : root + "/" + given.TrimStart('/'));
        if (!full.StartsWith(root, StringComparison.Ordinal) || !File.Exists(Path.Combine(full, "cgroup.procs")))
        {
            throw new CaptureException($"--cgroup {given}: no such cgroup (looked for {full})");
        }

        return full.TrimEnd('/');
    }

    /// <summary>The container whose id starts with <paramref name="prefix"/>, from the cgroups of
    /// running processes: its full id and the cgroup directory that names it.</summary>
    private static (string Id, string Directory) ContainerCgroup(string prefix, string root)
    {
        var found = new Dictionary<string, string>();
        foreach (var pid in ProcMaps.AllPids())
        {
            string? path;
            try
            {
                path = ProcessFacts.CgroupPath(pid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }
            if (path is null || CgroupNames.ContainerIn(path) is not { } id || !id.StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }
            // The cgroup named for the container, not a sub-cgroup of its processes.
            var parts = path.Split('/');
            var at = Array.FindLastIndex(parts, p => p.Contains(id, StringComparison.Ordinal));
            var directory = root + string.Join('/', parts[..(at + 1)]);
            if (!found.TryGetValue(id, out var known) || directory.Length < known.Length)
            {
                found[id] = directory;
            }
        }
        return found.Count switch
        {
            0 => throw new CaptureException($"--container {prefix}: no running container has an id starting with it"),
            1 => (found.Keys.First(), found.Values.First()),
            _ => throw new CaptureException($"--container {prefix}: {found.Count} containers match ({string.Join(", ", found.Keys.Select(k => k[..12]))}): give more of the id"),
        };
    }
}
