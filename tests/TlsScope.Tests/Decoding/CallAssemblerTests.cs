using TlsScope.Sources.Tls.Events;
using TlsScope.Engine.Model;
using TlsScope.Sources.Tls.Decoding;

using static TlsScope.Tests.Decoding.KernelRecords;

namespace TlsScope.Tests.Decoding;

/// <summary>
/// Reassembly of the kernel's records into whole calls, and every lost byte shown as a gap:
/// synthetic records through EventDecoder.DecodeBatch into CallAssembler and a recording sink.
/// </summary>
public sealed class CallAssemblerTests
{
    private const ChunkFlags First = ChunkFlags.First;
    private const ChunkFlags Last = ChunkFlags.Last;
    private const ChunkFlags Whole = ChunkFlags.First | ChunkFlags.Last;
    private const ChunkFlags Middle = ChunkFlags.None;

    private static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    [Fact]
    public void SingleRecordCall_IsOneDataChunk()
    {
        var p = new DecodingPipeline();
        var payload = "GET / HTTP/1.1\r\n\r\n"u8.ToArray();

        p.Feed(Chunk(7, Direction.Write, 0, payload));

        var chunk = Assert.Single(p.Sink.Events);
        var d = Assert.IsType<DataChunk>(chunk);
        Assert.Equal(payload, d.Data.ToArray());
        Assert.Equal(0, d.StreamOffset);
        Assert.Equal(7ul, d.Connection);
        Assert.Equal(Direction.Write, d.Direction);
        Assert.Equal(Fd, d.Fd);
        Assert.False(d.Truncated);
        Assert.Equal(0, d.DroppedBytes);
        Assert.Equal(DecodingPipeline.LibraryNames[0], d.Library);
        Assert.Equal(1, p.Counters.Records);
        Assert.Equal(1, p.Counters.Calls);
        Assert.Equal(payload.Length, p.Counters.Bytes);
        Assert.Equal(0, p.Counters.Gaps);
    }

    [Fact]
    public void CallSplitOverThreeRecords_IsReassembledIntoOneChunk()
    {
        var p = new DecodingPipeline();
        var before = Bytes(10, (byte)'z');
        var part1 = Bytes(ChunkHeader.DataMax, (byte)'a');
        var part2 = Bytes(ChunkHeader.DataMax, (byte)'h');
        var part3 = Bytes(100, (byte)'p');
        const uint callLen = 2 * ChunkHeader.DataMax + 100;
        const long start = 10;

        p.FeedEach(
            Chunk(7, Direction.Read, 0, before),
            Chunk(7, Direction.Read, start, part1, First, callLen, timeNs: BaseTimeNs + 100),
            Chunk(7, Direction.Read, start + part1.Length, part2, Middle, callLen, timeNs: BaseTimeNs + 200),
            Chunk(7, Direction.Read, start + part1.Length + part2.Length, part3, Last, callLen, timeNs: BaseTimeNs + 300),
            Chunk(7, Direction.Read, start + callLen, before));

        Assert.Equal(["data 7R 0+10", $"data 7R {start}+{callLen}", $"data 7R {start + callLen}+10"], p.Sink.Trace());
        var call = p.Sink.Data.ElementAt(1);
        Assert.Equal(Concat(part1, part2, part3), call.Data.ToArray());
        Assert.Equal(start, call.StreamOffset); // the first record's offset
        Assert.Equal(p.Clock.ToUnixNs(BaseTimeNs + 100), call.TimeUnixNs); // the first record's header
        Assert.False(call.Truncated);
        Assert.Equal(5, p.Counters.Records);
        Assert.Equal(3, p.Counters.Calls);
        Assert.Equal(callLen + 20, p.Counters.Bytes);
        Assert.Equal(0, p.Counters.Gaps);
    }

    [Fact]
    public void SplitCall_IsReassembled_WhenAllRecordsArriveInOneBatch()
    {
        var p = new DecodingPipeline();
        var a = Bytes(300, (byte)'a');
        var b = Bytes(200, (byte)'k');

        p.Feed(
            Chunk(9, Direction.Write, 0, a, First, 500),
            Chunk(9, Direction.Write, 300, b, Last, 500));

        var d = Assert.Single(p.Sink.Data);
        Assert.Equal(Concat(a, b), d.Data.ToArray());
        Assert.Equal(0, d.StreamOffset);
        Assert.Empty(p.Sink.Gaps);
    }

