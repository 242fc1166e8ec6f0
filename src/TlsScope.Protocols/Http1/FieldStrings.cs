using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace TlsScope.Protocols.Http1;

/// <summary>
/// The strings of recent header names and values (and targets and reasons), reused when the same
/// bytes come again: a keep-alive connection repeats almost every field of every message (a
/// client's Host, User-Agent and Accept; a server's Server, Content-Type and Connection), and
/// connections to one service repeat each other's. Each would otherwise be a new string per
/// message, and the outputs recognise a string they wrote before by the object. A direct-mapped
/// table: a miss costs one string, as before, and the table never grows. One thread at a time:
/// a flow tracker shares one among all its parsers.
/// </summary>
public sealed class FieldStrings
{
    private const int MaxCachedLength = 256;

    private readonly string?[] _slots;
    private readonly int _shift; // the hash's top bits index the table

    /// <param name="slots">Table size, a power of two: room for the distinct fields in use at once.</param>
    public FieldStrings(int slots = 64)
    {
        if (slots <= 0 || (slots & (slots - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(slots), slots, "a power of two");
        }

        _slots = new string?[slots];
        _shift = 64 - BitOperations.Log2((uint)slots);
    }

    /// <summary>The Latin-1 text of <paramref name="bytes"/>, from the table when it holds it.</summary>
    public string Get(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length is 0 or > MaxCachedLength)
        {
            return bytes.IsEmpty ? "" : Encoding.Latin1.GetString(bytes);
        }

        ref string? slot = ref _slots[_slots.Length == 1 ? 0 : (int)(Hash(bytes) >> _shift)];
        if (slot is { } known && Ascii.Equals(bytes, known))
        {
            return known;
        }

        var text = Encoding.Latin1.GetString(bytes);
        slot = text;
        return text;
    }

    /// <summary>The length and the first, middle and last eight bytes (or fewer): enough to tell
    /// the fields in use apart (paths differing in an id mostly differ in the middle), cheap to compute.</summary>
    private static ulong Hash(ReadOnlySpan<byte> bytes)
    {
        ulong head, tail;
        if (bytes.Length >= 8)
        {
            head = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
            tail = BinaryPrimitives.ReadUInt64LittleEndian(bytes[^8..]);
            head ^= BitOperations.RotateLeft(BinaryPrimitives.ReadUInt64LittleEndian(bytes[((bytes.Length - 8) / 2)..]), 29);
        }
        else
        {
            head = tail = 0;
            foreach (var b in bytes)
            {
                head = (head << 8) | b;
            }
        }

        return (head ^ (tail * 0x9E3779B97F4A7C15UL) ^ (ulong)bytes.Length) * 0xFF51AFD7ED558CCDUL;
    }
}
