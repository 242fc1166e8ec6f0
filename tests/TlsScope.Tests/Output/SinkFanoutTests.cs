using TlsScope.Capture.Model;
using TlsScope.Output;

namespace TlsScope.Tests.Output;

public sealed class SinkFanoutTests
{
    [Fact]
    public void FeedsEverySinkInOrder()
    {
        var a = new RecordingSink();
        var b = new RecordingSink();
        using var fanout = new SinkFanout(a, b);

        fanout.OnData(Chunks.Text("x"));
        fanout.OnGap(new StreamGap(1, 7, Direction.Read, null, 0, 1, "r"));
        fanout.OnClose(new ConnectionClosed(2, 7, 1, 0, 0));
        fanout.Flush();

        Assert.Equal(["data", "gap", "close", "flush"], a.Calls);
        Assert.Equal(a.Calls, b.Calls);
        Assert.Null(fanout.FirstError);
        Assert.Equal(2, fanout.ActiveCount);
    }

    [Fact]
    public void KeepsFeedingSinkBAfterSinkAThrowsIOException()
    {
        var broken = new IOException("Broken pipe", 32);
        var a = new RecordingSink { ThrowOnCall = 2, Error = broken };
        var b = new RecordingSink();
        var fanout = new SinkFanout(a, b);

        for (int i = 0; i < 5; i++)
        {
            fanout.OnData(Chunks.Text("x"));
        }

        fanout.OnGap(new StreamGap(1, 7, Direction.Read, null, 0, 1, "r"));
        fanout.OnClose(new ConnectionClosed(2, 7, 1, 0, 0));
        fanout.Flush();

        Assert.Same(broken, fanout.FirstError);
        Assert.Same(a, fanout.FirstFailedSink);
        Assert.True(fanout.HasFailed(a));
        Assert.False(fanout.HasFailed(b));
        Assert.Equal(1, fanout.ActiveCount);
        Assert.Equal(["data", "data"], a.Calls);
        Assert.Equal(["data", "data", "data", "data", "data", "gap", "close", "flush"], b.Calls);

        fanout.Dispose();
        Assert.True(a.Disposed);
        Assert.True(b.Disposed);
    }

    [Fact]
    public void FirstErrorStaysTheFirst()
    {
        var first = new IOException("first");
        var a = new RecordingSink { ThrowOnCall = 1, Error = first };
        var b = new RecordingSink { ThrowOnCall = 2, Error = new IOException("second") };
        using var fanout = new SinkFanout(a, b);

        fanout.OnData(Chunks.Text("x"));
        fanout.OnData(Chunks.Text("x"));
        fanout.OnData(Chunks.Text("x"));

        Assert.Same(first, fanout.FirstError);
        Assert.Equal(0, fanout.ActiveCount);
    }

    [Fact]
    public void OtherExceptionsPropagate()
    {
        var a = new RecordingSink { ThrowOnCall = 1, Error = new InvalidOperationException("bug") };
        using var fanout = new SinkFanout(a, new RecordingSink());

        Assert.Throws<InvalidOperationException>(() => fanout.OnData(Chunks.Text("x")));
        Assert.Null(fanout.FirstError);
    }

    [Fact]
    public void IOExceptionFromDisposeIsRecordedNotThrown()
    {
        var a = new RecordingSink { DisposeError = new IOException("disk full", 28) };
        var b = new RecordingSink();
        var fanout = new SinkFanout(a, b);

        fanout.Dispose();

        Assert.True(b.Disposed);
        Assert.IsType<IOException>(fanout.FirstError);
    }

    private sealed class RecordingSink : ICaptureSink
    {
        public List<string> Calls { get; } = [];

        /// <summary>Throw <see cref="Error"/> on this 1-based call.</summary>
        public int ThrowOnCall { get; init; }

        public Exception? Error { get; init; }

        public Exception? DisposeError { get; init; }

        public bool Disposed { get; private set; }

        public void OnData(DataChunk chunk) => Record("data");

        public void OnGap(StreamGap gap) => Record("gap");

        public void OnClose(ConnectionClosed closed) => Record("close");

        public void Flush() => Record("flush");

        public void Dispose()
        {
            Disposed = true;
            if (DisposeError is not null)
            {
                throw DisposeError;
            }
        }

        private void Record(string call)
        {
            Calls.Add(call);
            if (Calls.Count == ThrowOnCall && Error is not null)
            {
                throw Error;
            }
        }
    }
}
