using System.Text;
using TlsScope.Engine.Model;
using TlsScope.Outputs.Pcapng;

namespace TlsScope.Tests.Pcap;

public sealed class PcapngSinkTests
{
    private static readonly byte[] RandomA = TestPackets.Random(0xA1);
    private static readonly ProcessInfo Curl = new(4321, 4321, 0, "curl");

    private readonly TestPackets _packets = new();
    private readonly ManualClock _clock = new();
    private readonly MemoryStream _output = new();

    [Fact]
    public void HoldsTheConnectionFromItsClientHelloUntilItsKeysThenWritesKeysFirst()
    {
        var other = new System.Net.IPEndPoint(TestPackets.Client.Address, 50001);
        PcapngSink sink = Sink();
        sink.OnPacket(_packets.Segment(TestPackets.Client, TestPackets.Server, 1, TcpFlags.Syn, []));
        sink.OnPacket(_packets.Segment(TestPackets.Client, TestPackets.Server, 1, 0, TestPackets.ClientHello(RandomA)));
        sink.OnPacket(_packets.Segment(TestPackets.Server, TestPackets.Client, 1, 0, new byte[99]));
        sink.OnPacket(_packets.Segment(other, TestPackets.Server, 1, 0, Encoding.ASCII.GetBytes("not tls")));
        sink.Flush();
        sink.OnKeys(Keys(RandomA));
        sink.OnPacket(_packets.Segment(TestPackets.Client, TestPackets.Server, 54, 0, new byte[7]));
        PcapngSinkCounters counters = sink.Counters;
        sink.Dispose();

        Assert.Equal(["50000>443:0", "50001>443:7", "keys", "50000>443:53", "443>50000:99", "50000>443:7"], TestPackets.Describe(_output.ToArray()));
        Assert.Equal(new PcapngSinkCounters(5, 0, 2, 0, 0, 1), counters);
    }

    [Fact]
    public void KeysBeforeTheClientHelloAreWrittenAtOnceAndNothingIsHeld()
    {
        PcapngSink sink = Sink();
        sink.OnKeys(Keys(RandomA));
        sink.OnKeys(Keys(RandomA)); // written once
        sink.OnPacket(_packets.Segment(TestPackets.Client, TestPackets.Server, 1, 0, TestPackets.ClientHello(RandomA)));
        sink.OnPacket(_packets.Segment(TestPackets.Server, TestPackets.Client, 1, 0, new byte[5]));
        PcapngSinkCounters counters = sink.Counters;
        sink.Dispose();

        Assert.Equal(["keys", "50000>443:53", "443>50000:5"], TestPackets.Describe(_output.ToArray()));
        Assert.Equal(new PcapngSinkCounters(2, 0, 0, 0, 0, 1), counters);
    }

    [Fact]
    public void AConnectionWhoseKeysDoNotComeIsWrittenAfterTheTimeout()
    {
        PcapngSink sink = Sink();
        sink.OnPacket(_packets.Segment(TestPackets.Client, TestPackets.Server, 1, 0, TestPackets.ClientHello(RandomA)));
        _clock.Advance(TimeSpan.FromSeconds(2.9));
        sink.Flush();
        Assert.Equal(0, sink.Counters.PacketsWritten);

        _clock.Advance(TimeSpan.FromSeconds(0.1));
        sink.Flush();
        Assert.Equal(new PcapngSinkCounters(1, 0, 0, 1, 1, 0), sink.Counters);

        sink.OnPacket(_packets.Segment(TestPackets.Server, TestPackets.Client, 1, 0, new byte[5])); // not held again
        sink.OnKeys(Keys(RandomA));
        sink.Dispose();
        Assert.Equal(["50000>443:53", "443>50000:5", "keys"], TestPackets.Describe(_output.ToArray()));
    }

    [Fact]
    public void AClientHelloSplitOverSegmentsIsRecognised()
    {
        byte[] hello = TestPackets.ClientHello(RandomA);
        PcapngSink sink = Sink();
        sink.OnPacket(_packets.Segment(TestPackets.Client, TestPackets.Server, 1, 0, hello[..20]));
        sink.OnPacket(_packets.Segment(TestPackets.Client, TestPackets.Server, 21, 0, hello[20..]));
        sink.OnKeys(Keys(RandomA));
        Assert.Equal(new PcapngSinkCounters(2, 0, 2, 0, 0, 1), sink.Counters);
        sink.Dispose();
        Assert.Equal(["keys", "50000>443:20", "50000>443:33"], TestPackets.Describe(_output.ToArray()));
    }

