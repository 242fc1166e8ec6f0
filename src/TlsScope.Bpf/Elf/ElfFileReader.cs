using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Microsoft.Win32.SafeHandles;

namespace TlsScope.Bpf.Elf;

/// <summary>
/// Parses the parts of an ELF64 little-endian file that symbol lookup needs, using positioned reads
/// on one open handle. Every offset and size taken from the file is bounds-checked before use, so a
/// damaged file ends in <see cref="ElfFormatException"/> rather than an indexing exception.
/// </summary>
internal sealed class ElfFileReader
{
    // Sizes of the ELF64 structures.
    private const int EhdrSize = 64;
    private const int PhdrSize = 56;
    private const int ShdrSize = 64;
    private const int SymSize = 24;

    private const ushort EtExec = 2;
    private const ushort EtDyn = 3;
    private const ushort EmX86_64 = 62;

    private const uint PtLoad = 1;
    private const uint PtDynamic = 2;
    private const uint PtInterp = 3;
    private const uint PtNote = 4;
    private const uint PfX = 1;

    private const uint ShtSymtab = 2;
    private const uint ShtStrtab = 3;
    private const uint ShtNote = 7;
    private const uint ShtDynsym = 11;
    private const uint ShtGnuVersym = 0x6fffffff;
    private const ulong ShfAlloc = 2;

    private const ushort PnXnum = 0xffff;
    private const ushort ShnUndef = 0;
    private const ushort ShnXindex = 0xffff;

    private const int SttFunc = 2;
    private const int SttGnuIfunc = 10;
    private const int StbLocal = 0;

    private const ushort VersymHidden = 0x8000;
    private const uint NtGnuBuildId = 3;

    private const ulong DtNull = 0, DtNeeded = 1, DtStrtab = 5, DtStrsz = 10, DtRpath = 15, DtRunpath = 29;

    // A string table scanned for names: larger ones (huge debug builds) are passed over.
    private const ulong MaxScannedStrings = 64 << 20;

    // A dynamic section or its string table is a few KiB; a larger one is a damaged file.
    private const ulong MaxDynamicSize = 1 << 20;

    // Note segments are a few hundred bytes; anything far larger is not worth reading for a build id.
    private const ulong MaxNotesSize = 1 << 20;

    private readonly string _path;
    private readonly SafeFileHandle _file;
    private readonly ulong _length;

    public ElfFileReader(string path, SafeFileHandle file)
    {
        _path = path;
        _file = file;
        _length = (ulong)RandomAccess.GetLength(file);
    }

    /// <summary>The ELF header checked, and the program and (when asked) section headers.</summary>
    private (ushort Type, Segment[] Segments, Section[] Sections) ReadLayout(bool withSections) => ReadLayout(withSections, out _);

    private (ushort Type, Segment[] Segments, Section[] Sections) ReadLayout(bool withSections, out uint namesIndex)
    {
        Span<byte> header = stackalloc byte[EhdrSize];
        header = header[..ReadAtMost(0, header)];

        if (header.Length < 4 || !header[..4].SequenceEqual("\u007fELF"u8))
        {
            throw Fail("not an ELF file");
        }

        if (header.Length < 16)
        {
            throw Fail("truncated ELF file (identification)");
        }

        if (header[4] != 2)
        {
            throw Fail(header[4] == 1 ? "not a 64-bit ELF file (32-bit)" : $"not a 64-bit ELF file (class {header[4]})");
        }

        if (header[5] != 1)
        {
            throw Fail("not a little-endian ELF file");
        }

        if (header.Length < EhdrSize)
        {
            throw Fail("truncated ELF file (header)");
        }

        var type = U16(header, 16);
        var machine = U16(header, 18);
        if (machine != EmX86_64)
        {
            throw Fail($"not an x86-64 ELF file (machine {machine})");
        }

        if (type != EtExec && type != EtDyn)
        {
            throw Fail($"not an executable or shared object (ELF type {type})");
        }

        var phoff = U64(header, 32);
        var shoff = U64(header, 40);
        var phentsize = U16(header, 54);
        ulong phnum = U16(header, 56);
        var shentsize = U16(header, 58);
        ulong shnum = U16(header, 60);
        namesIndex = U16(header, 62);

        // Extended numbering: with too many entries for 16 bits, the real counts live in section 0.
        if (shoff != 0 && (shnum == 0 || phnum == PnXnum))
        {
            if (shentsize < ShdrSize)
            {
                throw Fail($"bad section header size {shentsize}");
            }

            var first = ReadBytes(shoff, ShdrSize, "section headers");
            if (shnum == 0)
            {
                shnum = U64(first, 32);
            }

            if (phnum == PnXnum)
            {
                phnum = U32(first, 44);
            }
        }

        // SHN_XINDEX: the section name table's index is too large for 16 bits and sits in section 0.
        if (shoff != 0 && namesIndex == ShnXindex && shentsize >= ShdrSize)
        {
            namesIndex = U32(ReadBytes(shoff, ShdrSize, "section headers"), 40);
        }

        var segments = ReadSegments(phoff, phnum, phentsize);
        var sections = shoff == 0 || !withSections ? [] : ReadSections(shoff, shnum, shentsize);
        return (type, segments, sections);
    }

