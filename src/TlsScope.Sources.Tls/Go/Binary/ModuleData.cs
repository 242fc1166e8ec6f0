using System.Buffers.Binary;

namespace TlsScope.Sources.Tls.Go.Binary;

/// <summary>
/// Finds runtime.firstmoduledata to learn runtime.text when the pclntab header does not carry it
/// (Go 1.26 writes 0 there so that the table needs no relocation). The struct's leading fields
/// have kept one layout since Go 1.16: pcHeader pointer; the slices funcnametab, cutab, filetab,
/// pctab, pclntable, ftab (pointer, length, capacity each); findfunctab, minpc, maxpc, text, etext.
/// </summary>
internal static class ModuleData
{
    private const int FuncNameTab = 8;
    private const int PcTab = 80;
    private const int PclnTable = 104;
    private const int Ftab = 128;
    private const int MinPc = 160;
    private const int MaxPc = 168;
    private const int Text = 176;
    private const int Etext = 184;

    /// <summary>
    /// The <c>text</c> field of the first candidate that validates as the moduledata of this
    /// pclntab: its slices point at the header's tables, ftab's length is nfunc + 1, and minpc /
    /// maxpc equal text plus the first and sentinel entry offsets. Null if none does.
    /// </summary>
    public static ulong? FindText(IAddressSpace memory, in PclntabHeader header, ulong headerAddress,
        ulong firstEntryOffset, ulong lastEntryOffset, IEnumerable<ulong> candidates)
    {
        foreach (var at in candidates)
        {
            if (TryValidate(memory, header, headerAddress, firstEntryOffset, lastEntryOffset, at, out var text))
            {
                return text;
            }
        }
        return null;
    }

    /// <summary>8-byte aligned addresses in <paramref name="bytes"/> (mapped at
    /// <paramref name="address"/>) whose word equals <paramref name="target"/>.</summary>
    public static IEnumerable<ulong> WordsEqualTo(byte[] bytes, ulong address, ulong target)
    {
        var first = (int)((8 - (address % 8)) % 8);
        for (var at = first; at + 8 <= bytes.Length; at += 8)
        {
            if (BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(at)) == target)
            {
                yield return address + (ulong)at;
            }
        }
    }

    private static bool TryValidate(IAddressSpace memory, in PclntabHeader header, ulong headerAddress,
        ulong firstEntryOffset, ulong lastEntryOffset, ulong at, out ulong text)
    {
        text = 0;
        Span<byte> length = stackalloc byte[8];
        return Pointer(memory, at) == headerAddress
            && Pointer(memory, at + FuncNameTab) == headerAddress + header.FuncNameOffset
            && Pointer(memory, at + PcTab) == headerAddress + header.PcTabOffset
            && Pointer(memory, at + PclnTable) == headerAddress + header.PclnOffset
            && Pointer(memory, at + Ftab) == headerAddress + header.PclnOffset
            && memory.TryRead(at + Ftab + 8, length)
            && BinaryPrimitives.ReadUInt64LittleEndian(length) == (ulong)header.FunctionCount + 1
            && Pointer(memory, at + Text) is { } found
            && Pointer(memory, at + Etext) >= found
            && Pointer(memory, at + MinPc) == found + firstEntryOffset
            && Pointer(memory, at + MaxPc) == found + lastEntryOffset
            && (text = found) != 0;
    }

    private static ulong? Pointer(IAddressSpace memory, ulong at) => memory.TryReadPointer(at, out var value) ? value : null;
}