    [Fact]
    public void FinBothWaysShortensTheWaitToTheGraceThenDisposeReleasesTheRest()
    {
        PcapngSink sink = Sink();
        sink.OnPacket(_packets.Segment(TestPackets.Client, TestPackets.Server, 1, 0, TestPackets.ClientHello(RandomA)));
        sink.OnPacket(_packets.Segment(TestPackets.Client, TestPackets.Server, 54, TcpFlags.Fin, []));
        Assert.Equal(0, sink.Counters.PacketsWritten);
        sink.OnPacket(_packets.Segment(TestPackets.Server, TestPackets.Client, 1, TcpFlags.Fin, []));
        _clock.Advance(TimeSpan.FromMilliseconds(999));
        sink.Flush();
        Assert.Equal(0, sink.Counters.PacketsWritten); // the keys may still be on their way
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        sink.Flush();
        Assert.Equal(new PcapngSinkCounters(3, 0, 0, 3, 1, 0), sink.Counters);

        byte[] randomB = TestPackets.Random(0xB2);
        var client2 = new System.Net.IPEndPoint(TestPackets.Client.Address, 50002);
        sink.OnPacket(_packets.Segment(client2, TestPackets.Server, 1, 0, TestPackets.ClientHello(randomB)));
        sink.Dispose();
        Assert.Equal(["50000>443:53", "50000>443:0", "443>50000:0", "50002>443:53"], TestPackets.Describe(_output.ToArray()));
    }

    [Fact]
    public void KeysDecodedLateAreStillInTimeWhileTheKeyPathIsBehind()
    {
        PcapngSink sink = Sink();
        sink.KeysThrough(_clock.Now);
        DateTimeOffset ended = EndedConnection(sink);
        _clock.Advance(TimeSpan.FromSeconds(5)); // the decoder starved: its clock stays behind
        sink.KeysThrough(ended + TimeSpan.FromMilliseconds(999));
        sink.Flush();
        Assert.Equal(0, sink.Counters.PacketsWritten);

        sink.OnKeys(Keys(RandomA));
        Assert.Equal(new PcapngSinkCounters(3, 0, 3, 0, 0, 1), sink.Counters);
        sink.Dispose();
        Assert.Equal(["keys", "50000>443:53", "50000>443:0", "443>50000:0"], TestPackets.Describe(_output.ToArray()));
    }

    [Fact]
    public void AKeyPathReadPastTheGraceProvesTheKeysAreNotComingAndItsClockNeverGoesBack()
    {
        PcapngSink sink = Sink();
        DateTimeOffset ended = EndedConnection(sink);
        _clock.Advance(TimeSpan.FromSeconds(2));
        sink.KeysThrough(ended + TimeSpan.FromMilliseconds(999));
        sink.Flush();
        Assert.Equal(0, sink.Counters.PacketsWritten);

        sink.KeysThrough(ended + TimeSpan.FromSeconds(1));
        Assert.Equal(0, sink.Counters.PacketsWritten); // never written on the key path's thread
        sink.KeysThrough(ended); // an older mark, late: the key path's clock never goes back
        sink.Flush();
        Assert.Equal(new PcapngSinkCounters(3, 0, 0, 3, 1, 0), sink.Counters);
        sink.Dispose();
    }

    [Fact]
    public void AKeyPathThatStopsIsWaitedForAtMostMaxKeyLagPastTheDeadline()
    {
        PcapngSink sink = Sink();
        sink.KeysThrough(_clock.Now);
        sink.OnPacket(_packets.Segment(TestPackets.Client, TestPackets.Server, 1, 0, TestPackets.ClientHello(RandomA)));
        _clock.Advance(TimeSpan.FromSeconds(3 + 10) - TimeSpan.FromMilliseconds(1));
        sink.Flush();
        Assert.Equal(0, sink.Counters.PacketsWritten);

        _clock.Advance(TimeSpan.FromMilliseconds(1));
        sink.Flush();
        Assert.Equal(new PcapngSinkCounters(1, 0, 0, 1, 1, 0), sink.Counters);
        sink.Dispose();
    }

    [Fact]
    public void TheKeyPathsClockNeverRunsAheadOfTheWallClock()
    {
        PcapngSink sink = Sink();
        DateTimeOffset ended = EndedConnection(sink);
        sink.KeysThrough(ended + TimeSpan.FromHours(1)); // a clock step on the key path's side
        sink.Flush();
        Assert.Equal(0, sink.Counters.PacketsWritten);
        _clock.Advance(TimeSpan.FromSeconds(1));
        sink.Flush();
        Assert.Equal(3, sink.Counters.PacketsWritten);
        sink.Dispose();
    }

