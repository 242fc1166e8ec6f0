using System.Text;
using TlsScope.Engine.Kernel;
using TlsScope.Engine.Processes;

namespace TlsScope.Engine.Targets;

/// <summary>Which processes a capture is about, before the uid and name filters.</summary>
public enum TargetScope
{
    /// <summary>Every process.</summary>
    Everything,

    /// <summary>The processes in <see cref="Target.Pids"/>, and with <see cref="Target.FollowForks"/>
    /// every process they start (a launched command's tree).</summary>
    Processes,

    /// <summary>The tasks of a cgroup (v2) and of its descendants (a container).</summary>
    Cgroup,
}

/// <summary>
/// What a capture is about: one object every filter reads, the kernel's (each BPF object's
/// .rodata and the maps <see cref="ProcessWatch"/> owns) and user space's (scans of /proc).
/// </summary>
public sealed record Target
{
    public TargetScope Scope { get; init; }

    /// <summary><see cref="TargetScope.Processes"/>: the processes at the start.</summary>
    public IReadOnlyList<int> Pids { get; init; } = [];

    /// <summary>Processes started by traced processes are traced too (launch mode).</summary>
    public bool FollowForks { get; init; }

    /// <summary><see cref="TargetScope.Cgroup"/>: the cgroup's directory in the v2 hierarchy.</summary>
    public string? CgroupDirectory { get; init; }

    /// <summary>The container id the cgroup was found for (--container), for messages.</summary>
    public string? Container { get; init; }

    public uint? Uid { get; init; }

    public string? Comm { get; init; }

    public static Target Everything { get; } = new();

    /// <summary>The one process a capture is about (probes can then be installed in it alone).</summary>
    public int? SinglePid => Scope == TargetScope.Processes && !FollowForks && Pids.Count == 1 ? Pids[0] : null;

    /// <summary>Anything narrows the target: packets of unknown owners are not kept then.</summary>
    public bool IsRestricted => Scope != TargetScope.Everything || Uid is not null || Comm is not null;

    /// <summary>Refusals that need nothing opened: a name the kernel cannot hold, a process or
    /// cgroup that does not exist.</summary>
    /// <exception cref="CaptureException">One line naming the option.</exception>
    public void Check()
    {
        if (Comm is { } comm && Encoding.UTF8.GetByteCount(comm) >= KernelConfig.CommLength)
        {
            throw new CaptureException($"--comm {comm}: longer than the kernel's 15-byte process name");
        }

        if (!FollowForks)
        {
            foreach (var pid in Pids)
            {
                if (!Directory.Exists($"/proc/{pid}"))
                {
                    throw new CaptureException($"--pid {pid}: no such process");
                }
            }
        }

        if (Scope == TargetScope.Cgroup && (CgroupDirectory is null || !Directory.Exists(CgroupDirectory)))
        {
            throw new CaptureException($"--cgroup {CgroupDirectory}: no such cgroup");
        }
    }

    /// <summary>The kernel's view: scope, pid and the uid and name filters of a .rodata config.</summary>
    public unsafe void WriteTo(ref KernelConfig config)
    {
        config.Scope = Scope switch
        {
            TargetScope.Everything => KernelScope.All,
            TargetScope.Processes when SinglePid is not null => KernelScope.Pid,
            TargetScope.Processes => KernelScope.Pids,
            _ => KernelScope.Cgroup,
        };
        config.TargetPid = (uint)(SinglePid ?? 0);
        config.TargetUid = Uid ?? 0;
        config.FilterUid = Uid is null ? 0u : 1u;
        config.FollowForks = FollowForks ? 1u : 0u;
        config.FilterComm = 0;
        if (Comm is { } comm)
        {
            var bytes = Encoding.UTF8.GetBytes(comm);
            if (bytes.Length >= KernelConfig.CommLength)
            {
                throw new CaptureException($"--comm {comm}: longer than the kernel's 15-byte process name");
            }

            config.FilterComm = 1;
            fixed (byte* c = config.Comm)
            {
                bytes.CopyTo(new Span<byte>(c, KernelConfig.CommLength));
            }
        }
    }

    /// <summary>Whether a running process is in the target, as the kernel would judge it, from
    /// /proc (for what the kernel cannot see: sockets and libraries older than the capture).</summary>
    /// <param name="traced">The live set of a <see cref="TargetScope.Processes"/> target (followed forks included).</param>
    public bool Matches(int pid, Func<int, bool>? traced = null)
    {
        try
        {
            return InScope(pid, traced)
                && (Uid is not { } uid || ProcessFacts.Uid(pid) == uid)
                && (Comm is not { } comm || ProcessFacts.Comm(pid) == comm);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // gone while we looked
        }
    }

    /// <summary>Whether a running process is in the target's scope (pids, tree, cgroup), before
    /// the uid and name filters: whose files and sockets matter.</summary>
    public bool InScope(int pid, Func<int, bool>? traced = null)
    {
        try
        {
            return Scope switch
            {
                TargetScope.Processes => traced?.Invoke(pid) ?? Pids.Contains(pid),
                TargetScope.Cgroup => InCgroup(pid),
                _ => true,
            };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private bool InCgroup(int pid)
    {
        var path = ProcessFacts.CgroupPath(pid);
        var target = CgroupDirectory![CgroupNames.Hierarchy.Length..].TrimEnd('/');
        return path is not null && (target.Length == 0 || path == target || path.StartsWith(target + "/", StringComparison.Ordinal));
    }

    /// <summary>"pid 1234, uid 0", as the ready line shows it; empty for everything.</summary>
    public string Describe()
    {
        var parts = new List<string>();
        if (Scope == TargetScope.Processes)
        {
            parts.Add(FollowForks ? $"the command (pid {string.Join(", ", Pids)}) and its children" : $"pid {string.Join(", ", Pids)}");
        }

        if (Scope == TargetScope.Cgroup)
        {
            parts.Add(Container is { } c ? $"container {c}" : $"cgroup {CgroupDirectory}");
        }

        if (Uid is { } uid)
        {
            parts.Add($"uid {uid}");
        }

        if (Comm is { } comm)
        {
            parts.Add($"comm {comm}");
        }

        return string.Join(", ", parts);
    }
}

/// <summary>enum tscope_scope.</summary>
public static class KernelScope
{
    public const uint All = 0;
    public const uint Pid = 1;
    public const uint Pids = 2;
    public const uint Cgroup = 3;
}