    public ElfSymbols Read()
    {
        var (type, segments, sections) = ReadLayout(withSections: true);

        // One table of each type, as the ELF specification allows: a crafted file with thousands
        // of symbol tables (all sharing one big string table, say) must not multiply the work.
        var dynsym = Array.FindIndex(sections, s => s.Type == ShtDynsym);
        var symtab = Array.FindIndex(sections, s => s.Type == ShtSymtab);
        var symbolCount = (dynsym < 0 ? 0 : sections[dynsym].Size / SymSize) + (symtab < 0 ? 0 : sections[symtab].Size / SymSize);
        var functions = new FunctionTable((int)Math.Min(symbolCount, int.MaxValue));
        // Within one table, the first of equally ranked duplicates is kept.
        foreach (var index in (ReadOnlySpan<int>)[dynsym, symtab])
        {
            if (index >= 0)
            {
                AddFunctions(functions, sections, index, segments);
            }
        }

        functions.Seal();
        return new ElfSymbols(_path, FindBuildId(segments, sections), type == EtDyn, functions);
    }

    /// <summary>The file's type, PT_LOAD program headers and named section headers, for
    /// <see cref="ElfImage"/>. A section name table that is missing or damaged leaves names empty.</summary>
    public (bool IsSharedObject, ElfSegment[] Loads, ElfSection[] Sections) ReadImageLayout()
    {
        var (type, segments, sections) = ReadLayout(withSections: true, out var namesIndex);
        var loads = segments.Where(s => s.Type == PtLoad)
            .Select(s => new ElfSegment(s.Type, s.Flags, s.Offset, s.VirtualAddress, s.FileSize, s.MemorySize))
            .ToArray();

        byte[] names = [];
        if (namesIndex < sections.Length && sections[namesIndex].Type == ShtStrtab && sections[namesIndex].Size <= MaxDynamicSize)
        {
            names = ReadSection(sections[namesIndex], "section names");
        }

        var named = new ElfSection[sections.Length];
        for (var i = 0; i < sections.Length; i++)
        {
            var s = sections[i];
            var name = s.NameOffset < (uint)names.Length ? CString(names, (int)s.NameOffset) : "";
            named[i] = new ElfSection(name, s.Type, s.Flags, s.Address, s.Offset, s.Size, s.Link, s.EntrySize);
        }

        return (type == EtDyn, loads, named);
    }

