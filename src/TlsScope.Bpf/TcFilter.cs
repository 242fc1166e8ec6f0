using TlsScope.Bpf.Native;

namespace TlsScope.Bpf;

/// <summary>
/// One TC BPF filter of ours on an interface's ingress or egress (clsact). Unlike uprobes, a
/// TC filter outlives the process that attached it, so every filter of TlsScope sits at one
/// fixed handle and priority: <see cref="RemoveIfPresent"/> finds a killed run's filter there.
/// </summary>
public sealed unsafe class TcFilter : IDisposable
{
    /// <summary>Our mark: "tc" filter handle 1 at priority 0x7ec5 ("TlsScope").</summary>
    public const uint Handle = 1;
    public const uint Priority = 0x7ec5;

    private readonly int _ifIndex;
    private readonly bool _egress;
    private bool _detached;

    private TcFilter(int ifIndex, bool egress)
    {
        _ifIndex = ifIndex;
        _egress = egress;
    }

    /// <summary>Attaches <paramref name="program"/> (a "tc" program of a loaded object),
    /// creating the clsact qdisc when the interface has none. The qdisc is never removed: other
    /// tools may have hung filters on it meanwhile, and an empty clsact changes nothing.</summary>
    public static TcFilter Attach(BpfObject obj, string program, int ifIndex, bool egress)
    {
        var hook = Hook(ifIndex, egress);
        var rc = LibBpf.TcHookCreate(&hook);
        if (rc < 0 && rc != -17 /* EEXIST: a clsact qdisc is there already */)
        {
            throw BpfException.FromErrno($"create clsact qdisc on interface {ifIndex}", -rc);
        }

        var opts = Opts();
        opts.ProgFd = LibBpf.ProgramFd(obj.Program(program));
        var arc = LibBpf.TcAttach(&hook, &opts);
        if (arc < 0)
        {
            throw BpfException.FromErrno($"attach tc {(egress ? "egress" : "ingress")} filter on interface {ifIndex}", -arc);
        }

        return new TcFilter(ifIndex, egress);
    }

    /// <summary>Whether a filter of ours (any run's) is on that hook.</summary>
    public static bool IsPresent(int ifIndex, bool egress)
    {
        var hook = Hook(ifIndex, egress);
        var opts = Opts();
        return LibBpf.TcQuery(&hook, &opts) == 0;
    }

    /// <summary>Removes a filter of ours from that hook; true when there was one.</summary>
    public static bool RemoveIfPresent(int ifIndex, bool egress)
    {
        if (!IsPresent(ifIndex, egress))
        {
            return false;
        }

        var hook = Hook(ifIndex, egress);
        var opts = Opts();
        return LibBpf.TcDetach(&hook, &opts) == 0;
    }

    private static LibBpf.TcHook Hook(int ifIndex, bool egress) => new()
    {
        Size = (nuint)sizeof(LibBpf.TcHook),
        IfIndex = ifIndex,
        AttachPoint = egress ? 2 : 1,
    };

    private static LibBpf.TcOpts Opts() => new()
    {
        Size = (nuint)sizeof(LibBpf.TcOpts),
        Handle = Handle,
        Priority = Priority,
    };

    /// <summary>Detaches the filter.</summary>
    public void Dispose()
    {
        if (_detached)
        {
            return;
        }

        _detached = true;
        RemoveIfPresent(_ifIndex, _egress);
    }
}