    [Fact]
    public void InterleavedConnectionsAndDirections_AreStitchedSeparately()
    {
        var p = new DecodingPipeline();
        var aw1 = Bytes(40, (byte)'a');
        var aw2 = Bytes(20, (byte)'b');
        var ar = Bytes(15, (byte)'c');
        var bw = Bytes(25, (byte)'d');
        var br1 = Bytes(30, (byte)'e');
        var br2 = Bytes(35, (byte)'f');
        var br3 = Bytes(5, (byte)'g');

        p.Feed(
            Chunk(1, Direction.Write, 0, aw1, First, 60),
            Chunk(2, Direction.Read, 100, br1, First, 70),
            Chunk(1, Direction.Read, 500, ar),
            Chunk(2, Direction.Write, 0, bw),
            Chunk(2, Direction.Read, 130, br2, Middle, 70),
            Chunk(1, Direction.Write, 40, aw2, Last, 60),
            Chunk(2, Direction.Read, 165, br3, Last, 70));

        // conn 2's read stream starts at 100 and conn 1's at 500: that is lost data before them.
        Assert.Equal(
            ["gap 2R 0+100", "gap 1R 0+500", "data 1R 500+15", "data 2W 0+25", "data 1W 0+60", "data 2R 100+70"],
            p.Sink.Trace());
        var data = p.Sink.Data.ToList();
        Assert.Equal(ar, data[0].Data.ToArray());
        Assert.Equal(bw, data[1].Data.ToArray());
        Assert.Equal(Concat(aw1, aw2), data[2].Data.ToArray());
        Assert.Equal(Concat(br1, br2, br3), data[3].Data.ToArray());
    }

    [Fact]
    public void InterleavedConnectionsAndDirections_WithoutLoss_HaveNoGaps()
    {
        var p = new DecodingPipeline();
        p.Feed(
            Chunk(1, Direction.Write, 0, Bytes(10, 1), First, 20),
            Chunk(1, Direction.Read, 0, Bytes(3, 2)),
            Chunk(2, Direction.Write, 0, Bytes(4, 3), First, 8),
            Chunk(2, Direction.Read, 0, Bytes(5, 4)),
            Chunk(2, Direction.Write, 4, Bytes(4, 5), Last, 8),
            Chunk(1, Direction.Write, 10, Bytes(10, 6), Last, 20),
            Chunk(1, Direction.Read, 3, Bytes(6, 7)),
            Chunk(2, Direction.Read, 5, Bytes(7, 8)));

        Assert.Equal(
            ["data 1R 0+3", "data 2R 0+5", "data 2W 0+8", "data 1W 0+20", "data 1R 3+6", "data 2R 5+7"],
            p.Sink.Trace());
        Assert.Equal(0, p.Counters.Gaps);
        Assert.Equal(2, p.Counters.Connections);
    }

    [Fact]
    public void LostMiddleRecord_GivesPartialChunk_ThenGapWithTheMissingRange()
    {
        var p = new DecodingPipeline();
        var head = Bytes(1000, (byte)'a');
        var tail = Bytes(250, (byte)'t');
        // The call is 1000 + 500 (lost) + 250 bytes.
        p.FeedEach(
            Chunk(3, Direction.Read, 64, head, First, 1750, timeNs: BaseTimeNs + 10),
            Chunk(3, Direction.Read, 64 + 1500, tail, Last, 1750, timeNs: BaseTimeNs + 20));

        Assert.Equal(["gap 3R 0+64", "data 3R 64+1000", "gap 3R 1064+500", "data 3R 1564+250"], p.Sink.Trace());
        var partial = p.Sink.Data.First();
        Assert.Equal(head, partial.Data.ToArray());
        Assert.Equal(64, partial.StreamOffset);
        var gap = p.Sink.Gaps.Last();
        Assert.Equal(3ul, gap.Connection);
        Assert.Equal(Direction.Read, gap.Direction);
        Assert.Equal(1064, gap.StreamOffset);
        Assert.Equal(500, gap.Length);
        Assert.Equal(CallAssembler.KernelLossReason, gap.Reason);
        Assert.Equal(p.Clock.ToUnixNs(BaseTimeNs + 20), gap.TimeUnixNs); // when the jump was seen
        Assert.NotNull(gap.Process);
        Assert.Equal((int)Pid, gap.Process.Pid);
        Assert.Equal(tail, p.Sink.Data.Last().Data.ToArray());
        Assert.Equal(2, p.Counters.Gaps);
        Assert.Equal(564, p.Counters.GapBytes);
    }

