using System.Buffers.Binary;

namespace TlsScope.Tests.Pcap;

/// <summary>A pcapng block as read back: its type and body (between the length fields).</summary>
internal sealed record PcapngBlock(uint Type, byte[] Body)
{
    public const uint InterfaceDescription = 1;
    public const uint EnhancedPacket = 6;
    public const uint DecryptionSecrets = 0x0A;

    /// <summary>An EPB's packet bytes.</summary>
    public byte[] PacketData => Body.AsSpan(20, (int)BinaryPrimitives.ReadUInt32LittleEndian(Body.AsSpan(12))).ToArray();

    /// <summary>Splits a little-endian pcapng file into blocks, checking both length fields.</summary>
    public static List<PcapngBlock> Read(byte[] file)
    {
        var blocks = new List<PcapngBlock>();
        int offset = 0;
        while (offset < file.Length)
        {
            uint type = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(offset));
            int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(offset + 4));
            Assert.Equal(0, length % 4);
            Assert.Equal((uint)length, BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(offset + length - 4)));
            blocks.Add(new PcapngBlock(type, file.AsSpan(offset + 8, length - 12).ToArray()));
            offset += length;
        }

        return blocks;
    }
}
