using System.Runtime.InteropServices;
using TlsScope.Engine.Kernel;

namespace TlsScope.Sources.Packets;

// Blittable mirrors of bpf/include/events.h. A test pins their sizes and offsets to the header.

[Flags]
public enum PacketFlags : uint
{
    None = 0,
    Egress = 1,
    Owned = 2,
}

[StructLayout(LayoutKind.Sequential)]
public struct PacketHeader
{
    public const int Max = 65536;

    public EventHead Head; // Head.Flags holds PacketFlags; Head.Task is the socket's owner
    public uint IfIndex;
    public uint Len;
    public uint CapLen;
    public uint Pad;
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
