using System.Runtime.InteropServices;

namespace TlsScope.Capture.Events;

// Blittable mirrors of bpf/include/events.h. A test pins their sizes and offsets to the header.

public static class EventKind
{
    public const uint Data = 1;
    public const uint Close = 2;
}

[Flags]
public enum ChunkFlags : uint
{
    None = 0,
    First = 1,
    Last = 2,
    Truncated = 4,
    FdInferred = 8,
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

[StructLayout(LayoutKind.Sequential)]
public struct EventHead
{
    public uint Kind;
    public ChunkFlags Flags;
    public ulong TimeNs;
    public ulong ConnId;
}

[StructLayout(LayoutKind.Sequential)]
public unsafe struct ChunkHeader
{
    public const int CommLength = 16;
    public const int DataMax = 32768;

    public EventHead Head;
    public ulong StartNs;
    public ulong StreamOffset;
    public uint Pid;
    public uint Tid;
    public uint Uid;
    public int Fd;
    public uint Len;
    public uint CallLen;
    public uint Dropped;
    public uint Library;
    public uint Direction;
    public uint Pad;
    public SockAddr Addr;
    public fixed byte Comm[CommLength];
}

[StructLayout(LayoutKind.Sequential)]
public struct ConnCloseRecord
{
    public EventHead Head;
    public ulong ReadBytes;
    public ulong WriteBytes;
    public uint Pid;
    public uint Tid;
}

[StructLayout(LayoutKind.Sequential)]
public struct KernelStats
{
    public ulong Chunks;
    public ulong Bytes;
    public ulong LostRecords;
    public ulong LostBytes;
    public ulong UnreadableBytes;
    public ulong TruncatedBytes;
    public ulong BusyDrops;

    public void Add(in KernelStats o)
    {
        Chunks += o.Chunks;
        Bytes += o.Bytes;
        LostRecords += o.LostRecords;
        LostBytes += o.LostBytes;
        UnreadableBytes += o.UnreadableBytes;
        TruncatedBytes += o.TruncatedBytes;
        BusyDrops += o.BusyDrops;
    }

    /// <summary>Anything transferred and not captured, other than on purpose.</summary>
    public readonly bool AnyLoss => LostRecords + LostBytes + UnreadableBytes + BusyDrops > 0;
}

[StructLayout(LayoutKind.Sequential)]
public unsafe struct KernelConfig
{
    public uint TargetPid;
    public uint TargetUid;
    public uint FilterUid;
    public uint FilterComm;
    public uint MaxPayload;
    public uint WakeupBytes;
    public fixed byte Comm[ChunkHeader.CommLength];
}
