using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Unicode;

namespace TlsScope.Bpf.Elf;

/// <summary>
/// Functions keyed by their UTF-8 name bytes, names left where they are in the file's string
/// tables. A large executable (node: ~185k symbols) is read at its exec while the program is held,
/// so building must be cheap, and on a virtual machine random memory access is what costs: entries
/// are appended in order, then <see cref="Seal"/> sorts (hash, entry) keys with a radix sort, and a
/// lookup is a binary search. Duplicate names are resolved by the lookup, not while building.
/// Written only while the file is read, read-only (and thread-safe) after <see cref="Seal"/>.
/// </summary>
internal sealed class FunctionTable
{
    private readonly List<byte[]> _strings = [];
    private Entry[] _entries;
    private int _count;
    private long[] _keys = []; // hash << 32 | entry index, by hash, entries of one hash in the order added
    private Names? _names; // made on first enumeration

    public FunctionTable(int expectedCount)
    {
        // Typically about half of all symbols are functions.
        _entries = GC.AllocateUninitializedArray<Entry>(Math.Clamp(expectedCount / 2, 8, 1 << 20));
    }

    /// <summary>How many distinct names.</summary>
    public int Count => DistinctNames().Count;

    /// <summary>Keeps a string table for the names added from it; returns its number.</summary>
    public int AddStrings(byte[] strings)
    {
        _strings.Add(strings);
        return _strings.Count - 1;
    }

    /// <summary>Adds a function named by bytes of string table <paramref name="source"/>. Of the
    /// functions of one name, a lookup finds the one of lowest <paramref name="rank"/>, the first
    /// added among equals.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot while reading; see ElfFileReader.AddFunctions
    public void Add(int source, int nameStart, int nameLength, ulong address, ulong size, ulong fileOffset, int rank)
    {
        if (_count == _entries.Length)
        {
            Array.Resize(ref _entries, checked(_entries.Length * 2));
        }

        var hash = Hash(_strings[source].AsSpan(nameStart, nameLength));
        _entries[_count++] = new Entry(address, size, fileOffset, nameStart, nameLength, hash, (ushort)source, (byte)rank);
    }

    /// <summary>Ends building: the lookup keys, sorted by hash with a stable radix sort (three
    /// passes of 11 bits cover the 31-bit hash), so equal hashes stay in the order added.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Seal()
    {
        var keys = new long[_count];
        for (var i = 0; i < _count; i++)
        {
            keys[i] = ((long)_entries[i].Hash << 32) | (uint)i;
        }

        var other = new long[_count];
        Span<int> counts = stackalloc int[1 << 11];
        for (var shift = 32; shift < 64; shift += 11)
        {
            counts.Clear();
            foreach (var key in keys)
            {
                counts[(int)(key >>> shift) & 0x7ff]++;
            }

            var total = 0;
            for (var d = 0; d < counts.Length; d++)
            {
                (counts[d], total) = (total, total + counts[d]);
            }

            foreach (var key in keys)
            {
                other[counts[(int)(key >>> shift) & 0x7ff]++] = key;
            }

            (keys, other) = (other, keys);
        }
        _keys = keys;
        Array.Resize(ref _entries, _count); // kept for the run: no spare capacity
    }

    public bool TryGet(string name, out ElfFunction function)
    {
        function = default;
        var buffer = name.Length <= 128 ? stackalloc byte[128 * 3] : new byte[Encoding.UTF8.GetMaxByteCount(name.Length)];
        // A string that is not valid UTF-16 cannot equal any symbol name.
        if (Utf8.FromUtf16(name, buffer, out _, out var length, replaceInvalidSequences: false) != OperationStatus.Done)
        {
            return false;
        }

        var bytes = buffer[..length];
        var best = Find(bytes, Hash(bytes));
        if (best < 0)
        {
            return false;
        }

        var e = _entries[best];
        function = new ElfFunction(name, e.Address, e.Size, e.FileOffset);
        return true;
    }

