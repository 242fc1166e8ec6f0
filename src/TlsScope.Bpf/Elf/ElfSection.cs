namespace TlsScope.Bpf.Elf;

/// <summary>One section header: <see cref="Address"/> is where the section is loaded (0 when it is
/// not), <see cref="Offset"/> where its bytes sit in the file (none for SHT_NOBITS).</summary>
public readonly record struct ElfSection(string Name, uint Type, ulong Flags, ulong Address, ulong Offset, ulong Size, uint Link, ulong EntrySize)
{
    public const uint TypeProgBits = 1;
    public const uint TypeRela = 4;
    public const uint TypeNoBits = 8;

    public const ulong FlagWrite = 1;
    public const ulong FlagAlloc = 2;
    public const ulong FlagExecute = 4;

    /// <summary>Occupies memory at run time and has bytes in the file.</summary>
    public bool IsLoadedData => (Flags & FlagAlloc) != 0 && Type != TypeNoBits;

    public bool IsExecutable => (Flags & FlagExecute) != 0;

    public bool IsWritable => (Flags & FlagWrite) != 0;

    public bool Contains(ulong address) => address >= Address && address - Address < Size;
}
