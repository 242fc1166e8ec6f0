using System.Buffers;
using System.Text;

namespace TlsScope.Protocols.Hpack;

/// <summary>
/// HPACK decoder (RFC 7541) for one direction of one HTTP/2 connection, kept for the
/// connection's whole life because the dynamic table spans header blocks.
/// <para>
/// Names and values are decoded from octets as UTF-8; invalid sequences become U+FFFD
/// (replacement) rather than failing, since an observer must show what was sent.
/// </para>
/// <para>
/// Never throws on malformed input. The first error makes the decoder <see cref="Broken"/>:
/// HPACK state cannot be resynchronised once a block is lost or misread, so every later
/// <see cref="TryDecode"/> fails too. Header fields decoded before an error stay in the list.
/// </para>
/// </summary>
public sealed class HpackDecoder
{
    /// <summary>RFC 7541 Section 4.1: each entry costs its name and value octets plus 32.</summary>
    public const int EntryOverhead = 32;

    /// <summary>SETTINGS_HEADER_TABLE_SIZE's initial value (RFC 9113 Section 6.5.2).</summary>
    public const int DefaultTableSize = 4096;

    // Ring buffer of dynamic entries; _head is the slot of the newest entry.
    private Entry[] _entries = new Entry[16];
    private int _head;
    private int _count;

    /// <summary>Creates a decoder whose table limit and current maximum both start at <paramref name="maxTableSizeLimit"/>.</summary>
    public HpackDecoder(int maxTableSizeLimit = DefaultTableSize)
    {
        MaxTableSizeLimit = Math.Max(0, maxTableSizeLimit);
        MaxDynamicTableSize = MaxTableSizeLimit;
    }

    /// <summary>Current maximum size of the dynamic table, as last set by a size update.</summary>
    public int MaxDynamicTableSize { get; private set; }

    /// <summary>The protocol limit (SETTINGS_HEADER_TABLE_SIZE) that size updates may not exceed.</summary>
    public int MaxTableSizeLimit { get; private set; }

    /// <summary>Current size of the dynamic table in octets (RFC 7541 Section 4.1).</summary>
    public int DynamicTableSize { get; private set; }

    /// <summary>Number of entries in the dynamic table.</summary>
    public int DynamicTableCount => _count;

    /// <summary>True after any decoding error; the decoder then refuses all further blocks.</summary>
    public bool Broken { get; private set; }

    /// <summary>
    /// Applies a SETTINGS_HEADER_TABLE_SIZE value from the peer that receives these blocks.
    /// If the current maximum exceeds the new limit it is lowered (and entries evicted) at
    /// once: the encoder must shrink its table to comply anyway, and a passive observer cannot
    /// know exactly when the setting was acknowledged.
    /// </summary>
    public void SetMaxTableSizeLimit(int limit)
    {
        MaxTableSizeLimit = Math.Max(0, limit);
        if (MaxDynamicTableSize > MaxTableSizeLimit)
        {
            MaxDynamicTableSize = MaxTableSizeLimit;
            EvictTo(MaxDynamicTableSize);
        }
    }

    /// <summary>
    /// Entry at a 1-based dynamic index (1 = newest), for tests and diagnostics.
    /// </summary>
    public (string Name, string Value) GetDynamicEntry(int index)
    {
        if (index < 1 || index > _count)
        {
            throw new ArgumentOutOfRangeException(nameof(index));
        }

        Entry e = _entries[(_head + index - 1) % _entries.Length];
        return (e.Name, e.Value);
    }

    /// <summary>
    /// Decodes one complete header block (HEADERS plus any CONTINUATION payloads, concatenated)
    /// and appends its fields to <paramref name="headers"/> in wire order.
    /// Returns false with a one-line <paramref name="error"/> on malformed input; never throws.
    /// </summary>
    public bool TryDecode(ReadOnlySpan<byte> headerBlock, List<(string Name, string Value)> headers, out string? error)
    {
        ArgumentNullException.ThrowIfNull(headers);
        if (Broken)
        {
            error = "HPACK decoder is broken by an earlier error";
            return false;
        }

        error = Decode(headerBlock, headers);
        if (error is not null)
        {
            Broken = true;
            return false;
        }

        return true;
    }

