using System.Buffers.Binary;
using System.Text;
using TlsScope.Bpf.Elf;

namespace TlsScope.Sources.Shell;

/// <summary>The defined data symbols (STT_OBJECT) of an ELF file's .dynsym and .symtab, by name,
/// as link-time addresses: the shells' globals ($? and friends) that a prompt probe reads.</summary>
public static class DataSymbols
{
    private const int SymbolSize = 24; // Elf64_Sym
    private const int ObjectType = 1; // STT_OBJECT
    private const ushort Undefined = 0; // SHN_UNDEF

    /// <summary>The address of each of <paramref name="names"/> the file defines.</summary>
    public static Dictionary<string, ulong> Find(ElfImage image, IReadOnlyCollection<string> names)
    {
        var found = new Dictionary<string, ulong>();
        foreach (var table in image.Sections.Where(s => s.Name is ".dynsym" or ".symtab"))
        {
            if (table.Link >= image.Sections.Count || table.Size > 64 << 20)
            {
                continue;
            }

            var symbols = image.ReadSection(table);
            var strings = image.ReadSection(image.Sections[(int)table.Link]);
            for (int at = 0; at + SymbolSize <= symbols.Length; at += SymbolSize)
            {
                var sym = symbols.AsSpan(at, SymbolSize);
                if ((sym[4] & 0xf) != ObjectType || BinaryPrimitives.ReadUInt16LittleEndian(sym[6..]) == Undefined)
                {
                    continue;
                }

                var nameAt = (int)BinaryPrimitives.ReadUInt32LittleEndian(sym);
                if (nameAt >= strings.Length)
                {
                    continue;
                }

                var length = strings.AsSpan(nameAt).IndexOf((byte)0);
                var name = Encoding.ASCII.GetString(strings, nameAt, length < 0 ? strings.Length - nameAt : length);
                if (names.Contains(name))
                {
                    found.TryAdd(name, BinaryPrimitives.ReadUInt64LittleEndian(sym[8..]));
                }
            }
        }

        return found;
    }
}
