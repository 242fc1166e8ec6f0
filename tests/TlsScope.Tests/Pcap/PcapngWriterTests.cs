using System.Buffers.Binary;
using System.Text;
using TlsScope.Outputs.Pcapng;

namespace TlsScope.Tests.Pcap;

public sealed class PcapngWriterTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tlsscope-pcapng-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void SectionHeaderNamesTheApplicationAndLeavesTheSectionLengthOpen()
    {
        var output = new MemoryStream();
        using (new PcapngWriter(output))
        {
        }

        PcapngBlock header = Assert.Single(PcapngBlocks(output));
        Assert.Equal(0x0A0D0D0Au, header.Type);
        Assert.Equal(0x1A2B3C4Du, BinaryPrimitives.ReadUInt32LittleEndian(header.Body));
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(header.Body.AsSpan(4)));
        Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(header.Body.AsSpan(6)));
        Assert.Equal(-1L, BinaryPrimitives.ReadInt64LittleEndian(header.Body.AsSpan(8)));
        Assert.Contains("TlsScope ", Encoding.UTF8.GetString(header.Body), StringComparison.Ordinal);
        Assert.StartsWith("TlsScope ", PcapngWriter.UserApplication, StringComparison.Ordinal);
    }

    [Fact]
    public void InterfacePacketAndSecretsBlocksAreLaidOutAsTheSpecSays()
    {
        var output = new MemoryStream();
        using (var writer = new PcapngWriter(output))
        {
            Assert.Equal(0, writer.AddInterface(LinkType.RawIp, "lo"));
            writer.WritePacket(0, 0x1_0000_0002, [0xAA, 0xBB, 0xCC], 3, PacketDirection.Outbound, "pid=1");
            writer.WriteKeyLog(["A B C"]);
        }

        List<PcapngBlock> blocks = PcapngBlocks(output);
        byte[] file = output.ToArray();
        int afterHeader = (int)BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(4));
        byte[] expected = Convert.FromHexString(
            // IDB: type 1, length 40, link type 101, reserved, snaplen 262144,
            // if_name "lo" (padded), if_tsresol 9 (padded), end of options, length again
            "01000000" + "28000000" + "6500" + "0000" + "00000400" +
            "02000200" + "6C6F0000" + "09000100" + "09000000" + "00000000" + "28000000" +
            // EPB: type 6, length 60, interface 0, timestamp high/low, captured 3, original 3,
            // data (padded), epb_flags outbound, opt_comment "pid=1" (padded), end, length
            "06000000" + "3C000000" + "00000000" + "01000000" + "02000000" + "03000000" + "03000000" +
            "AABBCC00" + "02000400" + "02000000" + "01000500" + "7069643D" + "31000000" + "00000000" + "3C000000" +
            // DSB: type 10, length 28, "TLSK", secrets length 6, "A B C\n" (padded), length
            "0A000000" + "1C000000" + "4B534C54" + "06000000" + "4120422043" + "0A0000" + "1C000000");
        Assert.Equal(expected, file[afterHeader..]);
        Assert.Equal(4, blocks.Count);
    }

    [Fact]
    public void TsharkReadsInterfaceTimestampDirectionCommentAndSecrets()
    {
        string path = Path.Combine(_directory, "w.pcapng");
        using (PcapngWriter writer = PcapngWriter.Create(path))
        {
            int id = writer.AddInterface(LinkType.RawIp, "eth7");
            writer.WriteKeyLog([$"CLIENT_RANDOM {new string('a', 64)} {new string('b', 96)}"]);
            writer.WritePacket(id, 1_700_000_000_123_456_789, [0x45, 0, 0, 20], 20, PacketDirection.Inbound, "pid=42 comm=curl");
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        string line = Assert.Single(Tshark.Fields(path, "",
            "frame.interface_name", "frame.time_epoch", "frame.packet_flags_direction", "frame.comment"));
        Assert.Equal("eth7\t1700000000.123456789\t0x00000001\tpid=42 comm=curl", line);
    }

    private static List<PcapngBlock> PcapngBlocks(MemoryStream output) => PcapngBlock.Read(output.ToArray());
}
