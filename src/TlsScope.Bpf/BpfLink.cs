using System.Runtime.InteropServices;
using TlsScope.Bpf.Native;

namespace TlsScope.Bpf;

/// <summary>An attached program; disposing it detaches. Dispose links before their object.</summary>
public sealed unsafe class BpfLink : SafeHandle
{
    private BpfLink(nint h, string description) : base(0, ownsHandle: true)
    {
        SetHandle(h);
        Description = description;
    }

    public string Description { get; }

    public override bool IsInvalid => handle == 0;

    /// <summary>Attaches a uprobe or uretprobe at a file offset of a binary. pid -1 traces
    /// every process; a pid installs the breakpoint in that process only.</summary>
    public static BpfLink AttachUprobe(BpfObject obj, string program, string binaryPath, ulong fileOffset,
        bool isReturn, int pid = -1, ulong cookie = 0)
    {
        var opts = new LibBpf.UprobeOpts
        {
            Size = (nuint)sizeof(LibBpf.UprobeOpts),
            BpfCookie = cookie,
            RetProbe = isReturn ? (byte)1 : (byte)0,
        };
        var h = LibBpf.AttachUprobe(obj.Program(program), pid, binaryPath, (nuint)fileOffset, &opts);
        if (h == 0)
        {
            throw BpfException.FromErrno($"attach {(isReturn ? "uretprobe" : "uprobe")} {program} to {binaryPath}+0x{fileOffset:x}", Marshal.GetLastPInvokeError());
        }

        return new BpfLink(h, $"{program} {binaryPath}+0x{fileOffset:x}");
    }

    public static BpfLink AttachTracepoint(BpfObject obj, string program, string category, string name)
    {
        var h = LibBpf.AttachTracepoint(obj.Program(program), category, name);
        if (h == 0)
        {
            throw BpfException.FromErrno($"attach tracepoint {category}/{name}", Marshal.GetLastPInvokeError(),
                Tracefs.IsMounted ? null : "tracefs is not mounted");
        }

        return new BpfLink(h, $"{program} {category}/{name}");
    }

    /// <summary>A raw tracepoint (the tracepoint's own arguments, e.g. sched_process_fork's
    /// parent and child tasks), attached by name; no tracefs needed.</summary>
    public static BpfLink AttachRawTracepoint(BpfObject obj, string program, string name)
    {
        var h = LibBpf.AttachRawTracepoint(obj.Program(program), name);
        if (h == 0)
        {
            throw BpfException.FromErrno($"attach raw tracepoint {name}", Marshal.GetLastPInvokeError());
        }

        return new BpfLink(h, $"{program} raw {name}");
    }

    protected override bool ReleaseHandle()
    {
        LibBpf.LinkDestroy(handle);
        return true;
    }
}
