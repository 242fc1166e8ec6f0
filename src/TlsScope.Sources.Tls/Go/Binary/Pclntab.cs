using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;

namespace TlsScope.Sources.Tls.Go.Binary;

/// <summary>
/// The function table of a Go pclntab: each function's name, entry and end address (the next
/// function's entry; the last one's end is the table's sentinel entry). Names stay UTF-8 bytes
/// in the table until asked for.
/// </summary>
public sealed class Pclntab
{
    private readonly ReadOnlyMemory<byte> _data; // from the header to the end of what holds it
    private readonly ulong[] _entries;           // Count + 1: the last is the end of the last function
    private readonly int[] _names;               // offsets into _data

    private Pclntab(PclntabHeader header, ulong address, ulong textStart, ReadOnlyMemory<byte> data, ulong[] entries, int[] names)
    {
        Header = header;
        Address = address;
        TextStart = textStart;
        _data = data;
        _entries = entries;
        _names = names;
    }

    public PclntabHeader Header { get; }

    /// <summary>The virtual address of the header.</summary>
    public ulong Address { get; }

    /// <summary>The base of 1.18+ entry offsets (runtime.text); 0 for older tables, whose entries are absolute.</summary>
    public ulong TextStart { get; }

    public int Count => _names.Length;

    public ulong Entry(int index) => _entries[index];

    public ulong End(int index) => _entries[index + 1];

    /// <summary>The name's UTF-8 bytes (up to its NUL, or the end of the table if damaged).</summary>
    public ReadOnlySpan<byte> NameBytes(int index)
    {
        var name = _data.Span[_names[index]..];
        var end = name.IndexOf((byte)0);
        return end < 0 ? name : name[..end];
    }

    public string Name(int index) => Encoding.UTF8.GetString(NameBytes(index));

    /// <summary>
    /// Decodes the function table of a pclntab whose header (already parsed) starts
    /// <paramref name="data"/>. <paramref name="textStart"/> is the base for 1.18+ entries.
    /// False with a reason when an offset or entry is out of range or out of order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // runs once over ~100k entries
    public static bool TryDecode(ReadOnlyMemory<byte> data, ulong address, in PclntabHeader header, ulong textStart, out Pclntab? table, out string reason)
    {
        table = null;
        var bytes = data.Span;
        var length = (ulong)bytes.Length;
        var count = header.FunctionCount;
        var narrow = header.HasTextRelativeEntries;
        var fieldSize = narrow ? 4UL : 8UL;
        var ftab = header.PclnOffset;
        var ftabSize = (2 * (ulong)count + 1) * fieldSize;
        if (ftab > length || ftabSize > length - ftab)
        {
            reason = $"function table ({count} entries at 0x{ftab:x}) beyond the data ({length} bytes)";
            return false;
        }

        // Where a _func's offset is counted from, where names are, and where nameOff sits in a _func.
        var funcBase = header.Magic == PclntabHeader.MagicGo12 ? 0UL : ftab;
        var nameBase = header.Magic == PclntabHeader.MagicGo12 ? 0UL : header.FuncNameOffset;
        var nameField = narrow ? 4UL : 8UL;
        if (nameBase > length)
        {
            reason = $"function name table at 0x{nameBase:x} beyond the data";
            return false;
        }

        var entries = new ulong[count + 1];
        var names = new int[count];
        var fields = bytes.Slice((int)ftab, (int)ftabSize);
        for (var i = 0; i <= count; i++)
        {
            var entry = narrow
                ? textStart + BinaryPrimitives.ReadUInt32LittleEndian(fields[(8 * i)..])
                : BinaryPrimitives.ReadUInt64LittleEndian(fields[(16 * i)..]);
            if (i > 0 && entry < entries[i - 1])
            {
                reason = $"function table not sorted at entry {i}";
                return false;
            }

            entries[i] = entry;
            if (i == count)
            {
                break;
            }

            var funcOffset = narrow
                ? BinaryPrimitives.ReadUInt32LittleEndian(fields[(8 * i + 4)..])
                : BinaryPrimitives.ReadUInt64LittleEndian(fields[(16 * i + 8)..]);
            var nameAt = funcBase + funcOffset + nameField;
            if (funcOffset > length || nameAt > length - 4)
            {
                reason = $"function {i}: _func at 0x{funcBase + funcOffset:x} beyond the data";
                return false;
            }

            var nameOffset = BinaryPrimitives.ReadInt32LittleEndian(bytes[(int)nameAt..]);
            var name = nameBase + (ulong)(uint)nameOffset;
            if (nameOffset < 0 || name >= length)
            {
                reason = $"function {i}: name at 0x{name:x} beyond the data";
                return false;
            }
            names[i] = (int)name;
        }

        table = new Pclntab(header, address, narrow ? textStart : 0, data, entries, names);
        reason = "";
        return true;
    }
}
