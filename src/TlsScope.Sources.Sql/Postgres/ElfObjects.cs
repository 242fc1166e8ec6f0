using System.Buffers.Binary;
using TlsScope.Bpf.Elf;

namespace TlsScope.Sources.Sql.Postgres;

/// <summary>Exported data symbols (STT_OBJECT in .dynsym), which <see cref="ElfSymbols"/> (functions
/// only) leaves out: a stripped server still exports its globals (PostgreSQL's MyProcPort).</summary>
public static class ElfObjects
{
    private const int SymbolSize = 24;
    private const int TypeObject = 1;

    /// <summary>The st_value of a defined exported object, or null.</summary>
    public static ulong? Find(ElfImage image, string name)
    {
        if (image.FindSection(".dynsym") is not { } symtab || image.FindSection(".dynstr") is not { } strtab)
        {
            return null;
        }

        var symbols = image.ReadSection(symtab);
        var strings = image.ReadSection(strtab);
        for (var at = SymbolSize; at + SymbolSize <= symbols.Length; at += SymbolSize)
        {
            var entry = symbols.AsSpan(at, SymbolSize);
            var nameAt = BinaryPrimitives.ReadUInt32LittleEndian(entry);
            var shndx = BinaryPrimitives.ReadUInt16LittleEndian(entry[6..]);
            if ((entry[4] & 0xf) != TypeObject || shndx == 0 || nameAt >= strings.Length)
            {
                continue;
            }

            var rest = strings.AsSpan((int)nameAt);
            var end = rest.IndexOf((byte)0);
            if (end == name.Length && System.Text.Encoding.ASCII.GetString(rest[..end]) == name)
            {
                return BinaryPrimitives.ReadUInt64LittleEndian(entry[8..]);
            }
        }

        return null;
    }
}