    /// <summary>A ClientHello, then FIN both ways; returns when it ended.</summary>
    private DateTimeOffset EndedConnection(PcapngSink sink)
    {
        sink.OnPacket(_packets.Segment(TestPackets.Client, TestPackets.Server, 1, 0, TestPackets.ClientHello(RandomA)));
        sink.OnPacket(_packets.Segment(TestPackets.Client, TestPackets.Server, 54, TcpFlags.Fin, []));
        sink.OnPacket(_packets.Segment(TestPackets.Server, TestPackets.Client, 1, TcpFlags.Fin, []));
        return _clock.Now;
    }

    [Fact]
    public void TheFilterDropsPacketsBeforeAnythingElse()
    {
        using PacketFilter filter = PacketFilter.Compile("tcp port 443");
        PcapngSink sink = Sink(filter);
        var web = new System.Net.IPEndPoint(TestPackets.Server.Address, 80);
        sink.OnPacket(_packets.Segment(TestPackets.Client, web, 1, 0, TestPackets.ClientHello(RandomA)));
        sink.OnPacket(_packets.Segment(TestPackets.Client, TestPackets.Server, 1, TcpFlags.Syn, []));
        Assert.Equal(new PcapngSinkCounters(1, 1, 0, 0, 0, 0), sink.Counters);
        sink.Dispose();
    }

    [Fact]
    public void PacketCommentsNameTheOwningProcess()
    {
        string path = Path.Combine(Path.GetTempPath(), $"tlsscope-sink-{Guid.NewGuid():N}.pcapng");
        try
        {
            using (var sink = new PcapngSink(path, new PcapngSinkOptions { Describer = new ProcessDescriber("/nonexistent") }))
            {
                sink.OnPacket(_packets.Segment(TestPackets.Client, TestPackets.Server, 1, TcpFlags.Syn, []));
            }

            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            Assert.Equal(["eth0\t0x00000002\tpid=4321 comm=curl"],
                Tshark.Fields(path, "", "frame.interface_name", "frame.packet_flags_direction", "frame.comment"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private PcapngSink Sink(PacketFilter? filter = null, long maxHeld = 64 << 20, long maxPerConnection = 8 << 20) =>
        new(new PcapngWriter(_output), new PcapngSinkOptions
        {
            Clock = _clock,
            Filter = filter,
            Describer = new ProcessDescriber("/nonexistent"),
            MaxHeldBytes = maxHeld,
            MaxHeldBytesPerConnection = maxPerConnection,
        });

    [Fact]
    public void AConnectionOverItsOwnCapGoesOutWithoutKeys()
    {
        PcapngSink sink = Sink(maxPerConnection: 300);
        sink.OnPacket(_packets.Segment(TestPackets.Client, TestPackets.Server, 1, 0, TestPackets.ClientHello(RandomA)));
        Assert.Equal(0, sink.Counters.PacketsWritten);
        sink.OnPacket(_packets.Segment(TestPackets.Server, TestPackets.Client, 1, 0, new byte[300]));
        Assert.Equal(new PcapngSinkCounters(2, 0, 0, 2, 1, 0), sink.Counters);
        sink.Dispose();
    }

    [Fact]
    public void PastTheOverallBudgetTheConnectionNearestItsDeadlineGoesOutFirst()
    {
        var (first, second) = (new System.Net.IPEndPoint(TestPackets.Client.Address, 50010), new System.Net.IPEndPoint(TestPackets.Client.Address, 50011));
        byte[] hello = TestPackets.ClientHello(RandomA);
        int onePacket = _packets.Segment(first, TestPackets.Server, 1, 0, hello).Data.Length;
        PcapngSink sink = Sink(maxHeld: 2 * onePacket + 10);
        sink.OnPacket(_packets.Segment(first, TestPackets.Server, 1, 0, hello));
        _clock.Advance(TimeSpan.FromMilliseconds(10));
        sink.OnPacket(_packets.Segment(second, TestPackets.Server, 1, 0, TestPackets.ClientHello(TestPackets.Random(0xB2))));
        Assert.Equal(0, sink.Counters.PacketsWritten); // both fit
        sink.OnPacket(_packets.Segment(second, TestPackets.Server, 1 + (uint)hello.Length, 0, new byte[20]));
        Assert.Equal(new PcapngSinkCounters(1, 0, 0, 1, 1, 0), sink.Counters); // the first one's deadline is nearer
        sink.Dispose();
        Assert.StartsWith("50010>443", TestPackets.Describe(_output.ToArray())[0], StringComparison.Ordinal);
    }

    private static TlsKeySet Keys(byte[] random) =>
        new(0, 1, Curl, "libssl.so.3", random, [$"CLIENT_RANDOM {Convert.ToHexString(random)} {new string('0', 96)}"]);
}
