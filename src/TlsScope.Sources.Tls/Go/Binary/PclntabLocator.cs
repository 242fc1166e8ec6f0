using System.Buffers.Binary;
using TlsScope.Bpf.Elf;

namespace TlsScope.Sources.Tls.Go.Binary;

/// <summary>
/// Finds and decodes the pclntab of an ELF image: the <c>.gopclntab</c> section (named
/// <c>.data.rel.ro.gopclntab</c> in internally linked PIE), else a validated header found at an
/// 8-byte boundary in read-only data (externally linked PIE merges it into <c>.data.rel.ro</c>;
/// files without section headers). Resolves runtime.text when the header does not carry it.
/// </summary>
internal static class PclntabLocator
{
    // Section names read-only data can hide the table in, searched first.
    private static readonly string[] PreferredRegions = [".data.rel.ro", ".rodata"];

    // Data sections that can hold runtime.firstmoduledata (.go.module from Go 1.26).
    private static readonly string[] ModuleDataSections = [".go.module", ".noptrdata", ".data", ".data.rel.ro"];

    /// <summary>The decoded table, or null when there is none (and <paramref name="scan"/> did not find one).</summary>
    /// <exception cref="ElfFormatException">A table is there but damaged, or its text base cannot be found.</exception>
    public static Pclntab? Locate(ElfImage image, bool scan)
    {
        var section = image.Sections.FirstOrDefault(s => s.Name.EndsWith(".gopclntab", StringComparison.Ordinal) && s.Size > 0 && s.Type != ElfSection.TypeNoBits);
        if (section.Name is not null)
        {
            var bytes = image.ReadSection(section);
            if (!PclntabHeader.TryParse(bytes, out var header, out var reason))
            {
                throw new ElfFormatException(image.Path, $"{section.Name}: {reason}");
            }
            return Complete(image, bytes, section.Address, header);
        }

        if (!scan)
        {
            return null;
        }

        foreach (var (address, bytes) in ReadOnlyRegions(image))
        {
            if (Find(bytes, address) is { } found)
            {
                return Complete(image, bytes.AsMemory(found.Offset), address + (ulong)found.Offset, found.Header);
            }
        }
        return null;
    }

    /// <summary>The first 8-byte aligned offset holding a header whose function table decodes
    /// and whose first function has a readable name.</summary>
    internal static (int Offset, PclntabHeader Header)? Find(byte[] bytes, ulong address)
    {
        ReadOnlySpan<uint> magics = [PclntabHeader.MagicGo120, PclntabHeader.MagicGo118, PclntabHeader.MagicGo116, PclntabHeader.MagicGo12];
        Span<byte> pattern = stackalloc byte[6];
        foreach (var magic in magics)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(pattern, magic);
            pattern[4] = pattern[5] = 0;
            for (var from = 0; from < bytes.Length;)
            {
                var hit = bytes.AsSpan(from).IndexOf(pattern);
                if (hit < 0)
                {
                    break;
                }

                var at = from + hit;
                from = at + 1;
                if ((address + (ulong)at) % 8 != 0
                    || !PclntabHeader.TryParse(bytes.AsSpan(at), out var header, out _)
                    || !Pclntab.TryDecode(bytes.AsMemory(at), address + (ulong)at, header, 0, out var table, out _)
                    || !PlausibleName(table!))
                {
                    continue;
                }
                return (at, header);
            }
        }
        return null;
    }

    private static bool PlausibleName(Pclntab table)
    {
        if (table.Count == 0)
        {
            return false;
        }

        var name = table.NameBytes(0);
        return name.Length is > 0 and < 4096 && !name.ContainsAnyInRange((byte)0, (byte)0x1f);
    }

    private static Pclntab Complete(ElfImage image, ReadOnlyMemory<byte> data, ulong address, PclntabHeader header)
    {
        var textStart = header.TextStart;
        if (header.HasTextRelativeEntries && textStart == 0)
        {
            if (!Pclntab.TryDecode(data, address, header, 0, out var offsets, out var why))
            {
                throw new ElfFormatException(image.Path, $"pclntab at 0x{address:x}: {why}");
            }

            var memory = new ElfAddressSpace(image);
            textStart = ModuleData.FindText(memory, header, address, offsets!.Entry(0), offsets.End(offsets.Count - 1),
                ModuleDataCandidates(image, memory, address))
                ?? throw new ElfFormatException(image.Path, "pclntab has no text start and runtime.moduledata was not found");
        }

        return Pclntab.TryDecode(data, address, header, textStart, out var table, out var reason)
            ? table!
            : throw new ElfFormatException(image.Path, $"pclntab at 0x{address:x}: {reason}");
    }

    /// <summary>Where moduledata may start, likeliest first: .go.module, words relocated to the
    /// header, then words equal to the header's address in the data sections.</summary>
    private static IEnumerable<ulong> ModuleDataCandidates(ElfImage image, IAddressSpace memory, ulong headerAddress)
    {
        if (image.FindSection(".go.module") is { } module)
        {
            yield return module.Address;
        }

        foreach (var at in memory.RelocatedPointersTo(headerAddress))
        {
            yield return at;
        }

        var regions = image.Sections.Count > 0
            ? image.Sections.Where(s => s.IsLoadedData && ModuleDataSections.Contains(s.Name)).Select(s => (s.Address, Bytes: (Func<byte[]>)(() => image.ReadSection(s))))
            : image.LoadSegments.Where(l => l.IsWritable).Select(l => (Address: l.VirtualAddress, Bytes: (Func<byte[]>)(() => image.ReadFile(l.Offset, l.FileSize))));
        foreach (var (address, bytes) in regions)
        {
            foreach (var at in ModuleData.WordsEqualTo(bytes(), address, headerAddress))
            {
                yield return at;
            }
        }
    }

    /// <summary>Non-executable loaded data to search, preferred sections first; PT_LOAD segments
    /// when the file has no section headers.</summary>
    private static IEnumerable<(ulong Address, byte[] Bytes)> ReadOnlyRegions(ElfImage image)
    {
        if (image.Sections.Count == 0)
        {
            foreach (var load in image.LoadSegments.Where(l => !l.IsExecutable))
            {
                yield return (load.VirtualAddress, image.ReadFile(load.Offset, load.FileSize));
            }
            yield break;
        }

        var sections = image.Sections
            .Where(s => s.IsLoadedData && !s.IsExecutable && s.Type == ElfSection.TypeProgBits)
            .OrderBy(s => Array.FindIndex(PreferredRegions, p => s.Name.StartsWith(p, StringComparison.Ordinal)) is var i && i >= 0 ? i : PreferredRegions.Length);
        foreach (var s in sections)
        {
            yield return (s.Address, image.ReadSection(s));
        }
    }
}
