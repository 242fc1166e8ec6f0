using System.Buffers.Binary;

namespace TlsScope.Sources.Tls.Go.Binary;

/// <summary>
/// The header at the start of a Go pclntab (runtime.pcHeader from Go 1.16 on). Offsets are from
/// the header's start. Layouts, after magic, two zero bytes, minLC and ptrSize:
/// 1.2–1.15: nfunc, then the function table at 16 (entry, funcoff) pairs of pointers;
/// 1.16–1.17: nfunc, nfiles, funcnameOffset, cuOffset, filetabOffset, pctabOffset, pclnOffset;
/// 1.18+: nfunc, nfiles, textStart, then the same five offsets (and 32-bit function table entries).
/// </summary>
public readonly record struct PclntabHeader(
    uint Magic, byte MinLC, int FunctionCount, ulong FileCount, ulong TextStart,
    ulong FuncNameOffset, ulong CuOffset, ulong FileTabOffset, ulong PcTabOffset, ulong PclnOffset)
{
    public const uint MagicGo12 = 0xfffffffb;
    public const uint MagicGo116 = 0xfffffffa;
    public const uint MagicGo118 = 0xfffffff0;
    public const uint MagicGo120 = 0xfffffff1;

    private const int PointerSize = 8;

    /// <summary>Bytes in the header for a magic (0 for an unknown magic).</summary>
    public static int SizeOf(uint magic) => magic switch
    {
        MagicGo12 => 16,
        MagicGo116 => 8 + 7 * PointerSize,
        MagicGo118 or MagicGo120 => 8 + 8 * PointerSize,
        _ => 0,
    };

    /// <summary>True for the 1.18+ layouts, whose function entries are 32-bit offsets from <see cref="TextStart"/>.</summary>
    public bool HasTextRelativeEntries => Magic is MagicGo118 or MagicGo120;

    /// <summary>The oldest Go release that writes this magic.</summary>
    public GoVersion FirstVersion => Magic switch
    {
        MagicGo12 => new GoVersion(1, 2, 0),
        MagicGo116 => new GoVersion(1, 16, 0),
        MagicGo118 => new GoVersion(1, 18, 0),
        _ => new GoVersion(1, 20, 0),
    };

    /// <summary>Decodes the header; false with a reason when it is not one (for amd64: ptrSize 8).</summary>
    public static bool TryParse(ReadOnlySpan<byte> data, out PclntabHeader header, out string reason)
    {
        header = default;
        if (data.Length < 8)
        {
            reason = "too short";
            return false;
        }

        var magic = BinaryPrimitives.ReadUInt32LittleEndian(data);
        var size = SizeOf(magic);
        if (size == 0)
        {
            reason = $"unknown magic 0x{magic:x8}";
            return false;
        }

        if (data[4] != 0 || data[5] != 0 || data[6] is not (1 or 2 or 4) || data[7] != PointerSize)
        {
            reason = $"bad header bytes {Convert.ToHexString(data[4..8])}";
            return false;
        }

        if (data.Length < size)
        {
            reason = "truncated header";
            return false;
        }

        var count = Word(data, 0);
        if (count >= int.MaxValue / 16)
        {
            reason = $"implausible function count {count}";
            return false;
        }

        header = magic switch
        {
            MagicGo12 => new PclntabHeader(magic, data[6], (int)count, 0, 0, 0, 0, 0, 0, 16),
            MagicGo116 => new PclntabHeader(magic, data[6], (int)count, Word(data, 1), 0, Word(data, 2), Word(data, 3), Word(data, 4), Word(data, 5), Word(data, 6)),
            _ => new PclntabHeader(magic, data[6], (int)count, Word(data, 1), Word(data, 2), Word(data, 3), Word(data, 4), Word(data, 5), Word(data, 6), Word(data, 7)),
        };
        reason = "";
        return true;
    }

    /// <summary>The pointer-sized field after the first 8 bytes.</summary>
    private static ulong Word(ReadOnlySpan<byte> data, int index) => BinaryPrimitives.ReadUInt64LittleEndian(data[(8 + index * PointerSize)..]);
}
