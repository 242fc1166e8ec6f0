using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace TlsScope.Bpf.Elf;

/// <summary>
/// An open x86-64 ELF file seen as sections, PT_LOAD segments and the bytes behind virtual
/// addresses, for readers of structures that symbol tables do not describe (Go's pclntab and
/// buildinfo). Keeps the file open until disposed; reads are positioned, so it is thread-safe.
/// </summary>
public sealed class ElfImage : IDisposable
{
    private const uint RelocationRelative = 8; // R_X86_64_RELATIVE: base + addend
    private const int RelaSize = 24;

    private readonly SafeFileHandle _file;
    private readonly ElfFileReader _reader;
    private readonly ElfSegment[] _loads;
    private readonly ElfSection[] _sections;
    private readonly Lazy<Dictionary<ulong, ulong>> _relativeRelocations;

    private ElfImage(string path, SafeFileHandle file)
    {
        Path = path;
        _file = file;
        _reader = new ElfFileReader(path, file);
        (IsSharedObject, _loads, _sections) = _reader.ReadImageLayout();
        FileLength = (ulong)RandomAccess.GetLength(file);
        _relativeRelocations = new Lazy<Dictionary<ulong, ulong>>(ReadRelativeRelocations);
    }

    /// <summary>Opens <paramref name="path"/> and reads its ELF, program and section headers.</summary>
    /// <exception cref="ElfFormatException">Not an x86-64 ELF executable or shared object, or damaged.</exception>
    public static ElfImage Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        try
        {
            return new ElfImage(path, file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public string Path { get; }

    /// <summary>True for ET_DYN: shared libraries and position-independent executables.</summary>
    public bool IsSharedObject { get; }

    public ulong FileLength { get; }

    /// <summary>All section headers in file order (empty when the file has no section header table).</summary>
    public IReadOnlyList<ElfSection> Sections => _sections;

    /// <summary>The PT_LOAD program headers in file order.</summary>
    public IReadOnlyList<ElfSegment> LoadSegments => _loads;

    /// <summary>The first section of that name, or null.</summary>
    public ElfSection? FindSection(string name)
    {
        foreach (var s in _sections)
        {
            if (s.Name == name)
            {
                return s;
            }
        }
        return null;
    }

    /// <summary>The file offset of a virtual address through the PT_LOAD segment whose file image
    /// holds it (executable segments first, as <see cref="ElfSymbols"/> does).</summary>
    public bool TryMapToFile(ulong address, out ulong fileOffset)
    {
        if (FindLoad(address) is { } load)
        {
            fileOffset = address - load.VirtualAddress + load.Offset;
            return true;
        }
        fileOffset = 0;
        return false;
    }

    /// <summary>The PT_LOAD segment whose file image holds the address, or null.</summary>
    public ElfSegment? FindLoad(ulong address)
    {
        for (var pass = 0; pass < 2; pass++)
        {
            foreach (var s in _loads)
            {
                if (s.IsExecutable == (pass == 0) && s.ContainsInFile(address))
                {
                    return s;
                }
            }
        }
        return null;
    }

    /// <summary>Fills <paramref name="destination"/> from the virtual address as the loader maps
    /// it: a segment's file image, then zeros up to its memory size (.bss: a Go 1.15 binary built
    /// outside a module points its build info there). False unless the whole range lies in one segment.</summary>
    public bool TryReadAt(ulong address, Span<byte> destination)
    {
        foreach (var load in _loads)
        {
            if (address < load.VirtualAddress || address - load.VirtualAddress >= load.MemorySize
                || load.MemorySize - (address - load.VirtualAddress) < (ulong)destination.Length)
            {
                continue;
            }

            var inFile = address - load.VirtualAddress < load.FileSize
                ? (int)Math.Min((ulong)destination.Length, load.FileSize - (address - load.VirtualAddress))
                : 0;
            destination[inFile..].Clear();
            return inFile == 0 || ReadAtMost(address - load.VirtualAddress + load.Offset, destination[..inFile]) == inFile;
        }

        return false;
    }

    /// <summary>Reads <paramref name="count"/> bytes at a virtual address.</summary>
    /// <exception cref="ElfFormatException">The range is not in one segment's file image.</exception>
    public byte[] ReadAt(ulong address, int count)
    {
        var buffer = GC.AllocateUninitializedArray<byte>(count);
        return TryReadAt(address, buffer) ? buffer : throw _reader.Fail($"0x{address:x} (+{count}) is not in the file image of any PT_LOAD segment");
    }

    /// <summary>Reads bytes by file offset.</summary>
    /// <exception cref="ElfFormatException">The range lies beyond the end of the file.</exception>
    public byte[] ReadFile(ulong offset, ulong size) => _reader.ReadBytes(offset, size, $"{size} bytes at file offset 0x{offset:x}");

    /// <summary>A section's file bytes (none for SHT_NOBITS).</summary>
    /// <exception cref="ElfFormatException">The section lies beyond the end of the file.</exception>
    public byte[] ReadSection(ElfSection section) =>
        section.Type == ElfSection.TypeNoBits ? [] : _reader.ReadBytes(section.Offset, section.Size, $"section {section.Name}");

    /// <summary>
    /// The pointer the process sees at a virtual address once loaded: the addend of an
    /// R_X86_64_RELATIVE relocation aimed at it (relative to the load base, like every address
    /// here; linkers may leave the word itself zero), else the 8-byte word in the file.
    /// </summary>
    public bool TryReadPointer(ulong address, out ulong value)
    {
        if (_relativeRelocations.Value.TryGetValue(address, out value))
        {
            return true;
        }

        Span<byte> word = stackalloc byte[8];
        if (!TryReadAt(address, word))
        {
            value = 0;
            return false;
        }
        value = BinaryPrimitives.ReadUInt64LittleEndian(word);
        return true;
    }

    /// <summary>Where R_X86_64_RELATIVE relocations of the loaded sections point, by the address they patch.</summary>
    public IReadOnlyDictionary<ulong, ulong> RelativeRelocations => _relativeRelocations.Value;

    private Dictionary<ulong, ulong> ReadRelativeRelocations()
    {
        var result = new Dictionary<ulong, ulong>();
        foreach (var s in _sections)
        {
            if (s.Type != ElfSection.TypeRela || (s.Flags & ElfSection.FlagAlloc) == 0)
            {
                continue;
            }

            var table = ReadSection(s);
            for (var at = 0; at + RelaSize <= table.Length; at += RelaSize)
            {
                var info = BinaryPrimitives.ReadUInt64LittleEndian(table.AsSpan(at + 8));
                if ((uint)info == RelocationRelative)
                {
                    result[BinaryPrimitives.ReadUInt64LittleEndian(table.AsSpan(at))] = BinaryPrimitives.ReadUInt64LittleEndian(table.AsSpan(at + 16));
                }
            }
        }
        return result;
    }

    private int ReadAtMost(ulong offset, Span<byte> buffer) => _reader.ReadAtMost(offset, buffer);

    public void Dispose() => _file.Dispose();

    public override string ToString() => $"{Path} ({_sections.Length} sections, {_loads.Length} PT_LOAD)";
}
