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
        byte[] body = new byte[1024 * 1024 + 17];
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
        buffer.Append("second, longer body"u8);
        var second = buffer.Detach();

        Assert.Equal("first body"u8.ToArray(), first.Bytes.ToArray());
        Assert.Equal("second, longer body"u8.ToArray(), second.Bytes.ToArray());
        first.Return();
        second.Return();
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
