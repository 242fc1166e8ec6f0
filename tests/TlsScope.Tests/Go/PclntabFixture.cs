using System.Buffers.Binary;
using System.Text;
using TlsScope.Sources.Tls.Go.Binary;

namespace TlsScope.Tests.Go;

/// <summary>
/// Hand-built pclntabs, written from the format description (not by the Go linker): a header for
/// the given magic, the function name table, the function table and one minimal _func per function.
/// </summary>
internal static class PclntabFixture
{
    public sealed record Function(string Name, ulong Entry);

    /// <summary>A table for <paramref name="functions"/> (sorted by entry) ending at
    /// <paramref name="end"/>; entries of 1.18+ tables are stored relative to <paramref name="textStart"/>,
    /// and <paramref name="headerTextStart"/> is what the header claims (0 as from Go 1.26).</summary>
    public static byte[] Build(uint magic, IReadOnlyList<Function> functions, ulong end, ulong textStart, ulong? headerTextStart = null)
    {
        if (magic == PclntabHeader.MagicGo12)
        {
            return BuildGo12(functions, end);
        }

        var narrow = magic is PclntabHeader.MagicGo118 or PclntabHeader.MagicGo120;
        var headerSize = PclntabHeader.SizeOf(magic);
        var table = new List<byte>(new byte[headerSize]);

        // Names first, in a table of their own, then the function table and the _funcs.
        var nameTable = table.Count;
        var nameOffsets = new List<int>();
        foreach (var f in functions)
        {
            nameOffsets.Add(table.Count - nameTable);
            table.AddRange(Encoding.UTF8.GetBytes(f.Name));
            table.Add(0);
        }
        Pad(table, 8);

        var ftab = table.Count;
        var fieldSize = narrow ? 4 : 8;
        var ftabSize = (2 * functions.Count + 1) * fieldSize;
        var funcs = Align(ftab + ftabSize, 8);
        var funcSize = 16;
        var bytes = new byte[funcs + functions.Count * funcSize];
        table.CopyTo(bytes);
        for (var i = 0; i <= functions.Count; i++)
        {
            var entry = i < functions.Count ? functions[i].Entry : end;
            var funcOffset = (ulong)(funcs - ftab + i * funcSize);
            if (narrow)
            {
                U32(bytes, ftab + 8 * i, (uint)(entry - textStart));
                if (i < functions.Count)
                {
                    U32(bytes, ftab + 8 * i + 4, (uint)funcOffset);
                    U32(bytes, funcs + i * funcSize, (uint)(entry - textStart));
                    U32(bytes, funcs + i * funcSize + 4, (uint)nameOffsets[i]);
                }
            }
            else
            {
                U64(bytes, ftab + 16 * i, entry);
                if (i < functions.Count)
                {
                    U64(bytes, ftab + 16 * i + 8, funcOffset);
                    U64(bytes, funcs + i * funcSize, entry);
                    U32(bytes, funcs + i * funcSize + 8, (uint)nameOffsets[i]);
                }
            }
        }

        WriteHeader(bytes, magic, functions.Count);
        ulong[] offsets = narrow
            ? [2, headerTextStart ?? textStart, (ulong)nameTable, (ulong)ftab, (ulong)ftab, (ulong)ftab, (ulong)ftab]
            : [2, (ulong)nameTable, (ulong)ftab, (ulong)ftab, (ulong)ftab, (ulong)ftab];
        for (var i = 0; i < offsets.Length; i++)
        {
            U64(bytes, 16 + 8 * i, offsets[i]);
        }
        return bytes;
    }

    /// <summary>Go 1.2–1.15: header, then (entry, funcoff) pairs and the end, then _funcs and names,
    /// every offset counted from the header.</summary>
    private static byte[] BuildGo12(IReadOnlyList<Function> functions, ulong end)
    {
        var n = functions.Count;
        var funcs = 16 + 16 * n + 8;
        var names = funcs + 16 * n;
        var nameBytes = functions.Select(f => Encoding.UTF8.GetBytes(f.Name + "\0")).ToArray();
        var bytes = new byte[names + nameBytes.Sum(b => b.Length)];
        WriteHeader(bytes, PclntabHeader.MagicGo12, n);
        var at = names;
        for (var i = 0; i < n; i++)
        {
            U64(bytes, 16 + 16 * i, functions[i].Entry);
            U64(bytes, 16 + 16 * i + 8, (ulong)(funcs + 16 * i));
            U64(bytes, funcs + 16 * i, functions[i].Entry);
            U32(bytes, funcs + 16 * i + 8, (uint)at);
            nameBytes[i].CopyTo(bytes, at);
            at += nameBytes[i].Length;
        }
        U64(bytes, 16 + 16 * n, end);
        return bytes;
    }

    private static void WriteHeader(byte[] bytes, uint magic, int count)
    {
        U32(bytes, 0, magic);
        bytes[4] = bytes[5] = 0;
        bytes[6] = 1; // minLC: x86 instructions are byte-aligned
        bytes[7] = 8; // ptrSize
        U64(bytes, 8, (ulong)count);
    }

    private static void Pad(List<byte> bytes, int alignment)
    {
        while (bytes.Count % alignment != 0)
        {
            bytes.Add(0);
        }
    }

    private static int Align(int value, int alignment) => (value + alignment - 1) / alignment * alignment;

    public static void U32(byte[] bytes, int at, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at), value);

    public static void U64(byte[] bytes, int at, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(at), value);
}

/// <summary>An address space of a few byte regions, with optional relocations, for the readers' fixtures.</summary>
internal sealed class FakeAddressSpace : IAddressSpace
{
    private readonly List<(ulong Address, byte[] Bytes)> _regions = [];

    public Dictionary<ulong, ulong> Relocations { get; } = [];

    public FakeAddressSpace Add(ulong address, byte[] bytes)
    {
        _regions.Add((address, bytes));
        return this;
    }

    public bool TryRead(ulong address, Span<byte> destination)
    {
        foreach (var (start, bytes) in _regions)
        {
            if (address >= start && address - start + (ulong)destination.Length <= (ulong)bytes.Length)
            {
                bytes.AsSpan((int)(address - start), destination.Length).CopyTo(destination);
                return true;
            }
        }
        return false;
    }

    public bool TryReadPointer(ulong address, out ulong value)
    {
        if (Relocations.TryGetValue(address, out value))
        {
            return true;
        }

        Span<byte> word = stackalloc byte[8];
        var ok = TryRead(address, word);
        value = ok ? BinaryPrimitives.ReadUInt64LittleEndian(word) : 0;
        return ok;
    }

    public IEnumerable<ulong> RelocatedPointersTo(ulong target) => Relocations.Where(r => r.Value == target).Select(r => r.Key);
}
