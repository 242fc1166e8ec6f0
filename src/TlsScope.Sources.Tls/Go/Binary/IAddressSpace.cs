using TlsScope.Bpf.Elf;

namespace TlsScope.Sources.Tls.Go.Binary;

/// <summary>The bytes behind virtual addresses, as the Go readers see an image: an ELF file, or a
/// hand-built fixture in tests.</summary>
internal interface IAddressSpace
{
    /// <summary>Fills the span from the address; false unless all of it is backed by bytes.</summary>
    bool TryRead(ulong address, Span<byte> destination);

    /// <summary>The 8-byte pointer the loaded process sees at the address (relocations applied,
    /// relative to the load base).</summary>
    bool TryReadPointer(ulong address, out ulong value);

    /// <summary>Addresses of words that a relocation makes point at <paramref name="target"/>
    /// (their file bytes may be zero).</summary>
    IEnumerable<ulong> RelocatedPointersTo(ulong target);
}

/// <summary><see cref="IAddressSpace"/> over an <see cref="ElfImage"/>'s PT_LOAD segments.</summary>
internal sealed class ElfAddressSpace(ElfImage image) : IAddressSpace
{
    public bool TryRead(ulong address, Span<byte> destination) => image.TryReadAt(address, destination);

    public bool TryReadPointer(ulong address, out ulong value) => image.TryReadPointer(address, out value);

    public IEnumerable<ulong> RelocatedPointersTo(ulong target) =>
        image.RelativeRelocations.Where(r => r.Value == target).Select(r => r.Key);
}