    /// <summary>One function per name, the one a lookup of that name finds, in the order the
    /// names first appear in the file (.dynsym, then .symtab).</summary>
    public IEnumerable<ElfFunction> Enumerate()
    {
        var names = DistinctNames();
        for (var i = 0; i < _count; i++)
        {
            if (names.Winner[i] >= 0)
            {
                var e = _entries[names.Winner[i]];
                yield return new ElfFunction(Encoding.UTF8.GetString(Name(e)), e.Address, e.Size, e.FileOffset);
            }
        }
    }

    /// <summary>The entry a name resolves to (lowest rank, then first added), or -1.</summary>
    private int Find(ReadOnlySpan<byte> name, int hash)
    {
        int low = 0, high = _keys.Length; // the first key of this hash: a lower bound search
        while (low < high)
        {
            var middle = (int)((uint)(low + high) >> 1);
            if ((int)(_keys[middle] >> 32) < hash)
            {
                low = middle + 1;
            }
            else
            {
                high = middle;
            }
        }

        var best = -1;
        for (var k = low; k < _keys.Length && (int)(_keys[k] >> 32) == hash; k++)
        {
            var index = (int)(uint)_keys[k];
            if (Name(_entries[index]).SequenceEqual(name) && (best < 0 || _entries[index].Rank < _entries[best].Rank))
            {
                best = index; // keys of one hash are in the order added: an equal rank keeps the first
            }
        }
        return best;
    }

    /// <summary>For the first entry of each name, the entry that name resolves to; -1 for every
    /// other entry. Within a run of one hash the keys are in the order added, so the first of a
    /// name in the run is its first in the file.</summary>
    private Names DistinctNames()
    {
        if (Volatile.Read(ref _names) is { } known)
        {
            return known;
        }

        var winner = new int[_count];
        var count = 0;
        for (var start = 0; start < _keys.Length;)
        {
            var end = start + 1;
            while (end < _keys.Length && (_keys[end] >> 32) == (_keys[start] >> 32))
            {
                end++;
            }

            for (var k = start; k < end; k++)
            {
                var index = (int)(uint)_keys[k];
                var first = true;
                for (var j = start; j < k && first; j++)
                {
                    first = !Name(_entries[(int)(uint)_keys[j]]).SequenceEqual(Name(_entries[index]));
                }

                if (!first)
                {
                    winner[index] = -1;
                    continue;
                }

                var best = index; // as Find picks: the lowest rank, the first added among equals
                for (var j = k + 1; j < end; j++)
                {
                    var other = (int)(uint)_keys[j];
                    if (_entries[other].Rank < _entries[best].Rank && Name(_entries[other]).SequenceEqual(Name(_entries[index])))
                    {
                        best = other;
                    }
                }

                winner[index] = best;
                count++;
            }
            start = end;
        }

        var names = new Names(winner, count);
        Volatile.Write(ref _names, names);
        return names;
    }

    private sealed record Names(int[] Winner, int Count);

    private ReadOnlySpan<byte> Name(in Entry e) => _strings[e.Source].AsSpan(e.NameStart, e.NameLength);

    /// <summary>A multiply-rotate hash over 8-byte words; good enough spread for symbol names.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Hash(ReadOnlySpan<byte> bytes)
    {
        const ulong Multiplier = 0x9E3779B97F4A7C15; // 2^64 divided by the golden ratio
        var h = (ulong)bytes.Length * Multiplier;
        while (bytes.Length >= 8)
        {
            h = BitOperations.RotateLeft((h ^ BinaryPrimitives.ReadUInt64LittleEndian(bytes)) * Multiplier, 29);
            bytes = bytes[8..];
        }
        ulong tail = 0;
        for (var i = 0; i < bytes.Length; i++)
        {
            tail |= (ulong)bytes[i] << (8 * i);
        }

        h = (h ^ tail) * Multiplier;
        h ^= h >> 32;
        return (int)h & int.MaxValue;
    }

    private readonly record struct Entry(ulong Address, ulong Size, ulong FileOffset, int NameStart, int NameLength, int Hash, ushort Source, byte Rank);
}