    /// <summary>What the dynamic loader reads of the file: its interpreter, needed libraries and
    /// search paths. Only the program headers, PT_INTERP, PT_DYNAMIC and the dynamic string
    /// table are read: cheap enough for every exec.</summary>
    public ElfDynamicInfo ReadDynamic()
    {
        var (_, segments, _) = ReadLayout(withSections: false);
        string? interpreter = null;
        var dynamicSegment = Array.FindIndex(segments, s => s.Type == PtDynamic);
        var interp = Array.FindIndex(segments, s => s.Type == PtInterp);
        if (interp >= 0)
        {
            interpreter = CString(ReadBytes(segments[interp].Offset, Math.Min(segments[interp].FileSize, 4096), "interpreter"), 0);
        }

        if (dynamicSegment < 0)
        {
            return new ElfDynamicInfo(interpreter, [], [], []);
        }

        var dynamic = ReadBytes(segments[dynamicSegment].Offset, Math.Min(segments[dynamicSegment].FileSize, MaxDynamicSize), "dynamic section");
        ulong strtab = 0, strsz = 0;
        var needed = new List<ulong>();
        var runpath = new List<ulong>();
        var rpath = new List<ulong>();
        for (var at = 0; at + 16 <= dynamic.Length; at += 16)
        {
            var tag = U64(dynamic, at);
            var value = U64(dynamic, at + 8);
            if (tag == DtNull)
            {
                break;
            }

            switch (tag)
            {
                case DtNeeded: needed.Add(value); break;
                case DtStrtab: strtab = value; break;
                case DtStrsz: strsz = value; break;
                case DtRpath: rpath.Add(value); break;
                case DtRunpath: runpath.Add(value); break;
            }
        }

        if (strtab == 0 || !TryMapToFile(segments, strtab, out var strtabOffset))
        {
            return new ElfDynamicInfo(interpreter, [], [], []);
        }

        var strings = ReadBytes(strtabOffset, Math.Min(strsz, MaxDynamicSize), "dynamic string table");
        List<string> Names(List<ulong> offsets) => offsets.Where(o => o < (ulong)strings.Length).Select(o => CString(strings, (int)o)).ToList();
        return new ElfDynamicInfo(interpreter, Names(needed), Names(runpath), Names(rpath));
    }

