using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Text;
using TlsScope.Engine.Model;
using TlsScope.Sources.Tls.Events;
using TlsScope.Engine.Kernel;
using TlsScope.Engine.Reading;
using TlsScope.Sources.Tls.Decoding;
using static TlsScope.Tests.Decoding.KernelRecords;

namespace TlsScope.Tests.Decoding;

/// <summary>
/// EventDecoder: the batch format, the C structs read in place, addresses, process names,
/// library names and kernel time converted to Unix time.
/// </summary>
public sealed class EventDecoderTests
{
    private static DataChunk DecodeOne(ChunkHeader h, byte[]? payload = null)
    {
        var p = new DecodingPipeline();
        payload ??= Bytes((int)h.Len, 1);
        p.Feed(Chunk(in h, payload));
        return Assert.Single(p.Sink.Data);
    }

    [Fact]
    public void Ipv4Address_IsFormattedAsIpColonPort()
    {
        var h = Header(1, Direction.Write, 0, 4);
        h.Addr = Ipv4(IPAddress.Parse("10.1.2.3"), 50123, IPAddress.Parse("127.0.0.1"), 443);

        var a = DecodeOne(h).Address;

        Assert.True(a.IsKnown);
        Assert.Equal("10.1.2.3:50123", ConnectionAddress.Format(a.Local));
        Assert.Equal("127.0.0.1:443", ConnectionAddress.Format(a.Remote));
    }

    [Fact]
    public void Ipv6Address_IsFormattedInBrackets()
    {
        var h = Header(1, Direction.Read, 0, 4);
        h.Addr = Ipv6(IPAddress.IPv6Loopback, 40000, IPAddress.IPv6Loopback, 8443);

        var a = DecodeOne(h).Address;

        Assert.True(a.IsKnown);
        Assert.Equal("[::1]:40000", ConnectionAddress.Format(a.Local));
        Assert.Equal("[::1]:8443", ConnectionAddress.Format(a.Remote));
    }

    [Fact]
    public void ToAddress_ReadsOnlyTheFirstFourBytesForIpv4()
    {
        var s = Ipv4(IPAddress.Parse("192.168.0.10"), 1, IPAddress.Parse("127.0.0.1"), 443);
        // Bytes past the IPv4 address must not matter.
        for (var i = 4; i < 16; i++)
        {
            unsafe
            {
                s.LocalAddr[i] = 0xAB;
                s.RemoteAddr[i] = 0xCD;
            }
        }

        var a = EventDecoder.ToAddress(in s);

        Assert.Equal(new IPEndPoint(IPAddress.Parse("192.168.0.10"), 1), a.Local);
        Assert.Equal("127.0.0.1:443", ConnectionAddress.Format(a.Remote));
    }

    [Fact]
    public void Ipv6Address_KeepsEveryByte()
    {
        var local = IPAddress.Parse("2001:db8::1:2");
        var remote = IPAddress.Parse("fe80::aa:bbcc:ddee:ff00");
        var s = Ipv6(local, 65535, remote, 1);

        var a = EventDecoder.ToAddress(in s);

        Assert.Equal(new IPEndPoint(local, 65535), a.Local);
        Assert.Equal(new IPEndPoint(remote, 1), a.Remote);
        Assert.Equal("[2001:db8::1:2]:65535", ConnectionAddress.Format(a.Local));
    }

    [Fact]
    public void Ipv4MappedIpv6Address_ShowsAsIpv4()
    {
        var s = Ipv6(IPAddress.Parse("::ffff:10.0.0.2"), 40000, IPAddress.Parse("::ffff:127.0.0.1"), 443);

        var a = EventDecoder.ToAddress(in s);

        Assert.Equal("10.0.0.2:40000", ConnectionAddress.Format(a.Local));
        Assert.Equal("127.0.0.1:443", ConnectionAddress.Format(a.Remote));
    }

    [Fact]
    public void FdInferredFlag_MarksTheAddressInferred_PerRecord()
    {
        var p = new DecodingPipeline();
        var seen = Header(1, Direction.Write, 0, 1);
        var inferred = Header(1, Direction.Write, 1, 1, ChunkFlags.First | ChunkFlags.Last | ChunkFlags.FdInferred);

        p.Feed(Chunk(in seen, [1]), Chunk(in inferred, [2]), Chunk(seen with { StreamOffset = 2 }, [3]));

        Assert.Equal([false, true, false], p.Sink.Data.Select(d => d.Address.Inferred));
        Assert.All(p.Sink.Data, d => Assert.Equal("127.0.0.1:443", ConnectionAddress.Format(d.Address.Remote)));
    }

    [Fact]
    public void FamilyZero_IsUnknown()
    {
        var h = Header(1, Direction.Write, 0, 4);
        h.Addr = default;

        var a = DecodeOne(h).Address;

        Assert.Equal(ConnectionAddress.Unknown, a);
        Assert.False(a.IsKnown);
        Assert.Null(a.Local);
        Assert.Null(a.Remote);
        Assert.Null(ConnectionAddress.Format(a.Remote));
        Assert.Equal(ConnectionAddress.Unknown, EventDecoder.ToAddress(default(SockAddr)));
    }

