using TlsScope.Protocols;

namespace TlsScope.Tests.Http1;

public sealed class BodyBufferTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(100)]
    [InlineData(1024 * 1024)]
    public void PiecesOfAnyLengthComeBackWholeWhateverTheStartingCapacity(int capacity)
    {
        byte[] body = new byte[BodyBuffer.MaxPooledBytes - 17];
        new Random(3).NextBytes(body);
        var rng = new Random(5);
        var buffer = new BodyBuffer();
        buffer.Start(capacity);
        for (int at = 0; at < body.Length;)
        {
            int n = Math.Min(body.Length - at, rng.Next(0, 3000));
            buffer.Append(body.AsSpan(at, n));
            at += n;
            Assert.Equal(at, buffer.Length);
        }

        var lease = buffer.Detach();
        Assert.True(lease.IsRented);
        Assert.Equal(body, lease.Bytes.ToArray());
        Assert.Equal(0, buffer.Length);
        lease.Return();
    }

    [Fact]
    public void AnEmptyBodyHoldsNoArray()
    {
        var buffer = new BodyBuffer();
        buffer.Start(4096);
        var lease = buffer.Detach();
        Assert.False(lease.IsRented);
        Assert.True(lease.Bytes.IsEmpty);
        lease.Return(); // nothing to give back, and no error

        Assert.False(new BodyBuffer().Detach().IsRented);
    }

    [Fact]
    public void ADetachedBodyIsNotTouchedByTheNextOne()
    {
        var buffer = new BodyBuffer();
        buffer.Start(8);
        buffer.Append("first body"u8);
        var first = buffer.Detach();

        buffer.Start(8);
        buffer.Append("second body!"u8); // would fit in the first one's array (16 bytes)
        var second = buffer.Detach();

        Assert.Equal("first body"u8.ToArray(), first.Bytes.ToArray());
        Assert.Equal("second body!"u8.ToArray(), second.Bytes.ToArray());
        Assert.False(second.Backs(first.Bytes));
        first.Return();
        second.Return();
    }

    [Fact]
    public void ABodyBeyondThePooledSizeHasAnArrayOfItsOwn()
    {
        byte[] body = new byte[BodyBuffer.MaxPooledBytes + 1];
        new Random(9).NextBytes(body);
        var buffer = new BodyBuffer();
        buffer.Start(BodyBuffer.MaxPooledBytes);
        buffer.Append(body.AsSpan(0, 1000));
        buffer.Append(body.AsSpan(1000));
        var lease = buffer.Detach();

        Assert.False(lease.IsRented); // not given to the shared pool, which would keep it
        Assert.Equal(body, lease.Bytes.ToArray());
        lease.Return(); // leaves it to the GC
        Assert.Equal(body, lease.Bytes.ToArray());
    }

    [Fact]
    public void ALeaseKnowsItsOwnBytes()
    {
        var buffer = new BodyBuffer();
        buffer.Append("abc"u8);
        var lease = buffer.Detach();
        Assert.True(lease.Backs(lease.Bytes));
        Assert.True(lease.Backs(lease.Bytes[1..]));
        Assert.False(lease.Backs("abc"u8.ToArray()));
        Assert.False(default(BodyLease).Backs(lease.Bytes));
        lease.Return();
    }

    [Fact]
    public void ResetDropsWhatWasCollected()
    {
        var buffer = new BodyBuffer();
        buffer.Append("abandoned"u8);
        buffer.Reset();
        buffer.Append("kept"u8);
        var lease = buffer.Detach();
        Assert.Equal("kept"u8.ToArray(), lease.Bytes.ToArray());
        lease.Return();
    }
}