    /// <summary>Whether any string table (.dynstr, .strtab) holds one of the names as a whole
    /// string: a cheap screen before reading every symbol (a stripped file has no names to find).</summary>
    public bool HasAnyName(IReadOnlyList<string> names)
    {
        var (_, _, sections) = ReadLayout(withSections: true);
        var wanted = names.Select(n => System.Text.Encoding.ASCII.GetBytes("\0" + n + "\0")).ToArray();
        foreach (var section in sections)
        {
            if (section.Type != ShtStrtab || section.Size > MaxScannedStrings)
            {
                continue;
            }

            var strings = ReadSection(section, "string table");
            foreach (var name in wanted)
            {
                if (strings.AsSpan().IndexOf(name) >= 0)
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static string CString(byte[] bytes, int start)
    {
        var end = Array.IndexOf(bytes, (byte)0, start);
        return System.Text.Encoding.UTF8.GetString(bytes, start, (end < 0 ? bytes.Length : end) - start);
    }

    private Segment[] ReadSegments(ulong phoff, ulong phnum, ushort phentsize)
    {
        if (phnum == 0)
        {
            return [];
        }

        if (phentsize < PhdrSize)
        {
            throw Fail($"bad program header size {phentsize}");
        }

        var table = ReadTable(phoff, phnum, phentsize, "program headers");
        var segments = new Segment[(int)phnum];
        for (var i = 0; i < segments.Length; i++)
        {
            var p = table.AsSpan(i * phentsize, PhdrSize);
            segments[i] = new Segment(
                Type: U32(p, 0), Flags: U32(p, 4), Offset: U64(p, 8), VirtualAddress: U64(p, 16),
                FileSize: U64(p, 32), Align: U64(p, 48), MemorySize: U64(p, 40));
        }
        return segments;
    }

    private Section[] ReadSections(ulong shoff, ulong shnum, ushort shentsize)
    {
        if (shnum == 0)
        {
            return [];
        }

        if (shentsize < ShdrSize)
        {
            throw Fail($"bad section header size {shentsize}");
        }

        var table = ReadTable(shoff, shnum, shentsize, "section headers");
        var sections = new Section[(int)shnum];
        for (var i = 0; i < sections.Length; i++)
        {
            var s = table.AsSpan(i * shentsize, ShdrSize);
            sections[i] = new Section(
                Type: U32(s, 4), Flags: U64(s, 8), Offset: U64(s, 24), Size: U64(s, 32),
                Link: U32(s, 40), Align: U64(s, 48), EntrySize: U64(s, 56), NameOffset: U32(s, 0), Address: U64(s, 16));
        }
        return sections;
    }

    // Runs once per file over up to ~200k symbols. Without this, the loop and its callees run as
    // unoptimized or instrumented tier-0 code for the whole call, which costs 2-3x.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void AddFunctions(FunctionTable functions, Section[] sections, int index, Segment[] segments)
    {
        var table = sections[index];
        var fromSymtab = table.Type == ShtSymtab;
        var what = fromSymtab ? ".symtab" : ".dynsym";
        if (table.EntrySize != 0 && table.EntrySize != SymSize)
        {
            throw Fail($"bad {what} entry size {table.EntrySize}");
        }

        if (table.Link >= sections.Length || sections[table.Link].Type != ShtStrtab)
        {
            throw Fail($"{what} does not link to a string table");
        }

        var symbols = ReadSection(table, what);
        var strings = ReadSection(sections[table.Link], what + " strings");

        // Which .dynsym entries are non-default versions ("foo@VER" rather than "foo@@VER").
        ReadOnlySpan<byte> versions = [];
        if (!fromSymtab)
        {
            for (var i = 0; i < sections.Length; i++)
            {
                if (sections[i].Type == ShtGnuVersym && sections[i].Link == index)
                {
                    versions = ReadSection(sections[i], ".gnu.version");
                    break;
                }
            }
        }

        var source = functions.AddStrings(strings);
        var count = symbols.Length / SymSize;
        for (var i = 1; i < count; i++) // entry 0 is the reserved null symbol
        {
            var sym = symbols.AsSpan(i * SymSize, SymSize);
            var kind = sym[4] & 0xf;
            if (kind != SttFunc && kind != SttGnuIfunc)
            {
                continue;
            }

            var address = U64(sym, 8);
            if (U16(sym, 6) == ShnUndef || address == 0)
            {
                continue;
            }

            if (!TryMapToFile(segments, address, out var fileOffset))
            {
                continue;
            }

            var nameOffset = U32(sym, 0);
            if (nameOffset >= (uint)strings.Length)
            {
                continue;
            }

            var name = strings.AsSpan((int)nameOffset);
            var end = name.IndexOf((byte)0); // the string table's own end is not a terminator
            if (end < 0)
            {
                continue;
            }

            name = name[..end];

            var nonDefaultVersion = false;
            var at = name.IndexOf((byte)'@');
            if (at >= 0)
            {
                nonDefaultVersion = at + 1 >= name.Length || name[at + 1] != (byte)'@';
                name = name[..at];
            }
            if (name.IsEmpty)
            {
                continue;
            }

            if ((i + 1) * 2 <= versions.Length && (U16(versions, i * 2) & VersymHidden) != 0)
            {
                nonDefaultVersion = true;
            }

            // Lower wins: default version, then global/weak binding, then .dynsym.
            var rank = (nonDefaultVersion ? 4 : 0) | (sym[4] >> 4 == StbLocal ? 2 : 0) | (fromSymtab ? 1 : 0);
            functions.Add(source, (int)nameOffset, name.Length, address, U64(sym, 16), fileOffset, rank);
        }
    }

    /// <summary>
    /// Maps a virtual address to a file offset through the PT_LOAD segment that holds it in its file
    /// image, preferring executable segments (where code lives) over the others.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TryMapToFile(Segment[] segments, ulong address, out ulong fileOffset)
    {
        for (var pass = 0; pass < 2; pass++)
        {
            foreach (var s in segments)
            {
                if (s.Type != PtLoad || ((s.Flags & PfX) != 0) != (pass == 0))
                {
                    continue;
                }

                if (address >= s.VirtualAddress && address - s.VirtualAddress < s.FileSize)
                {
                    fileOffset = s.Offset + (address - s.VirtualAddress);
                    return true;
                }
            }
        }
        fileOffset = 0;
        return false;
    }

    private string? FindBuildId(Segment[] segments, Section[] sections)
    {
        foreach (var s in segments)
        {
            if (s.Type == PtNote && s.FileSize <= MaxNotesSize
                && ParseBuildId(ReadBytes(s.Offset, s.FileSize, "note segment"), s.Align) is { } id)
            {
                return id;
            }
        }
        // Files without PT_NOTE (rare) may still carry the note as an allocated section.
        foreach (var s in sections)
        {
            if (s.Type == ShtNote && (s.Flags & ShfAlloc) != 0 && s.Size <= MaxNotesSize
                && ParseBuildId(ReadSection(s, "note section"), s.Align) is { } id)
            {
                return id;
            }
        }
        return null;
    }

    /// <summary>Walks a run of notes (namesz, descsz, type, name, desc; name and desc padded).</summary>
    private static string? ParseBuildId(ReadOnlySpan<byte> notes, ulong alignment)
    {
        // GNU tools pad notes to 4 bytes, except in 8-aligned note segments such as .note.gnu.property.
        var align = alignment == 8 ? 8UL : 4UL;
        ulong pos = 0;
        var length = (ulong)notes.Length;
        while (length - pos >= 12)
        {
            var nameSize = (ulong)U32(notes, (int)pos);
            var descSize = (ulong)U32(notes, (int)pos + 4);
            var type = U32(notes, (int)pos + 8);
            var nameStart = pos + 12;
            if (length - nameStart < nameSize)
            {
                return null;
            }

            var descStart = nameStart + AlignUp(nameSize, align);
            if (descStart > length || length - descStart < descSize)
            {
                return null;
            }

            if (type == NtGnuBuildId && descSize > 0
                && notes.Slice((int)nameStart, (int)nameSize).SequenceEqual("GNU\0"u8))
            {
                return Convert.ToHexStringLower(notes.Slice((int)descStart, (int)descSize));
            }

            var next = descStart + AlignUp(descSize, align);
            if (next <= pos || next > length)
            {
                return null;
            }

            pos = next;
        }
        return null;
    }

    private static ulong AlignUp(ulong value, ulong align) => (value + align - 1) & ~(align - 1);

    private byte[] ReadTable(ulong offset, ulong count, ushort entrySize, string what)
    {
        if (count > _length / entrySize)
        {
            throw Fail($"truncated ELF file ({what} beyond end of file)");
        }

        return ReadBytes(offset, count * entrySize, what);
    }

    private byte[] ReadSection(Section section, string what) => ReadBytes(section.Offset, section.Size, what);

    public byte[] ReadBytes(ulong offset, ulong size, string what)
    {
        if (offset > _length || size > _length - offset)
        {
            throw Fail($"truncated ELF file ({what} beyond end of file)");
        }

        if (size > (ulong)Array.MaxLength)
        {
            throw Fail($"{what} too large");
        }

        var buffer = GC.AllocateUninitializedArray<byte>((int)size);
        if (ReadAtMost(offset, buffer) != buffer.Length)
        {
            throw Fail($"truncated ELF file ({what} beyond end of file)");
        }

        return buffer;
    }

    /// <summary>Fills as much of <paramref name="buffer"/> as the file allows; returns the count read.</summary>
    public int ReadAtMost(ulong offset, Span<byte> buffer)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var read = RandomAccess.Read(_file, buffer[total..], (long)offset + total);
            if (read == 0)
            {
                break;
            }

            total += read;
        }
        return total;
    }

    public ElfFormatException Fail(string reason) => new(_path, reason);

    private static ushort U16(ReadOnlySpan<byte> data, int offset) => BinaryPrimitives.ReadUInt16LittleEndian(data[offset..]);
    private static uint U32(ReadOnlySpan<byte> data, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(data[offset..]);
    private static ulong U64(ReadOnlySpan<byte> data, int offset) => BinaryPrimitives.ReadUInt64LittleEndian(data[offset..]);

    private readonly record struct Segment(uint Type, uint Flags, ulong Offset, ulong VirtualAddress, ulong FileSize, ulong Align, ulong MemorySize);

    private readonly record struct Section(uint Type, ulong Flags, ulong Offset, ulong Size, uint Link, ulong Align, ulong EntrySize, uint NameOffset, ulong Address);
}