    [Fact]
    public void AddressOfAConnection_FollowsAChangeOfPorts()
    {
        var p = new DecodingPipeline();
        var first = Header(1, Direction.Write, 0, 1);
        first.Addr = Ipv4(IPAddress.Loopback, 50000, IPAddress.Loopback, 443);
        var second = Header(1, Direction.Write, 1, 1);
        second.Addr = Ipv4(IPAddress.Loopback, 50001, IPAddress.Loopback, 8443);

        p.Feed(Chunk(in first, [1]), Chunk(first with { StreamOffset = 1 }, [2]), Chunk(second with { StreamOffset = 2 }, [3]));

        var remotes = p.Sink.Data.Select(d => ConnectionAddress.Format(d.Address.Remote)).ToList();
        Assert.Equal(["127.0.0.1:443", "127.0.0.1:443", "127.0.0.1:8443"], remotes);
        Assert.Equal("127.0.0.1:50001", ConnectionAddress.Format(p.Sink.Data.Last().Address.Local));
    }

    [Fact]
    public void Comm_EndsAtTheFirstNul()
    {
        var h = Header(1, Direction.Write, 0, 4);
        SetComm(ref h.Head.Task, "curl\0garbage!!!!"u8);

        var process = DecodeOne(h).Process;

        Assert.Equal("curl", process.Comm);
    }

    [Fact]
    public void Comm_OfAllSixteenBytes_WithoutNul_IsKeptWhole()
    {
        var h = Header(1, Direction.Write, 0, 4);
        SetComm(ref h.Head.Task, "abcdefghijklmnop"u8);

        Assert.Equal("abcdefghijklmnop", DecodeOne(h).Process.Comm);
    }

    [Fact]
    public void Comm_IsDecodedAsUtf8()
    {
        var h = Header(1, Direction.Write, 0, 4);
        SetComm(ref h.Head.Task, Encoding.UTF8.GetBytes("prüfung"));

        Assert.Equal("prüfung", DecodeOne(h).Process.Comm);
    }

    [Fact]
    public void Process_ComesFromTheHeader_AndAChangeOfCommOnTheSameThreadIsSeen()
    {
        var p = new DecodingPipeline();
        var before = Header(1, Direction.Write, 0, 1, comm: "bash");
        var after = Header(1, Direction.Write, 1, 1, comm: "curl");

        p.Feed(Chunk(in before, [1]), Chunk(in after, [2]));

        var processes = p.Sink.Data.Select(d => d.Process).ToList();
        Assert.Equal(new ProcessInfo((int)Pid, (int)Tid, Uid, "bash", Cgroup: 1), processes[0]);
        Assert.Equal(new ProcessInfo((int)Pid, (int)Tid, Uid, "curl", Cgroup: 1), processes[1]);
    }

    [Fact]
    public void LibraryName_ComesFromTheLookup()
    {
        var p = new DecodingPipeline();

        p.Feed(
            Chunk(1, Direction.Write, 0, [1], library: 1),
            Chunk(2, Direction.Write, 0, [2], library: 2),
            Chunk(3, Direction.Write, 0, [3], library: 0));

        Assert.Equal(
            [DecodingPipeline.LibraryNames[1], DecodingPipeline.LibraryNames[2], DecodingPipeline.LibraryNames[0]],
            p.Sink.Data.Select(d => d.Library));
        Assert.Equal([1u, 2u, 0u], p.LibraryLookups);
    }

    [Fact]
    public void HeaderFields_ReachTheChunk()
    {
        var h = Header(0xDEADBEEF_00000001, Direction.Read, 0, 3, timeNs: BaseTimeNs + 5_000);
        h.Fd = -1;
        h.StartNs = BaseTimeNs + 1_000;
        var p = new DecodingPipeline();

        p.Feed(Chunk(in h, [7, 8, 9]));

        var d = Assert.Single(p.Sink.Data);
        Assert.Equal(0xDEADBEEF_00000001ul, d.Connection);
        Assert.Equal(Direction.Read, d.Direction);
        Assert.Equal(-1, d.Fd);
        Assert.Equal(new byte[] { 7, 8, 9 }, d.Data.ToArray());
        Assert.Equal(p.Clock.ToUnixNs(BaseTimeNs + 5_000), d.TimeUnixNs);
        Assert.Equal(p.Clock.ToUnixNs(BaseTimeNs + 1_000), d.StartUnixNs);
        Assert.Equal(4_000, d.TimeUnixNs - d.StartUnixNs);
    }

    /// <summary>Now on CLOCK_MONOTONIC in nanoseconds, as bpf_ktime_get_ns would stamp it.</summary>
    private static ulong MonotonicNowNs()
    {
        var ticks = Stopwatch.GetTimestamp();
        return Stopwatch.Frequency == 1_000_000_000
            ? (ulong)ticks
            : (ulong)((Int128)ticks * 1_000_000_000 / Stopwatch.Frequency);
    }

