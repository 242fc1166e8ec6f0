using System.Buffers.Binary;
using TlsScope.Sources.Tls.Keys.Layout;

namespace TlsScope.Sources.Tls.Keys.Calibration;

/// <summary>Reads a layout's slots from a connection object the way the kernel does: used to
/// prove a layout against a live handshake, here or in another process.</summary>
public static class LayoutReader
{
    /// <summary>Reads the slots whose bit is set in <paramref name="slotMask"/> (default: all).</summary>
    public static (byte[][] Slots, uint ReadMask) Read(IProcessMemory memory, ulong ssl, KeyLayout layout, uint slotMask = uint.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(layout);
        var slots = new byte[layout.Slots.Count][];
        var mask = 0u;
        for (var i = 0; i < slots.Length; i++)
        {
            slots[i] = new byte[KernelKeyLayout.SlotSize];
            var slot = layout.Slots[i];
            if ((slotMask & (1u << i)) != 0
                && Resolve(memory, ssl, slot.Path) is { } address
                && memory.Read(address, slots[i].AsSpan(0, slot.Size)) == slot.Size)
            {
                mask |= 1u << i;
            }
        }
        return (slots, mask);
    }

    /// <summary>The address of the path's value, following its pointers; null on a null or
    /// unreadable pointer.</summary>
    public static ulong? Resolve(IProcessMemory memory, ulong ssl, KeyPath path)
    {
        Span<byte> pointer = stackalloc byte[8];
        var address = ssl;
        for (var i = 0; i < path.Deref; i++)
        {
            if (memory.Read(address + path[i], pointer) != 8)
            {
                return null;
            }

            address = BinaryPrimitives.ReadUInt64LittleEndian(pointer);
            if (address == 0)
            {
                return null;
            }
        }
        return address + path[path.Deref];
    }
}
