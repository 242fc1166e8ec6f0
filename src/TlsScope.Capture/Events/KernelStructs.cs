using System.Runtime.InteropServices;

namespace TlsScope.Capture.Events;

// Blittable mirrors of bpf/include/events.h. A test pins their sizes and offsets to the header.

public static class EventKind
{
    public const uint Data = 1;
    public const uint Close = 2;
    public const uint Keys = 3;
    public const uint Packet = 4;
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
public struct KernelStats : ICounters<KernelStats>
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
    public uint Keys;
    public uint Pad;
    public fixed byte Comm[ChunkHeader.CommLength];
}

/// <summary>Per-CPU counters that add up (the kernel keeps one copy per CPU).</summary>
public interface ICounters<T> where T : struct
{
    void Add(in T other);
}

/// <summary>struct tscope_mem_path: follow <see cref="Deref"/> pointers, then read
/// <see cref="Size"/> bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct MemPath
{
    public const int Depth = 3;
    public fixed uint Off[Depth + 1];
    public uint Deref;
    public uint Size;
}

[StructLayout(LayoutKind.Sequential)]
public unsafe struct KernelKeyLayout
{
    public const int Slots = 12;
    public const int SlotSize = 64;
    public const int MaxLibraries = 256;

    // C# has no fixed arrays of structs: 12 paths written out, read through Slot(i).
    public MemPath Slot0, Slot1, Slot2, Slot3, Slot4, Slot5, Slot6, Slot7, Slot8, Slot9, Slot10, Slot11;
    public uint Valid;
    public uint VersionSlot;
    public uint ReadySlot12;
    public uint ReadySlot13;
    public uint HandshakeMask;
    public uint HandshakeReadySlot;

    public static ref MemPath Slot(ref KernelKeyLayout layout, int i)
    {
        if ((uint)i >= Slots)
            throw new ArgumentOutOfRangeException(nameof(i));
        return ref System.Runtime.CompilerServices.Unsafe.Add(ref layout.Slot0, i);
    }
}

[StructLayout(LayoutKind.Sequential)]
public unsafe struct KeysRecord
{
    public EventHead Head;
    public ulong Ssl;
    public uint Pid;
    public uint Tid;
    public uint Uid;
    public uint Library;
    public uint ReadMask;
    public uint Pad;
    public fixed byte Comm[ChunkHeader.CommLength];
    public fixed byte Slots[KernelKeyLayout.Slots * KernelKeyLayout.SlotSize];
}

[Flags]
public enum PacketFlags : uint
{
    None = 0,
    Egress = 1,
    Owned = 2,
}

[StructLayout(LayoutKind.Sequential)]
public unsafe struct PacketHeader
{
    public const int Max = 65536;

    public EventHead Head; // Head.Flags holds PacketFlags
    public uint IfIndex;
    public uint Len;
    public uint CapLen;
    public uint Pid;
    public uint Uid;
    public uint Pad;
    public fixed byte Comm[ChunkHeader.CommLength];
}

[StructLayout(LayoutKind.Sequential)]
public unsafe struct SocketOwner
{
    public uint Pid;
    public uint Uid;
    public fixed byte Comm[ChunkHeader.CommLength];
}

[StructLayout(LayoutKind.Sequential)]
public unsafe struct CommandLineRecord
{
    public const int Max = 256;
    public uint Len;
    public uint Pad;
    public fixed byte Args[Max];
}

[StructLayout(LayoutKind.Sequential)]
public struct PacketStats : ICounters<PacketStats>
{
    public ulong Packets;
    public ulong Bytes;
    public ulong LostPackets;
    public ulong Filtered;
    public ulong Truncated;

    public void Add(in PacketStats o)
    {
        Packets += o.Packets;
        Bytes += o.Bytes;
        LostPackets += o.LostPackets;
        Filtered += o.Filtered;
        Truncated += o.Truncated;
    }
}
