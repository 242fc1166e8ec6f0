using System.Runtime.InteropServices;

namespace TlsScope.Engine.Kernel;

// Blittable mirrors of bpf/include/events.h. A test pins their sizes and offsets to the header.

public static class EventKind
{
    public const uint Data = 1;
    public const uint Close = 2;
    public const uint Keys = 3;
    public const uint Packet = 4;
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

[StructLayout(LayoutKind.Sequential)]
public unsafe struct KernelConfig
{
    public const int CommLength = 16;

    public uint TargetPid;
    public uint TargetUid;
    public uint FilterUid;
    public uint FilterComm;
    public uint MaxPayload;
    public uint WakeupBytes;
    public uint Keys;
    public uint Pad;
    public fixed byte Comm[CommLength];
}

/// <summary>Per-CPU counters that add up (the kernel keeps one copy per CPU).</summary>
public interface ICounters<T> where T : struct
{
    void Add(in T other);
}

