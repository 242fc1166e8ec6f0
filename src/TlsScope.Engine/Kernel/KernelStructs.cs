using System.Runtime.InteropServices;

namespace TlsScope.Engine.Kernel;

// Blittable mirrors of bpf/include/events.h. A test pins their sizes and offsets to the header.

/// <summary>enum tscope_exec_flags (struct tscope_exec's head.flags).</summary>
public static class ExecFlags
{
    public const uint Held = 1;
}

public static class EventKind
{
    public const uint Data = 1;
    public const uint Close = 2;
    public const uint Keys = 3;
    public const uint Packet = 4;
    public const uint Exec = 5;
    public const uint KeyLine = 6;
}

[StructLayout(LayoutKind.Sequential)]
public unsafe struct SockAddr
{
    public ushort Family;
    public ushort LocalPort;
    public ushort RemotePort;
    public ushort Pad;
    public fixed byte LocalAddr[16];
    public fixed byte RemoteAddr[16];
}

/// <summary>struct tscope_task: whom an event is about.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct KernelTask
{
    public uint Pid;
    public uint Tid;
    public uint Uid;
    public uint Pad;
    public ulong CgroupId;
    public fixed byte Comm[KernelConfig.CommLength];
}

/// <summary>struct tscope_event_head: the envelope of every record, whatever its source.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct EventHead
{
    public uint Kind;
    public uint Flags;
    public ulong TimeNs;
    public KernelTask Task;
}

/// <summary>struct tscope_config: each object's .rodata filters and limits.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct KernelConfig
{
    public const int CommLength = 16;

    public uint Scope;
    public uint TargetPid;
    public uint TargetUid;
    public uint FilterUid;
    public uint FilterComm;
    public uint FollowForks;
    public uint ExecEvents;
    public uint HoldNew;
    public uint SelfPid;
    public uint MaxPayload;
    public uint WakeupBytes;
    public uint Keys;
    public fixed byte Comm[CommLength];
}

/// <summary>struct tscope_exec: a traced process executed a program.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct ExecRecord
{
    public const int PathMax = 256;

    public EventHead Head;
    public uint ExeMajor;
    public uint ExeMinor;
    public ulong ExeIno;
    public uint OldPid;
    public uint FilenameLen;
    public fixed byte Filename[PathMax];
}

/// <summary>Per-CPU counters that add up (the kernel keeps one copy per CPU).</summary>
public interface ICounters<T> where T : struct
{
    void Add(in T other);
}

