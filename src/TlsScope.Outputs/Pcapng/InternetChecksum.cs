using System.Buffers.Binary;

namespace TlsScope.Outputs.Pcapng;

/// <summary>The ones' complement sum of RFC 1071, for IPv4 header and TCP checksums.</summary>
internal static class InternetChecksum
{
    /// <summary>Adds big-endian 16-bit words (an odd last byte padded with zero) to a running sum.</summary>
    public static ulong Add(ulong sum, ReadOnlySpan<byte> bytes)
    {
        int i = 0;
        for (; i + 1 < bytes.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(bytes[i..]);
        }

        if (i < bytes.Length)
        {
            sum += (ulong)bytes[i] << 8;
        }

        return sum;
    }

    /// <summary>Folds the carries in and complements: the value to store in the header.</summary>
    public static ushort Finish(ulong sum)
    {
        while (sum > 0xFFFF)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)~sum;
    }
}
