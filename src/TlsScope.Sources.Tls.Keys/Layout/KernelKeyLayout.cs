using System.Runtime.InteropServices;

namespace TlsScope.Sources.Tls.Keys.Layout;

// Blittable mirrors of bpf/include/events.h. A test pins their sizes and offsets to the header.

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
        {
            throw new ArgumentOutOfRangeException(nameof(i));
        }

        return ref System.Runtime.CompilerServices.Unsafe.Add(ref layout.Slot0, i);
    }
}
