using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;
using TlsScope.Flows;
using TlsScope.Engine.Model;
using TlsScope.Tests.Http2;

namespace TlsScope.Tests.Flows;

/// <summary>
/// HTTP/1 bodies live in pooled arrays, valid until their exchange has been delivered: what sinks
/// see during the calls, what they may keep, and that one exchange's array never shows through another's.
/// </summary>
public sealed class PooledBodyTests
{
    [Fact]
    public void EverySinkCallSeesItsOwnBodyWhileArraysAreReused()
    {
        var sink = new BodyCheckingSink();
        var conn = new ConnectionFeeder(new HttpFlowTracker(new RecordingCaptureSink(), sink, new FlowOptions()));
        for (int i = 0; i < 200; i++)
        {
            var (request, response) = Bodies(i);
            conn.Write($"POST /{i} HTTP/1.1\r\nHost: a\r\nContent-Length: {request.Length}\r\n\r\n{request}");
            conn.Read($"HTTP/1.1 200 OK\r\nContent-Length: {response.Length}\r\n\r\n{response}");
            sink.Delivered(i);
        }

        Assert.Equal(200, sink.Exchanges);
        Assert.Empty(sink.Problems);
    }

    [Fact]
    public void Http2StreamsInterleavedKeepTheirOwnBodies()
    {
        var problems = new List<string>();
        int exchanges = 0;
        var sink = new CallbackSink(e =>
        {
            exchanges++;
            int stream = e.Stream!.Value;
            string request = Encoding.ASCII.GetString(e.Request!.Body.Span);
            string response = Encoding.ASCII.GetString(e.Response!.Body.Span);
            if (request != Http2Body("req", stream) || response != Http2Body("resp", stream))
            {
                problems.Add($"stream {stream}: {request} / {response}");
            }
        });
        var conn = new ConnectionFeeder(new HttpFlowTracker(new RecordingCaptureSink(), sink, new FlowOptions()));
        var requests = new HpackWriter();
        var responses = new HpackWriter();
        conn.Write(new FrameBuilder().Preface().Settings().ToArray());
        conn.Read(new FrameBuilder().Settings().ToArray());
        for (int round = 0; round < 50; round++)
        {
            // Two streams open at once, their DATA in pieces that alternate: both bodies grow side by side.
            int a = 4 * round + 1, b = 4 * round + 3;
            var write = new FrameBuilder();
            foreach (int stream in new[] { a, b })
            {
                write.Headers(stream, requests.Encode((":method", "POST"), (":scheme", "https"), (":authority", "h"), (":path", $"/{stream}")), endStream: false);
            }

            AlternateData(write, Http2Body("req", a), a, Http2Body("req", b), b);
            conn.Write(write.ToArray());
            var read = new FrameBuilder()
                .Headers(b, responses.Encode((":status", "200")), endStream: false)
                .Headers(a, responses.Encode((":status", "200")), endStream: false);
            AlternateData(read, Http2Body("resp", b), b, Http2Body("resp", a), a);
            conn.Read(read.ToArray());
        }

        Assert.Equal(100, exchanges);
        Assert.Empty(problems);
    }

    [Theory]
    [InlineData("identity, identity")]
    [InlineData("identity,")]
    public void AnEncodingThatDecodesToItselfKeepsItsArrayUntilTheExchange(string encoding)
    {
        // Both bodies fill a 1 KiB pooled array exactly: a request body given back when its
        // message was built would be the response's array, overwritten before the exchange.
        string request = new('q', 1024);
        string response = new('r', 1024);
        string? seen = null;
        var sink = new CallbackSink(e => seen = Encoding.ASCII.GetString(e.Request!.Body.Span));
        var conn = new ConnectionFeeder(new HttpFlowTracker(new RecordingCaptureSink(), sink, new FlowOptions()));
        conn.Write($"POST / HTTP/1.1\r\nHost: a\r\nContent-Encoding: {encoding}\r\nContent-Length: 1024\r\n\r\n{request}");
        conn.Read($"HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n{response}");

        Assert.Equal(request, seen);
    }

    [Fact]
    public void ArraysGoBackToThePoolAfterTheExchange()
    {
        var arrays = new List<byte[]>();
        var sink = new CallbackSink(e =>
        {
            foreach (var message in new[] { e.Request!, e.Response! })
            {
                Assert.True(MemoryMarshal.TryGetArray(message.Body, out var segment));
                arrays.Add(segment.Array!);
            }
        });
        var conn = new ConnectionFeeder(new HttpFlowTracker(new RecordingCaptureSink(), sink, new FlowOptions()));
        for (int i = 0; i < 2; i++)
        {
            conn.Write($"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n{new string('q', 1000)}");
            conn.Read($"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{new string('r', 1000)}");
        }

        // The second exchange's bodies are collected in the first one's arrays, given back.
        Assert.Equal(4, arrays.Count);
        Assert.Contains(arrays[2], arrays.Take(2));
    }

