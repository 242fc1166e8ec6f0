namespace TlsScope.Bpf.Elf;

/// <summary>One PT_LOAD program header: <see cref="FileSize"/> bytes at <see cref="Offset"/> are
/// mapped at <see cref="VirtualAddress"/> (relative to the load base for ET_DYN).</summary>
public readonly record struct ElfSegment(uint Type, uint Flags, ulong Offset, ulong VirtualAddress, ulong FileSize, ulong MemorySize)
{
    public const uint FlagExecute = 1;
    public const uint FlagWrite = 2;

    public bool IsExecutable => (Flags & FlagExecute) != 0;

    public bool IsWritable => (Flags & FlagWrite) != 0;

    /// <summary>Whether the address lies in the part backed by file bytes (not the zero-filled tail).</summary>
    public bool ContainsInFile(ulong address) => address >= VirtualAddress && address - VirtualAddress < FileSize;
}
