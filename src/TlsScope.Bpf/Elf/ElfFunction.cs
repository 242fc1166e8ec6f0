namespace TlsScope.Bpf.Elf;

/// <summary>
/// A defined function symbol. <see cref="Address"/> is the symbol value (a virtual address,
/// relative to the load base for shared objects and PIE); <see cref="FileOffset"/> is where its
/// first instruction sits in the file, which is what a uprobe is attached by.
/// </summary>
public readonly record struct ElfFunction(string Name, ulong Address, ulong Size, ulong FileOffset);