    [Fact]
    public void AMessageReadsEmptyAfterItsExchangeUnlessKept()
    {
        HttpMessage? original = null;
        HttpMessage? kept = null;
        var sink = new CallbackSink(e =>
        {
            original = e.Response!;
            kept = original.Keep();
            Assert.NotSame(original, kept);
            Assert.Equal("hello", Encoding.ASCII.GetString(original.Body.Span));
        });
        var conn = new ConnectionFeeder(new HttpFlowTracker(new RecordingCaptureSink(), sink, new FlowOptions()));
        conn.Write("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        conn.Read("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");

        Assert.True(original!.Body.IsEmpty); // given back: reading it now would read another message's bytes
        Assert.Equal("hello", Encoding.ASCII.GetString(kept!.Body.Span));
        Assert.Equal(5, kept.BodyWireBytes);
        Assert.Same(kept, kept.Keep()); // its body is its own
    }

    [Fact]
    public void ADecodedBodyIsTheMessagesOwn()
    {
        byte[] original = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 100).Select(i => $"line {i}\n")));
        var compressed = new MemoryStream();
        using (var gz = new GZipStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            gz.Write(original);
        }

        HttpMessage? response = null;
        var sink = new CallbackSink(e =>
        {
            response = e.Response!;
            Assert.Same(response, response.Keep());
        });
        var conn = new ConnectionFeeder(new HttpFlowTracker(new RecordingCaptureSink(), sink, new FlowOptions()));
        conn.Write("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        conn.Read([.. ConnectionFeeder.Latin1($"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {compressed.Length}\r\n\r\n"), .. compressed.ToArray()]);

        Assert.Equal("gzip", response!.BodyDecoded);
        Assert.Equal(original, response.Body.ToArray()); // still there after the exchange
    }

    private static string Http2Body(string what, int stream) => $"{what}-{stream}:" + new string((char)('a' + stream % 26), stream * 13 % 900);

    /// <summary>Two bodies as DATA frames of up to 100 bytes, taking turns; END_STREAM on each one's last.</summary>
    private static void AlternateData(FrameBuilder frames, string first, int firstStream, string second, int secondStream)
    {
        for (int at = 0; at < Math.Max(first.Length, second.Length); at += 100)
        {
            foreach (var (body, stream) in new[] { (first, firstStream), (second, secondStream) })
            {
                if (at < body.Length)
                {
                    frames.Data(stream, body[at..Math.Min(body.Length, at + 100)], endStream: at + 100 >= body.Length);
                }
            }
        }
    }

    /// <summary>Exchange <paramref name="i"/>'s bodies: each of its own length and text.</summary>
    private static (string Request, string Response) Bodies(long i) =>
        ($"request body {i}" + new string('q', (int)(i % 37)), $"response body {i}" + new string('r', (int)(i * 7 % 1500)));

    /// <summary>Checks each call's body against what was sent, during the call.</summary>
    private sealed class BodyCheckingSink : IHttpSink
    {
        private readonly Dictionary<long, string> _seen = new();

        public List<string> Problems { get; } = new();

        public int Exchanges { get; private set; }

        public void Delivered(int index)
        {
            if (Exchanges != index + 1)
            {
                Problems.Add($"exchange {index}: not delivered at once");
            }
        }

        public void OnRequest(HttpFlow flow, long sequence, HttpMessage request) =>
            _seen[sequence] = Encoding.ASCII.GetString(request.Body.Span);

        public void OnResponse(HttpFlow flow, long sequence, HttpMessage response)
        {
        }

        public void OnExchange(HttpExchange exchange)
        {
            Exchanges++;
            var (request, response) = Bodies(exchange.Sequence - 1);
            string seenRequest = _seen[exchange.Sequence];
            string nowRequest = Encoding.ASCII.GetString(exchange.Request!.Body.Span);
            string nowResponse = Encoding.ASCII.GetString(exchange.Response!.Body.Span);
            if (seenRequest != request || nowRequest != request || nowResponse != response)
            {
                Problems.Add($"exchange {exchange.Sequence}: request {seenRequest} / {nowRequest}, response {nowResponse}");
            }
        }

        public void OnWebSocket(WebSocketEvent frame)
        {
        }
    }

    private sealed class CallbackSink(Action<HttpExchange> onExchange) : IHttpSink
    {
        public void OnRequest(HttpFlow flow, long sequence, HttpMessage request)
        {
        }

        public void OnResponse(HttpFlow flow, long sequence, HttpMessage response)
        {
        }

        public void OnExchange(HttpExchange exchange) => onExchange(exchange);

        public void OnWebSocket(WebSocketEvent frame)
        {
        }
    }
}
