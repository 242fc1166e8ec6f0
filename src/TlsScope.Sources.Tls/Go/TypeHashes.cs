using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using TlsScope.Bpf.Elf;

namespace TlsScope.Sources.Tls.Go;

/// <summary>
/// The hash the Go compiler gave a type, as the binary itself holds it. An itab carries its
/// concrete type's hash, so the kernel knows a net.Conn is a *net.TCPConn by it. The compiler's
/// hash of the type's link name changed over the releases (cmd/compile's types.TypeHash): MD5
/// (1.15), NOT-SHA-256 (1.19-1.23), bytes 8-11 of SHA-256 with its first byte XOR 1 (1.24),
/// SHA-256 with its first byte XOR 0xff (1.25-1.27). Rather than trust a version table, the
/// binary's own runtime type descriptor is found by its shape and by a hash one of those gives.
/// </summary>
public static class TypeHashes
{
    public const string TcpConn = "*net.TCPConn";

    private const byte KindPtr = 22; // reflect.Pointer in abi.Type.Kind_'s low five bits

    /// <summary>The hashes the compilers this table knows would give the type's link name.</summary>
    public static IReadOnlyList<uint> Candidates(string linkName)
    {
        var bytes = Encoding.UTF8.GetBytes(linkName);
        var sha = SHA256.HashData(bytes);
        var flipped = (byte[])sha.Clone();
        flipped[0] ^= 0xff;
        return
        [
            BinaryPrimitives.ReadUInt32LittleEndian(MD5.HashData(bytes)),
            ~BinaryPrimitives.ReadUInt32LittleEndian(sha),
            BinaryPrimitives.ReadUInt32LittleEndian(sha.AsSpan(8)), // 1.24: the XOR touched byte 0 only
            BinaryPrimitives.ReadUInt32LittleEndian(flipped),
        ];
    }

    /// <summary>The hash of the pointer type <paramref name="linkName"/> in the binary: an
    /// 8-aligned runtime type descriptor of size 8, 8 pointer bytes, kind pointer, alignment 8,
    /// whose hash is one of <see cref="Candidates"/>. Null when the binary holds none.</summary>
    public static uint? FindPointerType(ElfImage image, string linkName)
    {
        var candidates = Candidates(linkName);
        foreach (var section in image.Sections)
        {
            if (!section.IsLoadedData || section.IsExecutable || section.Name.EndsWith(".gopclntab", StringComparison.Ordinal)
                || section.Size < 24 || section.Size > int.MaxValue)
            {
                continue;
            }

            var data = image.ReadSection(section);
            var start = (int)((8 - section.Address % 8) % 8);
            for (var at = start; at + 24 <= data.Length; at += 8)
            {
                var d = data.AsSpan(at, 24);
                var hash = BinaryPrimitives.ReadUInt32LittleEndian(d[16..]);
                if (BinaryPrimitives.ReadUInt64LittleEndian(d) == 8 && BinaryPrimitives.ReadUInt64LittleEndian(d[8..]) == 8
                    && d[21] == 8 && d[22] == 8 && (d[23] & 0x1f) == KindPtr && candidates.Contains(hash))
                {
                    return hash;
                }
            }
        }

        return null;
    }
}
