using System.Runtime.InteropServices;
using TlsScope.Engine.Kernel;

namespace TlsScope.Sources.Shell.Records;

// Blittable mirrors of bpf/include/shell_events.h. A test pins their sizes and offsets to the header.

public static class ShellKind
{
    public const uint Prompt = 16;
    public const uint Line = 17;
    public const uint End = 18;
    public const uint Exec = 19;
}

public enum ShellFamily : uint
{
    Bash = 1,
    Zsh = 2,
}

[Flags]
public enum LineFlags : uint
{
    None = 0,
    First = 1,
    Last = 2,
    Truncated = 4,
}

[Flags]
public enum PromptFlags : uint
{
    None = 0,
    Status = 1,
    LineCount = 2,
    InBuiltin = 4,
}

/// <summary>struct tscope_shell_who.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct WhoRecord
{
    public const int TtyLength = 32;
    public const int CwdDepth = 16;
    public const int CwdPart = 64;

    public uint ParentPid;
    public uint LoginUid;
    public uint SessionId;
    public uint CwdUsed;
    public uint CwdCut;
    public uint Pad;
    public fixed byte Tty[TtyLength];
    public fixed byte Cwd[CwdDepth * CwdPart];
}

/// <summary>struct tscope_shell_prompt.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct PromptRecord
{
    public EventHead Head;
    public ShellFamily Shell;
    public int Status;
    public int LineCount;
    public int InBuiltin;
    public uint Context;
    public uint Pad;
}

/// <summary>struct tscope_shell_line (data[] follows).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct LineRecord
{
    public const int Chunk = 4096;

    public EventHead Head;
    public ShellFamily Shell;
    public uint Offset;
    public uint Len;
    public uint Pad;
    public WhoRecord Who;
}

/// <summary>struct tscope_shell_end.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct EndRecord
{
    public EventHead Head;
    public int Status;
    public uint Pad;
}

/// <summary>struct tscope_shell_exec (filename[] and args[] follow).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct ExecAuditRecord
{
    public const int PathMax = 256;
    public const int ArgsMax = 8192;

    public EventHead Head;
    public uint ShellPid;
    public uint ArgsLen;
    public uint ArgsRead;
    public uint FilenameLen;
    public WhoRecord Who;
}

/// <summary>struct tscope_shell_layout: where a shell binary keeps what a prompt reads.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct ShellLayout
{
    public ulong Anchor;
    public ulong Status;
    public ulong LineCount;
    public ulong InBuiltin;
    public ShellFamily Shell;
    public uint Pad;
}

/// <summary>struct tscope_shell_stats.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct ShellStats : ICounters<ShellStats>
{
    public ulong Lines;
    public ulong Truncated;
    public ulong Lost;
    public ulong Execs;
    public ulong ArgsCut;
    public ulong Unreadable;

    public void Add(in ShellStats o)
    {
        Lines += o.Lines;
        Truncated += o.Truncated;
        Lost += o.Lost;
        Execs += o.Execs;
        ArgsCut += o.ArgsCut;
        Unreadable += o.Unreadable;
    }
}
