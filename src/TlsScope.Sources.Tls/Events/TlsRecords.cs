using System.Runtime.InteropServices;
using TlsScope.Engine.Kernel;
using TlsScope.Sources.Tls.Keys.Layout;

namespace TlsScope.Sources.Tls.Events;

// Blittable mirrors of bpf/include/events.h. A test pins their sizes and offsets to the header.

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
public unsafe struct ChunkHeader
{
    public const int DataMax = 32768;

    public EventHead Head;
    public ulong ConnId;
    public ulong StartNs;
    public ulong StreamOffset;
    public int Fd;
    public uint Len;
    public uint CallLen;
    public uint Dropped;
    public uint Library;
    public uint Direction;
    public SockAddr Addr;

    public readonly ChunkFlags Flags => (ChunkFlags)Head.Flags;
}

[StructLayout(LayoutKind.Sequential)]
public struct ConnCloseRecord
{
    public EventHead Head;
    public ulong ConnId;
    public ulong ReadBytes;
    public ulong WriteBytes;
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
public unsafe struct KeysRecord
{
    public EventHead Head;
    public ulong ConnId;
    public ulong Ssl;
    public uint Library;
    public uint ReadMask;
    public fixed byte Slots[KernelKeyLayout.Slots * KernelKeyLayout.SlotSize];
}

/// <summary>struct tscope_key_line: one secret a Go program passed to writeKeyLog.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct KeyLineRecord
{
    public const int LabelMax = 48;
    public const int RandomLength = 32;
    public const int SecretMax = 64;

    public EventHead Head;
    public uint Library;
    public uint LabelLen;
    public uint RandomLen;
    public uint SecretLen;
    public fixed byte Label[LabelMax];
    public fixed byte Random[RandomLength];
    public fixed byte Secret[SecretMax];
}