    [Fact]
    public void Time_OfARecordStampedNow_IsNowInUnixTime()
    {
        Assert.Equal(1_000_000_000, Stopwatch.Frequency); // Linux: Stopwatch reads CLOCK_MONOTONIC in ns
        var p = new DecodingPipeline();
        var now = MonotonicNowNs();
        var h = Header(1, Direction.Write, 0, 1, timeNs: now);
        h.StartNs = now - 2_000_000; // 2 ms earlier

        p.Feed(Chunk(in h, [1]));

        var d = Assert.Single(p.Sink.Data);
        var unixNow = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
        Assert.InRange(d.TimeUnixNs, unixNow - 5_000_000_000, unixNow + 5_000_000_000);
        Assert.Equal(2_000_000, d.TimeUnixNs - d.StartUnixNs);
    }

    [Fact]
    public void ClockOffset_IsLinear()
    {
        var clock = new ClockOffset();
        var now = MonotonicNowNs();
        var unixNow = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;

        Assert.InRange(clock.ToUnixNs(now), unixNow - 5_000_000_000, unixNow + 5_000_000_000);
        Assert.Equal(123_456_789, clock.ToUnixNs(now + 123_456_789) - clock.ToUnixNs(now));
    }

    [Fact]
    public void CloseRecord_BecomesConnectionClosed()
    {
        var p = new DecodingPipeline();

        p.Feed(Close(99, readBytes: 0, writeBytes: 0, timeNs: BaseTimeNs + 42));

        var c = Assert.IsType<ConnectionClosed>(Assert.Single(p.Sink.Events));
        Assert.Equal(new ConnectionClosed(p.Clock.ToUnixNs(BaseTimeNs + 42), 99, (int)Pid, 0, 0), c);
    }

    [Fact]
    public void Batch_DecodesEveryRecordInOrder_AndStopsAtItsLength()
    {
        var p = new DecodingPipeline();
        var (buffer, length) = Batch(
            Chunk(1, Direction.Write, 0, "one"u8),
            Chunk(1, Direction.Read, 0, "two"u8),
            Chunk(2, Direction.Write, 0, "three"u8),
            Close(1, readBytes: 3, writeBytes: 3));
        // Past the batch: what looks like another record must be ignored.
        var extra = Chunk(3, Direction.Write, 0, "junk"u8);
        Array.Resize(ref buffer, length + 4 + extra.Length);
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(length), extra.Length);
        extra.CopyTo(buffer, length + 4);

        p.Decoder.DecodeBatch(buffer, length);

        Assert.Equal(["data 1W 0+3", "data 1R 0+3", "data 2W 0+5", "close 1"], p.Sink.Trace());
        Assert.Equal(["one", "two", "three"], p.Sink.Data.Select(d => Encoding.ASCII.GetString(d.Data.Span)));
    }

    [Fact]
    public void EmptyBatch_DoesNothing()
    {
        var p = new DecodingPipeline();

        p.Decoder.DecodeBatch(new byte[16], 0);

        Assert.Empty(p.Sink.Events);
        Assert.Equal(0, p.Counters.Records);
    }

    [Fact]
    public void ShortAndUnknownRecords_AreSkipped()
    {
        var p = new DecodingPipeline();
        var whole = Chunk(1, Direction.Write, 0, "ok"u8);
        var unknown = (byte[])whole.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(unknown, 77); // head.kind
        var shortData = whole[..(HeaderSize - 1)];             // a data kind without a whole header
        var shortClose = Close(1, 1, 1)[..20];                  // shorter than the common head
        var closeHeadOnly = Close(1, 1, 1)[..24];               // a close kind without its counts

        p.Feed(unknown, shortData, shortClose, closeHeadOnly, whole);

        Assert.Equal(["data 1W 0+2"], p.Sink.Trace());
        Assert.Equal(1, p.Counters.Records);
    }

    [Fact]
    public void Payload_IsCappedAtTheRecordsLength()
    {
        var p = new DecodingPipeline();
        var h = Header(1, Direction.Write, 0, 100); // claims 100 bytes, carries 10

        p.Feed(Chunk(in h, Bytes(10, 1)));

        var d = Assert.Single(p.Sink.Data);
        Assert.Equal(Bytes(10, 1), d.Data.ToArray());
    }

    [Fact]
    public void Payload_IgnoresBytesPastLen()
    {
        var p = new DecodingPipeline();
        var h = Header(1, Direction.Write, 0, 4); // 4 bytes, then padding in the record

        p.Feed(Chunk(in h, [1, 2, 3, 4, 0, 0, 0, 0]));

        Assert.Equal(new byte[] { 1, 2, 3, 4 }, Assert.Single(p.Sink.Data).Data.ToArray());
    }
}