    private string? Decode(ReadOnlySpan<byte> block, List<(string Name, string Value)> headers)
    {
        int pos = 0;
        bool fieldSeen = false;
        while (pos < block.Length)
        {
            byte b = block[pos];
            string? error;
            if ((b & 0x80) != 0)
            {
                // Indexed header field (Section 6.1).
                if (!TryReadInteger(block, ref pos, 7, out int index, out error))
                {
                    return error;
                }

                if (!TryGetIndexed(index, out var field, out _, out error))
                {
                    return error;
                }

                headers.Add(field);
                fieldSeen = true;
            }
            else if ((b & 0xC0) == 0x40)
            {
                // Literal with incremental indexing (Section 6.2.1).
                if (!TryReadLiteral(block, ref pos, 6, out var field, out int nameOctets, out int valueOctets, out error))
                {
                    return error;
                }

                headers.Add(field);
                Add(field.Name, field.Value, nameOctets, valueOctets);
                fieldSeen = true;
            }
            else if ((b & 0xE0) == 0x20)
            {
                // Dynamic table size update (Section 6.3): only before the first field.
                if (fieldSeen)
                {
                    return $"dynamic table size update after a header field at offset {pos}";
                }

                if (!TryReadInteger(block, ref pos, 5, out int size, out error))
                {
                    return error;
                }

                if (size > MaxTableSizeLimit)
                {
                    return $"dynamic table size update to {size} exceeds the limit {MaxTableSizeLimit}";
                }

                MaxDynamicTableSize = size;
                EvictTo(size);
            }
            else
            {
                // Literal without indexing (0000xxxx) or never indexed (0001xxxx), Sections 6.2.2-6.2.3.
                if (!TryReadLiteral(block, ref pos, 4, out var field, out _, out _, out error))
                {
                    return error;
                }

                headers.Add(field);
                fieldSeen = true;
            }
        }

        return null;
    }

    private bool TryReadLiteral(ReadOnlySpan<byte> block, ref int pos, int prefixBits, out (string Name, string Value) field, out int nameOctets, out int valueOctets, out string? error)
    {
        field = default;
        nameOctets = 0;
        valueOctets = 0;
        if (!TryReadInteger(block, ref pos, prefixBits, out int nameIndex, out error))
        {
            return false;
        }

        string name;
        if (nameIndex == 0)
        {
            if (!TryReadString(block, ref pos, out name, out nameOctets, out error))
            {
                return false;
            }
        }
        else
        {
            if (!TryGetIndexed(nameIndex, out var indexed, out nameOctets, out error))
            {
                return false;
            }

            name = indexed.Name;
        }

        if (!TryReadString(block, ref pos, out string value, out valueOctets, out error))
        {
            return false;
        }

        field = (name, value);
        return true;
    }

    private bool TryGetIndexed(int index, out (string Name, string Value) field, out int nameOctets, out string? error)
    {
        nameOctets = 0;
        if (index == 0)
        {
            field = default;
            error = "header field index 0 is invalid";
            return false;
        }

        if (index <= HpackStaticTable.Count)
        {
            field = HpackStaticTable.Get(index);
            nameOctets = field.Name.Length; // static names are ASCII
            error = null;
            return true;
        }

        int dynamicIndex = index - HpackStaticTable.Count;
        if (dynamicIndex > _count)
        {
            field = default;
            error = $"header field index {index} is beyond the tables ({HpackStaticTable.Count} static + {_count} dynamic)";
            return false;
        }

        Entry e = _entries[(_head + dynamicIndex - 1) % _entries.Length];
        field = (e.Name, e.Value);
        nameOctets = e.NameOctets;
        error = null;
        return true;
    }

