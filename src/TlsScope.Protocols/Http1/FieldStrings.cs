using System.Buffers.Binary;
using System.Text;

namespace TlsScope.Protocols.Http1;

/// <summary>
/// The strings of a connection's recent header names and values, reused when the same bytes come
/// again: a keep-alive connection repeats almost every field of every message (a client's Host,
/// User-Agent and Accept; a server's Server, Content-Type and Connection), and each would
/// otherwise be a new string per message. A small direct-mapped table: a miss costs one string,
/// as before, and the table never grows.
/// </summary>
internal sealed class FieldStrings
{
    private const int Slots = 64; // a power of two
    private const int MaxCachedLength = 256;

    private readonly string?[] _slots = new string?[Slots];

    /// <summary>The Latin-1 text of <paramref name="bytes"/>, from the table when it holds it.</summary>
    public string Get(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length is 0 or > MaxCachedLength)
        {
            return bytes.IsEmpty ? "" : Encoding.Latin1.GetString(bytes);
        }

        ref string? slot = ref _slots[Slot(bytes)];
        if (slot is { } known && Ascii.Equals(bytes, known))
        {
            return known;
        }

        var text = Encoding.Latin1.GetString(bytes);
        slot = text;
        return text;
    }

    /// <summary>The length and the first and last eight bytes (or fewer): enough to tell a
    /// connection's dozen fields apart, cheap to compute.</summary>
    private static int Slot(ReadOnlySpan<byte> bytes)
    {
        ulong head, tail;
        if (bytes.Length >= 8)
        {
            head = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
            tail = BinaryPrimitives.ReadUInt64LittleEndian(bytes[^8..]);
        }
        else
        {
            head = tail = 0;
            foreach (var b in bytes)
            {
                head = (head << 8) | b;
            }
        }

        ulong mixed = (head ^ (tail * 0x9E3779B97F4A7C15UL) ^ (ulong)bytes.Length) * 0xFF51AFD7ED558CCDUL;
        return (int)(mixed >> 58) & (Slots - 1);
    }
}