    [Fact]
    public void LostMiddleRecord_OfTheFirstCall_IsAGapAfterThePartialChunk()
    {
        var p = new DecodingPipeline();
        p.FeedEach(
            Chunk(3, Direction.Write, 0, Bytes(10, 1), First, 30),
            Chunk(3, Direction.Write, 20, Bytes(10, 2), Last, 30));

        Assert.Equal(["data 3W 0+10", "gap 3W 10+10", "data 3W 20+10"], p.Sink.Trace());
        Assert.Equal(Bytes(10, 1), p.Sink.Data.First().Data.ToArray());
        Assert.Equal(1, p.Counters.Gaps);
        Assert.Equal(10, p.Counters.GapBytes);
    }

    [Fact]
    public void LostLastRecord_ShowsWhenTheNextCallArrives()
    {
        var p = new DecodingPipeline();
        p.FeedEach(
            Chunk(3, Direction.Write, 0, Bytes(10, 1), First, 25),
            Chunk(3, Direction.Write, 25, Bytes(4, 2)));

        Assert.Equal(["data 3W 0+10", "gap 3W 10+15", "data 3W 25+4"], p.Sink.Trace());
    }

    [Fact]
    public void LostFirstRecord_IsAGap_ThenTheRestOfTheCall()
    {
        var p = new DecodingPipeline();
        var mid = Bytes(10, (byte)'m');
        var end = Bytes(5, (byte)'e');

        p.FeedEach(
            Chunk(4, Direction.Read, 10, mid, Middle, 25),
            Chunk(4, Direction.Read, 20, end, Last, 25));

        Assert.Equal(["gap 4R 0+10", "data 4R 10+15"], p.Sink.Trace());
        Assert.Equal(Concat(mid, end), p.Sink.Data.Single().Data.ToArray());
        Assert.Equal(1, p.Counters.Gaps);
        Assert.Equal(10, p.Counters.GapBytes);
    }

    [Fact]
    public void TruncatedCall_ReportsDroppedBytes_AndTheNextOffsetIsNoGap()
    {
        var p = new DecodingPipeline();
        var kept = Bytes(100, (byte)'k');

        p.FeedEach(
            Chunk(5, Direction.Read, 0, kept, First | Last | ChunkFlags.Truncated, callLen: 1000, dropped: 900),
            Chunk(5, Direction.Read, 1000, Bytes(7, 1)));

        Assert.Equal(["data 5R 0+100", "data 5R 1000+7"], p.Sink.Trace());
        var t = p.Sink.Data.First();
        Assert.True(t.Truncated);
        Assert.Equal(900, t.DroppedBytes);
        Assert.Equal(kept, t.Data.ToArray());
        var next = p.Sink.Data.Last();
        Assert.False(next.Truncated);
        Assert.Equal(0, next.DroppedBytes);
        Assert.Equal(0, p.Counters.Gaps);
        Assert.Equal(1, p.Counters.TruncatedCalls);
    }

    [Fact]
    public void TruncatedSplitCall_TakesDroppedFromTheLastRecord_AndTheNextOffsetIsNoGap()
    {
        var p = new DecodingPipeline();
        var a = Bytes(ChunkHeader.DataMax, (byte)'a');
        var b = Bytes(1000, (byte)'b');
        const uint callLen = ChunkHeader.DataMax + 1000 + 4000;

        p.FeedEach(
            Chunk(6, Direction.Write, 0, a, First, callLen),
            Chunk(6, Direction.Write, a.Length, b, Last | ChunkFlags.Truncated, callLen, dropped: 4000),
            Chunk(6, Direction.Write, callLen, Bytes(3, 9)));

        Assert.Equal(["data 6W 0+33768", "data 6W 37768+3"], p.Sink.Trace());
        var t = p.Sink.Data.First();
        Assert.True(t.Truncated);
        Assert.Equal(4000, t.DroppedBytes);
        Assert.Equal(Concat(a, b), t.Data.ToArray());
        Assert.Equal(0, p.Counters.Gaps);
        Assert.Equal(1, p.Counters.TruncatedCalls);
    }