    /// <summary>
    /// Reads an integer with an N-bit prefix (RFC 7541 Section 5.1) starting at block[pos], whose
    /// high (8 - N) bits are ignored. Rejects values above int.MaxValue, truncation, and encodings
    /// with more continuation octets than any int32 needs.
    /// </summary>
    public static bool TryReadInteger(ReadOnlySpan<byte> block, ref int pos, int prefixBits, out int value, out string? error)
    {
        value = 0;
        if (pos >= block.Length)
        {
            error = "truncated integer";
            return false;
        }

        int mask = (1 << prefixBits) - 1;
        int prefix = block[pos] & mask;
        int p = pos + 1;
        if (prefix < mask)
        {
            value = prefix;
            pos = p;
            error = null;
            return true;
        }

        long result = prefix;
        int shift = 0;
        while (true)
        {
            if (p >= block.Length)
            {
                error = "truncated integer";
                return false;
            }

            // Five continuation octets carry 35 bits, enough for any int32; more is over-long.
            if (shift > 28)
            {
                error = "integer encoding too long";
                return false;
            }

            byte b = block[p++];
            result += (long)(b & 0x7F) << shift;
            if (result > int.MaxValue)
            {
                error = "integer overflows int32";
                return false;
            }

            shift += 7;
            if ((b & 0x80) == 0)
            {
                break;
            }
        }

        value = (int)result;
        pos = p;
        error = null;
        return true;
    }

    private static bool TryReadString(ReadOnlySpan<byte> block, ref int pos, out string value, out int octets, out string? error)
    {
        value = "";
        octets = 0;
        if (pos >= block.Length)
        {
            error = "truncated string literal";
            return false;
        }

        bool huffman = (block[pos] & 0x80) != 0;
        if (!TryReadInteger(block, ref pos, 7, out int length, out error))
        {
            return false;
        }

        if (length > block.Length - pos)
        {
            error = $"truncated string literal: {length} octets declared, {block.Length - pos} left";
            return false;
        }

        ReadOnlySpan<byte> raw = block.Slice(pos, length);
        pos += length;
        if (!huffman)
        {
            value = Encoding.UTF8.GetString(raw);
            octets = length;
            error = null;
            return true;
        }

        int max = HpackHuffman.MaxDecodedLength(length);
        byte[]? rented = null;
        Span<byte> buffer = max <= 512 ? stackalloc byte[512] : (rented = ArrayPool<byte>.Shared.Rent(max));
        try
        {
            if (!HpackHuffman.TryDecode(raw, buffer, out int written, out error))
            {
                return false;
            }

            value = Encoding.UTF8.GetString(buffer[..written]);
            octets = written;
            return true;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private void Add(string name, string value, int nameOctets, int valueOctets)
    {
        // Sizes count the octets on the wire, not the (replacement-decoded) strings.
        long size = (long)nameOctets + valueOctets + EntryOverhead;
        if (size > MaxDynamicTableSize)
        {
            // Section 4.4: an entry larger than the table empties it and is not added.
            EvictTo(0);
            return;
        }

        EvictTo(MaxDynamicTableSize - (int)size);
        if (_count == _entries.Length)
        {
            var bigger = new Entry[_entries.Length * 2];
            for (int i = 0; i < _count; i++)
            {
                bigger[i] = _entries[(_head + i) % _entries.Length];
            }

            _entries = bigger;
            _head = 0;
        }

        _head = (_head - 1 + _entries.Length) % _entries.Length;
        _entries[_head] = new Entry(name, value, nameOctets, (int)size);
        _count++;
        DynamicTableSize += (int)size;
    }

    private void EvictTo(int target)
    {
        while (_count > 0 && DynamicTableSize > target)
        {
            int oldest = (_head + _count - 1) % _entries.Length;
            DynamicTableSize -= _entries[oldest].Size;
            _entries[oldest] = default;
            _count--;
        }
    }

    private readonly record struct Entry(string Name, string Value, int NameOctets, int Size);
}
