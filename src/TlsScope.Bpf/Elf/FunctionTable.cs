using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Unicode;

namespace TlsScope.Bpf.Elf;

/// <summary>
/// Functions keyed by their UTF-8 name bytes. A large executable has ~150k function symbols;
/// keeping names as bytes in one buffer (instead of a string per symbol in a Dictionary) makes
/// building the table several times cheaper. Strings are created only for lookups' results and
/// when enumerating. Written only while the file is read, read-only afterwards.
/// </summary>
internal sealed class FunctionTable
{
    private byte[] _names;
    private int _namesLength;
    private Entry[] _entries;
    private int _count;
    private int[] _slots; // open addressing, linear probing: entry index + 1, or 0 when empty
    private int _mask;

    public FunctionTable(int expectedCount)
    {
        var capacity = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(expectedCount, 8, 1 << 28) * 2);
        _slots = new int[capacity];
        _mask = capacity - 1;
        // Typically about half of all symbols are distinct functions, with names of ~30-70 bytes.
        _entries = GC.AllocateUninitializedArray<Entry>(Math.Clamp(expectedCount / 2, 8, 1 << 20));
        _names = GC.AllocateUninitializedArray<byte>(Math.Clamp(expectedCount / 2, 8, 1 << 20) * 64);
    }

    public int Count => _count;

    /// <summary>Adds a function, or replaces the one of the same name if <paramref name="rank"/> is lower.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot while reading; see ElfFileReader.AddFunctions
    public void Add(ReadOnlySpan<byte> name, ulong address, ulong size, ulong fileOffset, int rank)
    {
        var hash = Hash(name);
        var slot = hash & _mask;
        for (var index = _slots[slot]; index != 0; index = _slots[slot])
        {
            ref var existing = ref _entries[index - 1];
            if (existing.Hash == hash && Name(existing).SequenceEqual(name))
            {
                if (rank < existing.Rank)
                {
                    existing = existing with { Address = address, Size = size, FileOffset = fileOffset, Rank = rank };
                }

                return;
            }
            slot = (slot + 1) & _mask;
        }

        if (_count == _entries.Length)
        {
            Array.Resize(ref _entries, checked(_entries.Length * 2));
        }

        if (_names.Length - _namesLength < name.Length)
        {
            Array.Resize(ref _names, Math.Max(checked(_namesLength + name.Length), checked(_names.Length * 2)));
        }

        name.CopyTo(_names.AsSpan(_namesLength));
        _entries[_count] = new Entry(address, size, fileOffset, _namesLength, name.Length, hash, rank);
        _namesLength += name.Length;
        _slots[slot] = ++_count;

        if (_count * 2 > _slots.Length)
        {
            Rehash(checked(_slots.Length * 2));
        }
    }

    /// <summary>A copy holding these functions and then <paramref name="extra"/>; a name already
    /// present keeps its entry (the extra ones are added with a rank no symbol has).</summary>
    public FunctionTable WithExtra(IEnumerable<ElfFunction> extra)
    {
        var extras = extra as IReadOnlyCollection<ElfFunction> ?? extra.ToList();
        var copy = new FunctionTable((_count + extras.Count) * 2);
        for (var i = 0; i < _count; i++)
        {
            var e = _entries[i];
            copy.Add(Name(e), e.Address, e.Size, e.FileOffset, e.Rank);
        }

        const int ExtraRank = int.MaxValue;
        foreach (var f in extras)
        {
            copy.Add(Encoding.UTF8.GetBytes(f.Name), f.Address, f.Size, f.FileOffset, ExtraRank);
        }
        return copy;
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

        var hash = Hash(bytes);
        var slot = hash & _mask;
        for (var index = _slots[slot]; index != 0; index = _slots[slot])
        {
            ref readonly var entry = ref _entries[index - 1];
            if (entry.Hash == hash && Name(entry).SequenceEqual(bytes))
            {
                function = new ElfFunction(name, entry.Address, entry.Size, entry.FileOffset);
                return true;
            }
            slot = (slot + 1) & _mask;
        }
        return false;
    }

    public IEnumerable<ElfFunction> Enumerate()
    {
        for (var i = 0; i < _count; i++)
        {
            var entry = _entries[i];
            yield return new ElfFunction(Encoding.UTF8.GetString(Name(entry)), entry.Address, entry.Size, entry.FileOffset);
        }
    }

    private ReadOnlySpan<byte> Name(in Entry entry) => _names.AsSpan(entry.NameStart, entry.NameLength);

    private void Rehash(int capacity)
    {
        _slots = new int[capacity];
        _mask = capacity - 1;
        for (var i = 0; i < _count; i++)
        {
            var slot = _entries[i].Hash & _mask;
            while (_slots[slot] != 0)
            {
                slot = (slot + 1) & _mask;
            }

            _slots[slot] = i + 1;
        }
    }

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

    private readonly record struct Entry(ulong Address, ulong Size, ulong FileOffset, int NameStart, int NameLength, int Hash, int Rank);
}