    [Fact]
    public void Close_WithMoreBytesThanSeen_GivesTailGaps_ThenConnectionClosed()
    {
        var p = new DecodingPipeline();
        p.FeedEach(
            Chunk(8, Direction.Write, 0, Bytes(10, 1)),
            Chunk(8, Direction.Read, 0, Bytes(20, 2)),
            Close(8, readBytes: 50, writeBytes: 10, timeNs: BaseTimeNs + 777));

        Assert.Equal(["data 8W 0+10", "data 8R 0+20", "gap 8R 20+30", "close 8"], p.Sink.Trace());
        var gap = p.Sink.Gaps.Single();
        Assert.Equal(p.Clock.ToUnixNs(BaseTimeNs + 777), gap.TimeUnixNs);
        Assert.Equal(CallAssembler.KernelLossReason, gap.Reason);
        var closed = p.Sink.Closes.Single();
        Assert.Equal(8ul, closed.Connection);
        Assert.Equal((int)Pid, closed.Pid);
        Assert.Equal(50, closed.ReadBytes);
        Assert.Equal(10, closed.WriteBytes);
        Assert.Equal(p.Clock.ToUnixNs(BaseTimeNs + 777), closed.TimeUnixNs);
        Assert.Equal(1, p.Counters.Gaps);
        Assert.Equal(30, p.Counters.GapBytes);
    }

    [Fact]
    public void Close_WithBothDirectionsShort_GivesReadThenWriteGap()
    {
        var p = new DecodingPipeline();
        p.FeedEach(
            Chunk(8, Direction.Write, 0, Bytes(10, 1)),
            Chunk(8, Direction.Read, 0, Bytes(20, 2)),
            Close(8, readBytes: 21, writeBytes: 13));

        Assert.Equal(["data 8W 0+10", "data 8R 0+20", "gap 8R 20+1", "gap 8W 10+3", "close 8"], p.Sink.Trace());
    }

    [Fact]
    public void Close_WithExactCounts_HasNoGap()
    {
        var p = new DecodingPipeline();
        p.FeedEach(
            Chunk(8, Direction.Write, 0, Bytes(10, 1)),
            Chunk(8, Direction.Read, 0, Bytes(20, 2), ChunkFlags.First | ChunkFlags.Last | ChunkFlags.Truncated, callLen: 25, dropped: 5),
            Close(8, readBytes: 25, writeBytes: 10));

        Assert.Equal(["data 8W 0+10", "data 8R 0+20", "close 8"], p.Sink.Trace());
        Assert.Equal(0, p.Counters.Gaps);
    }

    [Fact]
    public void Close_FlushesAPendingPartialCall_BeforeItsTailGap()
    {
        var p = new DecodingPipeline();
        p.FeedEach(
            Chunk(8, Direction.Write, 0, Bytes(10, 1), First, 30),
            Close(8, readBytes: 0, writeBytes: 30));

        Assert.Equal(["data 8W 0+10", "gap 8W 10+20", "close 8"], p.Sink.Trace());
        Assert.Equal(Bytes(10, 1), p.Sink.Data.Single().Data.ToArray());
    }

    [Fact]
    public void Close_ForADirectionWithNoRecordSeen_StillReportsItsBytesAsAGap()
    {
        var p = new DecodingPipeline();
        p.FeedEach(
            Chunk(8, Direction.Write, 0, Bytes(10, 1)),
            Close(8, readBytes: 500, writeBytes: 10));

        Assert.Equal(["data 8W 0+10", "gap 8R 0+500", "close 8"], p.Sink.Trace());
        Assert.Equal(1, p.Counters.Gaps);
        Assert.Equal(500, p.Counters.GapBytes);
    }

