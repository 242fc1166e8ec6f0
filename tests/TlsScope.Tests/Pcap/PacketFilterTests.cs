using System.Net;
using TlsScope.Outputs.Pcapng;

namespace TlsScope.Tests.Pcap;

public sealed class PacketFilterTests
{
    private readonly TestPackets _packets = new();

    [Fact]
    public void TcpPort443KeepsTlsAndDropsTheRest()
    {
        using PacketFilter filter = PacketFilter.Compile("tcp port 443", LinkType.Ethernet, LinkType.RawIp);
        byte[] https = _packets.Segment(TestPackets.Client, TestPackets.Server, 1, 0, [1, 2, 3]).Data.ToArray();
        byte[] http = _packets.Segment(TestPackets.Client, new IPEndPoint(TestPackets.Server.Address, 80), 1, 0, [1]).Data.ToArray();

        Assert.True(filter.Matches(LinkType.Ethernet, https, https.Length));
        Assert.False(filter.Matches(LinkType.Ethernet, http, http.Length));
        Assert.True(filter.Matches(LinkType.RawIp, https.AsSpan(14), https.Length - 14)); // same packet without Ethernet
        Assert.False(filter.Matches(LinkType.RawIp, http.AsSpan(14), http.Length - 14));
    }

    [Fact]
    public void AnExpressionThatDoesNotFitALinkTypeMatchesNothingThere()
    {
        using PacketFilter filter = PacketFilter.Compile("ether host 02:00:00:00:00:01");
        byte[] packet = _packets.Segment(TestPackets.Client, TestPackets.Server, 1, 0, [1]).Data.ToArray();

        Assert.True(filter.Matches(LinkType.Ethernet, packet, packet.Length));
        Assert.False(filter.Matches(LinkType.RawIp, packet.AsSpan(14), packet.Length - 14));
    }

    [Fact]
    public void ABadExpressionGivesAOneLineError()
    {
        PacketFilterException error = Assert.Throws<PacketFilterException>(() => PacketFilter.Compile("tcp prot 443"));

        Assert.StartsWith("--filter 'tcp prot 443': ", error.Message, StringComparison.Ordinal);
        Assert.Contains("syntax error", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }
}
