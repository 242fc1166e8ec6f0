using System.Net;
using TlsScope.Engine.Model;
using TlsScope.Outputs.Pcapng;

namespace TlsScope.Tests.Pcap;

/// <summary>Captured packets of made-up TCP connections, for the packet sink's tests.</summary>
internal sealed class TestPackets
{
    public static readonly CaptureInterface Eth0 = new(2, "eth0", LinkType.Ethernet);

    private readonly SyntheticPacketBuilder _builder = new(LinkType.Ethernet);
    private long _time = 1_700_000_000_000_000_000;

    public static IPEndPoint Client { get; } = new(IPAddress.Parse("10.0.0.1"), 50000);

    public static IPEndPoint Server { get; } = new(IPAddress.Parse("10.0.0.2"), 443);

    /// <summary>A ClientHello record start: record header, handshake header, version, random, and a little more.</summary>
    public static byte[] ClientHello(byte[] random)
    {
        byte[] hello = new byte[5 + 4 + 2 + 32 + 10];
        hello[0] = 0x16;
        hello[1] = 3;
        hello[2] = 1;
        hello[4] = (byte)(hello.Length - 5);
        hello[5] = 1;
        hello[8] = (byte)(hello.Length - 9);
        hello[9] = 3;
        hello[10] = 3;
        random.CopyTo(hello, 11);
        return hello;
    }

    public static byte[] Random(byte fill) => Enumerable.Repeat(fill, 32).ToArray();

    public CapturedPacket Segment(IPEndPoint source, IPEndPoint destination, uint sequence, byte flags, byte[] payload)
    {
        _time += 1000;
        bool egress = source.Equals(Client);
        byte[] data = _builder.Build(source, destination, egress, sequence, 1, (byte)(flags | TcpFlags.Ack), payload).ToArray();
        return new CapturedPacket(_time, Eth0, egress, data.Length, data, new PacketOwner(4321, 0, "curl"));
    }

    /// <summary>"keys" for a secrets block, "50000>443:len" for a packet.</summary>
    public static string[] Describe(byte[] file) =>
        PcapngBlock.Read(file).Where(b => b.Type is PcapngBlock.EnhancedPacket or PcapngBlock.DecryptionSecrets)
            .Select(b => b.Type == PcapngBlock.DecryptionSecrets ? "keys" : DescribePacket(b.PacketData)).ToArray();

    private static string DescribePacket(byte[] packet)
    {
        Assert.True(TcpSegment.TryParse(LinkType.Ethernet, packet, out TcpSegment segment));
        return $"{segment.Source.Port}>{segment.Destination.Port}:{segment.Payload.Length}";
    }
}