    [Fact]
    public void FlushAll_EmitsAPendingPartialCall_Once()
    {
        var p = new DecodingPipeline();
        var a = Bytes(10, (byte)'a');
        p.FeedEach(
            Chunk(2, Direction.Read, 0, Bytes(4, 3)),
            Chunk(2, Direction.Write, 0, a, First, 30));
        Assert.Equal(["data 2R 0+4"], p.Sink.Trace());

        p.Assembler.FlushAll();

        Assert.Equal(["data 2R 0+4", "data 2W 0+10"], p.Sink.Trace());
        Assert.Equal(a, p.Sink.Data.Last().Data.ToArray());
        Assert.False(p.Sink.Data.Last().Truncated);
        Assert.Equal(0, p.Counters.Gaps);

        p.Assembler.FlushAll();
        Assert.Equal(2, p.Sink.Events.Count);
    }

    [Fact]
    public void FlushAll_ThenTheRestOfTheCall_IsAChunkWithoutAGap()
    {
        var p = new DecodingPipeline();
        p.FeedEach(Chunk(2, Direction.Write, 0, Bytes(10, 1), First, 20));
        p.Assembler.FlushAll();
        p.FeedEach(Chunk(2, Direction.Write, 10, Bytes(10, 2), Last, 20));

        Assert.Equal(["data 2W 0+10", "data 2W 10+10"], p.Sink.Trace());
        Assert.Equal(0, p.Counters.Gaps);
    }

    [Fact]
    public void Counters_CountCallsBytesGapsTruncationAndLibraries()
    {
        var p = new DecodingPipeline();
        p.FeedEach(
            // conn 1 on library 0: 10 + 30 (split) + 5 (truncated, 95 dropped), then a 20-byte gap.
            Chunk(1, Direction.Write, 0, Bytes(10, 1)),
            Chunk(1, Direction.Write, 10, Bytes(20, 2), First, 30),
            Chunk(1, Direction.Write, 30, Bytes(10, 3), Last, 30),
            Chunk(1, Direction.Read, 0, Bytes(5, 4), Whole | ChunkFlags.Truncated, callLen: 100, dropped: 95),
            Chunk(1, Direction.Read, 120, Bytes(8, 5)),
            // conn 2 on library 1: 7 bytes, then close reports 3 more.
            Chunk(2, Direction.Read, 0, Bytes(7, 6), library: 1),
            Close(2, readBytes: 10, writeBytes: 0));

        Assert.Equal(6, p.Counters.Records); // data records; a close is not one
        Assert.Equal(5, p.Counters.Calls);
        Assert.Equal(10 + 30 + 5 + 8 + 7, p.Counters.Bytes);
        Assert.Equal(2, p.Counters.Gaps);
        Assert.Equal(20 + 3, p.Counters.GapBytes);
        Assert.Equal(1, p.Counters.TruncatedCalls);
        Assert.Equal(2, p.Counters.Connections);
        Assert.Equal(2, p.Counters.Libraries.Count);
        var lib0 = p.Counters.Libraries[DecodingPipeline.LibraryNames[0]];
        Assert.Equal(4, lib0.Calls);
        Assert.Equal(10 + 30 + 5 + 8, lib0.Bytes);
        var lib1 = p.Counters.Libraries[DecodingPipeline.LibraryNames[1]];
        Assert.Equal(1, lib1.Calls);
        Assert.Equal(7, lib1.Bytes);
        Assert.Equal(p.Counters.Bytes, p.Sink.Data.Sum(d => (long)d.Length));
        Assert.Equal(p.Counters.GapBytes, p.Sink.Gaps.Sum(g => g.Length));
    }

    [Fact]
    public void Counters_CountAWriteOnlyConnection()
    {
        var p = new DecodingPipeline();
        p.FeedEach(
            Chunk(1, Direction.Write, 0, Bytes(10, 1)),
            Chunk(1, Direction.Write, 10, Bytes(10, 2)),
            Chunk(2, Direction.Write, 0, Bytes(10, 3)),
            Chunk(2, Direction.Read, 0, Bytes(10, 4)));

        Assert.Equal(2, p.Counters.Connections);
    }
}
