using System.Text;
using TlsScope.Flows;
using TlsScope.Engine.Model;
using TlsScope.Outputs;

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
        Assert.Empty(fanout.Failures);
        Assert.Equal(2, fanout.ActiveCount);
    }

    [Fact]
    public void AFailingOutputIsReportedAtOnceByNameAndTheOthersGoOn()
    {
        var a = new RecordingSink { ThrowOnCall = 2, Error = new IOException("No space left on device", 28) };
        var b = new RecordingSink();
        var reports = new List<string>();
        var noneLeft = 0;
        var fanout = new SinkFanout([new NamedSink(a, "--json /mnt/x.json"), new NamedSink(b, "-o out.txt")], report: reports.Add, noneLeft: () => noneLeft++);

        fanout.OnData(Chunks.Text("x"));
        Assert.Empty(reports);
        fanout.OnData(Chunks.Text("x"));
        // Told when it happens, not at the end: before the next event is even delivered.
        Assert.Equal(["--json /mnt/x.json: no space left on device; other outputs continue"], reports);
        for (int i = 0; i < 3; i++)
        {
            fanout.OnData(Chunks.Text("x"));
        }

        fanout.OnGap(new StreamGap(1, 7, Direction.Read, null, 0, 1, "r"));
        fanout.OnClose(new ConnectionClosed(2, 7, 1, 0, 0));
        fanout.Flush();

        Assert.Single(reports);
        Assert.Equal(["--json /mnt/x.json: no space left on device"], fanout.Failures);
        Assert.True(fanout.HasFailed(a));
        Assert.False(fanout.HasFailed(b));
        Assert.Equal(1, fanout.ActiveCount);
        Assert.Equal(0, noneLeft);
        Assert.Equal(["data", "data"], a.Calls);
        Assert.Equal(["data", "data", "data", "data", "data", "gap", "close", "flush"], b.Calls);

        fanout.Dispose();
        Assert.True(a.Disposed);
        Assert.True(b.Disposed);
    }

    [Fact]
    public void WhenTheLastOutputFailsTheRunIsToldToStop()
    {
        var reports = new List<string>();
        var noneLeft = 0;
        var a = new RecordingSink { ThrowOnCall = 1, Error = new IOException("first", 28) };
        var b = new RecordingSink { ThrowOnCall = 2, Error = new IOException("broken pipe", 32) };
        using var fanout = new SinkFanout([new NamedSink(a, "-o a"), new NamedSink(b, "standard output")], report: reports.Add, noneLeft: () => noneLeft++);

        fanout.OnData(Chunks.Text("x"));
        fanout.OnData(Chunks.Text("x"));
        fanout.OnData(Chunks.Text("x"));

        Assert.Equal(["-o a: no space left on device; other outputs continue", "standard output: broken pipe; no output left, stopping"], reports);
        Assert.Equal(1, noneLeft);
        Assert.Equal(0, fanout.ActiveCount);
    }

    [Fact]
    public void OtherExceptionsPropagate()
    {
        var a = new RecordingSink { ThrowOnCall = 1, Error = new InvalidOperationException("bug") };
        using var fanout = new SinkFanout(a, new RecordingSink());

        Assert.Throws<InvalidOperationException>(() => fanout.OnData(Chunks.Text("x")));
        Assert.Empty(fanout.Failures);
    }

    [Fact]
    public void IOExceptionFromDisposeIsRecordedNotThrown()
    {
        var a = new RecordingSink { DisposeError = new IOException("disk full", 28) };
        var b = new RecordingSink();
        var fanout = new SinkFanout(a, b);

        fanout.Dispose();

        Assert.True(b.Disposed);
        Assert.Equal(["RecordingSink: no space left on device"], fanout.Failures);
    }

    [Fact]
    public void AKeyOutputThatFailsIsDroppedAndTheOtherKeyOutputGoesOn()
    {
        var full = new KeyOutput { Error = new IOException("No space left on device", 28) };
        var good = new KeyOutput();
        var reports = new List<string>();
        using var fanout = new SinkFanout([new NamedSink(full, "--keylog k"), new NamedSink(good, "--pcapng p")], report: reports.Add);

        fanout.OnKeys(KeySet(1));
        fanout.OnKeys(KeySet(2));

        Assert.Equal(1, full.Calls);
        Assert.Equal(2, good.Calls);
        Assert.Equal(["--keylog k: no space left on device; other outputs continue"], reports);
    }

    [Fact]
    public void EachKindGoesToTheOutputsThatTakeIt()
    {
        var chunks = new RecordingSink();
        var keys = new KeyOutput();
        using var fanout = new SinkFanout([new NamedSink(chunks, "chunks"), new NamedSink(keys, "keys")]);

        fanout.OnKeys(KeySet(1));
        fanout.OnData(Chunks.Text("x"));

        Assert.Equal(["data"], chunks.Calls);
        Assert.Equal(1, keys.Calls);
    }

    [Fact]
    public void TheKeyPathsProgressReachesEveryKeyOutput()
    {
        var t = new DateTimeOffset(2026, 12, 3, 0, 0, 0, TimeSpan.Zero);
        var (first, second) = (new KeyOutput(), new KeyOutput());
        var chunks = new RecordingSink();
        using var fanout = new SinkFanout([new NamedSink(first, "--keylog k"), new NamedSink(chunks, "-o"), new NamedSink(second, "--pcapng p")]);

        fanout.KeysThrough(t);

        Assert.Equal([t], first.Through);
        Assert.Equal([t], second.Through);
        Assert.Empty(chunks.Calls);
        Assert.False(fanout.FollowsKeyProgress); // so the key source sends no marks
        using var following = new SinkFanout([new NamedSink(first, "--keylog k"), new NamedSink(new KeyOutput { Follows = true }, "--pcapng p")]);
        Assert.True(following.FollowsKeyProgress);
    }

    [Fact]
    public void WithHttpParsingAnEveryChunkOutputStillGetsTheChunksOfAnHttpConnection()
    {
        var shown = new RecordingSink();
        var every = new EveryChunk();
        using var fanout = new SinkFanout([new NamedSink(shown, "-o"), new NamedSink(every, "--pcapng-plaintext p")], http: new FlowOptions());

        fanout.OnData(Chunks.Text("GET /every HTTP/1.1\r\nHost: x\r\n\r\n"));
        fanout.OnData(Chunks.Text("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", Direction.Read));
        fanout.OnClose(new ConnectionClosed(2, 7, 1, 0, 0));
        fanout.Finish();

        // The shown side got HTTP events instead of chunks; the plaintext side got every byte.
        Assert.DoesNotContain("data", shown.Calls);
        Assert.Equal(2, every.Chunks.Count);
        Assert.StartsWith("GET /every HTTP/1.1", every.Chunks[0]);
        Assert.EndsWith("\r\n\r\nok", every.Chunks[1]);
        Assert.Equal(1, every.Closes);
        Assert.Equal(1, fanout.Http!.Exchanges);
    }

    private static TlsKeySet KeySet(byte seed) =>
        new(0, 7, Chunks.Curl, "libssl.so.3", Enumerable.Repeat(seed, 32).ToArray(), [$"CLIENT_RANDOM {seed:x2} 00"]);

    private sealed class KeyOutput : IKeySink, IDisposable
    {
        public int Calls { get; private set; }

        public Exception? Error { get; init; }

        public List<DateTimeOffset> Through { get; } = [];

        public bool Follows { get; init; }

        public bool FollowsKeyProgress => Follows;

        public void KeysThrough(DateTimeOffset drainedAt) => Through.Add(drainedAt);

        public void OnKeys(TlsKeySet keys)
        {
            Calls++;
            if (Error is not null)
            {
                throw Error;
            }
        }

        public void Dispose()
        {
        }
    }

    private sealed class EveryChunk : IEveryChunkSink
    {
        public List<string> Chunks { get; } = [];

        public int Closes { get; private set; }

        public void OnData(DataChunk chunk) => Chunks.Add(Encoding.ASCII.GetString(chunk.Data.Span));

        public void OnGap(StreamGap gap)
        {
        }

        public void OnClose(ConnectionClosed closed) => Closes++;

        public void Flush()
        {
        }

        public void Dispose()
        {
        }
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
