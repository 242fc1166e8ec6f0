using System.Buffers.Binary;
using TlsScope.Engine.Reading;

namespace TlsScope.Tests.Decoding;

public sealed class RecordBatcherTests
{
    private static byte[] Record(int n, byte fill) => Enumerable.Repeat(fill, n).ToArray();

    private static List<byte[]> Records(RecordBatch batch)
    {
        var list = new List<byte[]>();
        for (var at = 0; at + 4 <= batch.Length;)
        {
            var len = BinaryPrimitives.ReadInt32LittleEndian(batch.Buffer.AsSpan(at));
            list.Add(batch.Buffer.AsSpan(at + 4, len).ToArray());
            at += 4 + len;
        }
        return list;
    }

    [Fact]
    public void RecordsArriveInOrderAndWhole()
    {
        var b = new RecordBatcher();
        b.OnRecord(Record(10, 1));
        b.OnRecord(Record(0, 2));
        b.OnRecord(Record(3000, 3));
        b.Complete();
        var batches = b.Batches().ToList();
        var all = batches.SelectMany(Records).ToList();
        Assert.Equal([10, 0, 3000], all.Select(r => r.Length));
        Assert.All(all[2], x => Assert.Equal(3, x));
        Assert.Equal(3, b.Records);
    }

    [Fact]
    public void AnIdleDecoderGetsRecordsAtOnceAndABusyOneGetsFullerBlocks()
    {
        var b = new RecordBatcher();
        b.OnRecord(Record(100, 1));
        b.Publish(); // nothing queued: handed over at once
        Assert.True(b.HasQueued);
        b.OnRecord(Record(100, 2));
        b.Publish(); // the decoder has not taken the first batch: keep filling this one
        b.OnRecord(Record(100, 3));
        b.Complete();
        var batches = b.Batches().ToList();
        Assert.Equal(2, batches.Count);
        Assert.Single(Records(batches[0]));
        Assert.Equal(2, Records(batches[1]).Count);
    }

    [Fact]
    public void ARecordLargerThanABlockGetsABlockOfItsOwn()
    {
        var b = new RecordBatcher();
        b.OnRecord(Record(5, 1));
        b.OnRecord(Record(3 << 20, 7));
        b.Complete();
        var all = b.Batches().SelectMany(Records).ToList();
        Assert.Equal([5, 3 << 20], all.Select(r => r.Length));
        Assert.All(all[1], x => Assert.Equal(7, x));
    }

    [Fact]
    public async Task ReleasingABatchFreesItsPlaceInTheBound()
    {
        // A bound of one block: the second publish would wait if the first were not released.
        var b = new RecordBatcher(maxQueuedBytes: 1);
        b.OnRecord(Record(10, 1));
        b.Publish();
        var first = b.Batches().First();
        b.Release(first);
        b.OnRecord(Record(10, 2));
        var publish = Task.Run(() => b.Publish(force: true));
        var done = await Task.WhenAny(publish, Task.Delay(TimeSpan.FromSeconds(5)));
        Assert.True(done == publish, "publish waited although the queue was released");
        b.Complete();
    }

    [Fact]
    public void AMarkRidesOnTheBlockThatHoldsEverythingReadBeforeIt()
    {
        var t = new DateTimeOffset(2026, 12, 3, 0, 0, 0, TimeSpan.Zero);
        var b = new RecordBatcher();
        b.OnRecord(Record(10, 1));
        b.Publish(t); // idle decoder: the block goes with the mark
        b.OnRecord(Record(10, 2));
        b.Publish(t.AddSeconds(1)); // busy decoder, block kept filling: no mark yet
        b.OnRecord(Record(10, 3));
        b.Publish(t.AddSeconds(2)); // still kept; the block is handed over at Complete, unmarked
        b.Complete();
        var batches = b.Batches().ToList();
        Assert.Equal([(1, (DateTimeOffset?)t), (2, null)], batches.Select(x => (Records(x).Count, x.DrainedAt)));
    }

    [Fact]
    public async Task WithNothingReadTheMarkComesAloneOnlyWhenNothingIsQueuedAndCostsNoBound()
    {
        var t = new DateTimeOffset(2026, 12, 3, 0, 0, 0, TimeSpan.Zero);
        var b = new RecordBatcher(maxQueuedBytes: 1); // one block out at a time
        b.Publish(t); // idle, nothing read: the mark comes alone
        b.Publish(t.AddSeconds(1)); // the first is still queued: no second behind it
        var mark = b.Batches().First();
        Assert.Equal((0, (DateTimeOffset?)t), (mark.Length, mark.DrainedAt));
        Assert.False(b.HasQueued);
        b.Release(mark);

        b.OnRecord(Record(10, 1));
        b.Publish(force: true); // a block filled mid-poll: handed over unmarked
        b.Publish(t.AddSeconds(2)); // nothing left to hand over, but a block is queued: no mark
        var first = b.Batches().First();
        Assert.Equal((1, (DateTimeOffset?)null), (Records(first).Count, first.DrainedAt));
        Assert.False(b.HasQueued);

        // The marks took nothing from the bound: the one real block out is what holds the next.
        b.OnRecord(Record(10, 2));
        var publish = Task.Run(() => b.Publish(force: true));
        Assert.False(await Task.WhenAny(publish, Task.Delay(300)) == publish, "a block was handed over past the bound");
        b.Release(first);
        Assert.True(await Task.WhenAny(publish, Task.Delay(TimeSpan.FromSeconds(5))) == publish, "the release did not free the bound");
        await publish;
        Assert.Equal([2], b.Batches().Take(1).SelectMany(Records).Select(r => (int)r[0]));
    }
}
