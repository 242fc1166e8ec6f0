using System.Text;
using System.Text.Json;
using TlsScope.Flows;
using TlsScope.Tests.Flows;
using TlsScope.Outputs.Json;
using TlsScope.Outputs.Text;

namespace TlsScope.Tests.Output;

public sealed class HttpOutputTests
{
    private const long T0 = Chunks.KnownTimeNs; // 15:04:05.123456789

    private static readonly string[] RequestKeys =
    [
        "type", "time", "conn", "seq", "pid", "tid", "uid", "comm", "library", "fd", "local", "remote", "side", "version",
        "method", "url", "headers", "body", "body_size", "body_wire_size", "body_truncated", "header_size", "wire_size",
        "complete", "start",
    ];

    private static readonly string[] ExchangeKeys =
    [
        "type", "time", "conn", "seq", "pid", "tid", "uid", "comm", "library", "fd", "local", "remote", "side", "version", "method", "url", "status",
        "start", "ttfb_ms", "total_ms", "send_ms", "receive_ms", "request_size", "response_size", "request_body_size",
        "response_body_size", "complete",
    ];

    // ---------------------------------------------------------------- text

    [Fact]
    public void TextOfASmallExchangeIsExact()
    {
        var (flow, request, response) = SmallExchange();

        string output = RenderText(sink =>
        {
            sink.OnRequest(flow, 1, request);
            sink.OnResponse(flow, 1, response);
            sink.OnExchange(new HttpExchange { Flow = flow, Sequence = 1, Request = request, Response = response });
        });

        Assert.Equal(
            "15:04:05.123456 curl[1234/1235] 127.0.0.1:43210 -> 127.0.0.1:8443 conn=7 #1 HTTP/1.1 request\n" +
            "> GET https://localhost:8443/a HTTP/1.1\n" +
            "> Host: localhost:8443\n" +
            "> Accept: */*\n" +
            "\n" +
            "15:04:05.124691 curl[1234/1235] 127.0.0.1:43210 -> 127.0.0.1:8443 conn=7 #1 HTTP/1.1 response ttfb=1.234ms total=1.977ms\n" +
            "< HTTP/1.1 200 OK\n" +
            "< Content-Type: text/plain\n" +
            "< Content-Length: 5\n" +
            "[body 5 bytes]\n" +
            "hello\n" +
            "\n",
            output);
    }

    [Fact]
    public void TextOfAnHttp2ExchangeNamesTheStreamAndHasNoReason()
    {
        var flow = Flow(protocol: "HTTP/2", side: FlowSide.Server);
        var request = Message(isRequest: true, version: "HTTP/2", stream: 3, method: "POST", url: "https://h/p",
            headers: [(":method", "POST"), (":path", "/p")], body: "{}"u8.ToArray(), first: T0, last: T0);
        var response = Message(isRequest: false, version: "HTTP/2", stream: 3, status: 204,
            headers: [(":status", "204")], first: T0 + 999_999, last: T0 + 2_000_000, trailers: [("grpc-status", "0")]);

        string output = RenderText(sink =>
        {
            sink.OnRequest(flow, 4, request);
            sink.OnExchange(new HttpExchange { Flow = flow, Sequence = 4, Request = request, Response = response });
        });

        Assert.Equal(
            "15:04:05.123456 curl[1234/1235] 127.0.0.1:43210 -> 127.0.0.1:8443 conn=7 #4 HTTP/2 stream=3 request\n" +
            "> POST https://h/p HTTP/2\n" +
            "> :method: POST\n" +
            "> :path: /p\n" +
            "[body 2 bytes]\n" +
            "{}\n" +
            "\n" +
            "15:04:05.124456 curl[1234/1235] 127.0.0.1:43210 -> 127.0.0.1:8443 conn=7 #4 HTTP/2 stream=3 response ttfb=0.999ms total=2.000ms\n" +
            "< HTTP/2 204\n" +
            "< :status: 204\n" +
            "< grpc-status: 0\n" +
            "\n",
            output);
    }

    [Fact]
    public void TextBodyLimitCutsTheBody()
    {
        var (flow, _, _) = SmallExchange();
        var request = SmallRequest(body: "abcdefghijklmnopqrstuvwxyz"u8.ToArray());

        string output = RenderText(sink => sink.OnRequest(flow, 1, request), new TextSinkOptions(BodyLimit: 10));

        Assert.EndsWith(
            "> Accept: */*\n" +
            "[body 26 bytes, first 10 shown]\n" +
            "abcdefghij\n" +
            "... (16 more bytes not shown)\n" +
            "\n",
            output);
    }

    [Fact]
    public void TextBinaryBodyIsHexDumped()
    {
        var (flow, _, _) = SmallExchange();
        var request = SmallRequest(headers: [], body: [0x00, 0x01, 0xff, 0x41]);

        string output = RenderText(sink => sink.OnRequest(flow, 1, request));

        Assert.EndsWith(
            "> GET https://localhost:8443/a HTTP/1.1\n" +
            "[body 4 bytes]\n" +
            "00000000  00 01 ff 41                                       |...A|\n" +
            "\n",
            output);
    }

    [Fact]
    public void TextNoteDecodedTruncatedAndGrpcSummaries()
    {
        var (flow, _, _) = SmallExchange();
        var request = SmallRequest(headers: [("X", "1")], body: "hello"u8.ToArray(), bodyWireBytes: 30, bodyDecoded: "gzip",
            note: "incomplete: bytes lost or the connection ended first");
        var truncated = SmallRequest(headers: [("X", "1")], body: "hello"u8.ToArray(), bodyWireBytes: 100, bodyTruncated: true);
        var grpc = SmallRequest(headers: [("X", "1")], body: new byte[13], grpc: [(false, 3), (true, 0)]);

        string output = RenderText(sink =>
        {
            sink.OnRequest(flow, 1, request);
            sink.OnRequest(flow, 2, truncated);
            sink.OnRequest(flow, 3, grpc);
        });
        string[] blocks = output.Split("\n\n15:04:05");

        Assert.EndsWith(
            "> X: 1\n" +
            "[note: incomplete: bytes lost or the connection ended first]\n" +
            "[body 5 bytes, gzip 30 on the wire]\n" +
            "hello",
            blocks[0]);
        Assert.EndsWith("> X: 1\n[body 5 bytes, only the first bytes kept of 100]\nhello", blocks[1]);
        Assert.Contains("> X: 1\n[body 13 bytes, gRPC 2 messages: 3 0(compressed)]\n00000000  00 00 00", blocks[2]);
    }

    [Fact]
    public void TextExchangeWithoutResponseOrRequest()
    {
        var (flow, request, response) = SmallExchange();

        string output = RenderText(sink =>
        {
            sink.OnExchange(new HttpExchange { Flow = flow, Sequence = 2, Request = request });
            sink.OnExchange(new HttpExchange
            {
                Flow = flow,
                Sequence = 3,
                Response = Message(isRequest: false, status: 200, reason: "OK", first: T0 + 1_234_567, last: T0 + 1_877_000),
            });
        });

        Assert.Equal(
            "15:04:05.123456 curl[1234/1235] 127.0.0.1:43210 -> 127.0.0.1:8443 conn=7 #2 HTTP/1.1 no response (connection ended or closed first)\n" +
            "\n" +
            "15:04:05.124691 curl[1234/1235] 127.0.0.1:43210 -> 127.0.0.1:8443 conn=7 #3 HTTP/1.1 response (request not captured)\n" +
            "< HTTP/1.1 200 OK\n" +
            "\n",
            output);
    }

    [Fact]
    public void TextFromTheTrackerEndToEnd()
    {
        var stream = new MemoryStream();
        using (var sink = new TextSink(stream, null, TimeZoneInfo.Utc, leaveOpen: true))
        {
            var tracker = new HttpFlowTracker(sink, sink, new FlowOptions { Redactor = new HeaderRedactor([]) });
            var c = new ConnectionFeeder(tracker) { Clock = T0, Step = 500_000 };
            c.Write("GET /x HTTP/1.1\r\nHost: example.com\r\nCookie: s=1\r\n\r\n");
            c.Read("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
            c.Write(new byte[] { 0x17, 0x03 }); // not HTTP, but the connection stays HTTP: consumed
            tracker.Dispose();
        }

        Assert.Equal(
            "15:04:05.123456 client[4242/4243] 127.0.0.1:50000 -> 10.0.0.2:443 conn=7 #1 HTTP/1.1 request\n" +
            "> GET https://example.com/x HTTP/1.1\n" +
            "> Host: example.com\n" +
            "> Cookie: [REDACTED]\n" +
            "\n" +
            "15:04:05.123956 client[4242/4243] 127.0.0.1:50000 -> 10.0.0.2:443 conn=7 #1 HTTP/1.1 response ttfb=0.500ms total=0.500ms\n" +
            "< HTTP/1.1 200 OK\n" +
            "< Content-Length: 2\n" +
            "[body 2 bytes]\n" +
            "hi\n" +
            "\n",
            Encoding.UTF8.GetString(stream.ToArray()));
    }

    // ---------------------------------------------------------------- JSON

    [Fact]
    public void JsonRequestHasTheDocumentedKeysInOrder()
    {
        var (flow, request, _) = SmallExchange();

        using var doc = Assert.Single(RenderJson(sink => sink.OnRequest(flow, 1, request)));
        var root = doc.RootElement;

        Assert.Equal(RequestKeys, root.EnumerateObject().Select(p => p.Name));
        Assert.Equal("http_request", root.GetProperty("type").GetString());
        Assert.Equal("2026-11-22T15:04:05.123456789Z", root.GetProperty("time").GetString());
        Assert.Equal(7ul, root.GetProperty("conn").GetUInt64());
        Assert.Equal(1, root.GetProperty("seq").GetInt64());
        Assert.Equal(1234, root.GetProperty("pid").GetInt32());
        Assert.Equal(1235, root.GetProperty("tid").GetInt32());
        Assert.Equal(1000u, root.GetProperty("uid").GetUInt32());
        Assert.Equal("curl", root.GetProperty("comm").GetString());
        Assert.Equal("/usr/lib/libssl.so.3", root.GetProperty("library").GetString());
        Assert.Equal(5, root.GetProperty("fd").GetInt32());
        Assert.Equal("127.0.0.1:43210", root.GetProperty("local").GetString());
        Assert.Equal("127.0.0.1:8443", root.GetProperty("remote").GetString());
        Assert.Equal("client", root.GetProperty("side").GetString());
        Assert.Equal("HTTP/1.1", root.GetProperty("version").GetString());
        Assert.Equal("GET", root.GetProperty("method").GetString());
        Assert.Equal("https://localhost:8443/a", root.GetProperty("url").GetString());
        Assert.Equal([("Host", "localhost:8443"), ("Accept", "*/*")], Fields(root.GetProperty("headers")));
        Assert.Empty(root.GetProperty("body").GetBytesFromBase64());
        Assert.Equal(0, root.GetProperty("body_size").GetInt32());
        Assert.Equal(0, root.GetProperty("body_wire_size").GetInt64());
        Assert.False(root.GetProperty("body_truncated").GetBoolean());
        Assert.Equal(54, root.GetProperty("header_size").GetInt64());
        Assert.Equal(54, root.GetProperty("wire_size").GetInt64());
        Assert.True(root.GetProperty("complete").GetBoolean());
        Assert.Equal("2026-11-22T15:04:05.123356789Z", root.GetProperty("start").GetString());
    }

    [Fact]
    public void JsonResponseCarriesStatusBodyAndOptionalKeys()
    {
        var flow = Flow(protocol: "HTTP/2", side: FlowSide.Server, fd: -1);
        byte[] body = [0, 0, 0, 0, 2, 0xfe, 0xff];
        var response = Message(isRequest: false, version: "HTTP/2", stream: 5, status: 200,
            headers: [(":status", "200"), ("content-type", "application/grpc")], body: body, first: T0, last: T0 + 10,
            reason: "OK", trailers: [("grpc-status", "0")], bodyDecoded: "gzip", bodyWireBytes: 40, complete: false,
            note: "stream reset (error 8)", grpc: [(false, 2)], upgradedTo: "websocket");

        using var doc = Assert.Single(RenderJson(sink => sink.OnResponse(flow, 9, response)));
        var root = doc.RootElement;

        Assert.Equal(
            ["type", "time", "conn", "seq", "pid", "tid", "uid", "comm", "library", "fd", "local", "remote", "side", "version",
             "stream", "status", "reason", "headers", "trailers", "body", "body_size", "body_wire_size", "body_encoding",
             "body_truncated", "header_size", "wire_size", "complete", "note", "grpc", "upgraded_to", "start"],
            root.EnumerateObject().Select(p => p.Name));
        Assert.Equal("http_response", root.GetProperty("type").GetString());
        Assert.Equal(9, root.GetProperty("seq").GetInt64());
        Assert.Equal(-1, root.GetProperty("fd").GetInt32());
        Assert.Equal("server", root.GetProperty("side").GetString());
        Assert.Equal("HTTP/2", root.GetProperty("version").GetString());
        Assert.Equal(5, root.GetProperty("stream").GetInt32());
        Assert.Equal(200, root.GetProperty("status").GetInt32());
        Assert.Equal("OK", root.GetProperty("reason").GetString());
        Assert.Equal([(":status", "200"), ("content-type", "application/grpc")], Fields(root.GetProperty("headers")));
        Assert.Equal([("grpc-status", "0")], Fields(root.GetProperty("trailers")));
        Assert.Equal(body, root.GetProperty("body").GetBytesFromBase64());
        Assert.Equal(7, root.GetProperty("body_size").GetInt32());
        Assert.Equal(40, root.GetProperty("body_wire_size").GetInt64());
        Assert.Equal("gzip", root.GetProperty("body_encoding").GetString());
        Assert.False(root.GetProperty("complete").GetBoolean());
        Assert.Equal("stream reset (error 8)", root.GetProperty("note").GetString());
        var grpc = Assert.Single(root.GetProperty("grpc").EnumerateArray());
        Assert.False(grpc.GetProperty("compressed").GetBoolean());
        Assert.Equal(2, grpc.GetProperty("len").GetInt32());
        Assert.Equal("websocket", root.GetProperty("upgraded_to").GetString());
        Assert.Equal("2026-11-22T15:04:05.123456799Z", root.GetProperty("time").GetString());
        Assert.Equal("2026-11-22T15:04:05.123456789Z", root.GetProperty("start").GetString());
    }

    [Fact]
    public void JsonExchangeHasTheDocumentedKeysAndTimings()
    {
        var (flow, request, response) = SmallExchange();

        using var doc = Assert.Single(RenderJson(sink =>
            sink.OnExchange(new HttpExchange { Flow = flow, Sequence = 1, Request = request, Response = response })));
        var root = doc.RootElement;

        Assert.Equal(ExchangeKeys, root.EnumerateObject().Select(p => p.Name));
        Assert.Equal("http_exchange", root.GetProperty("type").GetString());
        Assert.Equal("2026-11-22T15:04:05.125333789Z", root.GetProperty("time").GetString());
        Assert.Equal(7ul, root.GetProperty("conn").GetUInt64());
        Assert.Equal(1, root.GetProperty("seq").GetInt64());
        Assert.Equal(1234, root.GetProperty("pid").GetInt32());
        Assert.Equal("curl", root.GetProperty("comm").GetString());
        Assert.Equal("127.0.0.1:43210", root.GetProperty("local").GetString());
        Assert.Equal("127.0.0.1:8443", root.GetProperty("remote").GetString());
        Assert.Equal("client", root.GetProperty("side").GetString());
        Assert.Equal("HTTP/1.1", root.GetProperty("version").GetString());
        Assert.Equal("GET", root.GetProperty("method").GetString());
        Assert.Equal("https://localhost:8443/a", root.GetProperty("url").GetString());
        Assert.Equal(200, root.GetProperty("status").GetInt32());
        Assert.Equal("2026-11-22T15:04:05.123356789Z", root.GetProperty("start").GetString());
        Assert.Equal(1.235, root.GetProperty("ttfb_ms").GetDouble());
        Assert.Equal(1.977, root.GetProperty("total_ms").GetDouble());
        Assert.Equal(0.1, root.GetProperty("send_ms").GetDouble());
        Assert.Equal(0.642, root.GetProperty("receive_ms").GetDouble());
        Assert.Equal(54, root.GetProperty("request_size").GetInt64());
        Assert.Equal(69, root.GetProperty("response_size").GetInt64());
        Assert.Equal(0, root.GetProperty("request_body_size").GetInt64());
        Assert.Equal(5, root.GetProperty("response_body_size").GetInt64());
        Assert.True(root.GetProperty("complete").GetBoolean());
    }

    [Fact]
    public void JsonExchangeWithAMissingSideHasNulls()
    {
        var (flow, request, response) = SmallExchange();

        var lines = RenderJson(sink =>
        {
            sink.OnExchange(new HttpExchange { Flow = flow, Sequence = 2, Request = request });
            sink.OnExchange(new HttpExchange { Flow = flow, Sequence = 3, Response = response });
        });

        Assert.Equal(2, lines.Count);
        var noResponse = lines[0].RootElement;
        Assert.Equal(ExchangeKeys, noResponse.EnumerateObject().Select(p => p.Name));
        Assert.Equal(JsonValueKind.Null, noResponse.GetProperty("status").ValueKind);
        Assert.Equal(JsonValueKind.Null, noResponse.GetProperty("ttfb_ms").ValueKind);
        Assert.Equal(JsonValueKind.Null, noResponse.GetProperty("total_ms").ValueKind);
        Assert.Equal(0.1, noResponse.GetProperty("send_ms").GetDouble());
        Assert.Equal(JsonValueKind.Null, noResponse.GetProperty("receive_ms").ValueKind);
        Assert.Equal(JsonValueKind.Null, noResponse.GetProperty("response_size").ValueKind);
        Assert.Equal("2026-11-22T15:04:05.123456789Z", noResponse.GetProperty("time").GetString());
        Assert.False(noResponse.GetProperty("complete").GetBoolean());

        var noRequest = lines[1].RootElement;
        Assert.Equal(ExchangeKeys, noRequest.EnumerateObject().Select(p => p.Name));
        Assert.Equal(JsonValueKind.Null, noRequest.GetProperty("method").ValueKind);
        Assert.Equal(JsonValueKind.Null, noRequest.GetProperty("url").ValueKind);
        Assert.Equal(200, noRequest.GetProperty("status").GetInt32());
        Assert.Equal("2026-11-22T15:04:05.124691356Z", noRequest.GetProperty("start").GetString());
        Assert.Equal(JsonValueKind.Null, noRequest.GetProperty("request_size").ValueKind);
        Assert.False(noRequest.GetProperty("complete").GetBoolean());
        foreach (var line in lines)
        {
            line.Dispose();
        }
    }

    [Fact]
    public void JsonFromTheTrackerEndToEnd()
    {
        var stream = new MemoryStream();
        using (var sink = new JsonSink(stream, leaveOpen: true))
        {
            var tracker = new HttpFlowTracker(sink, sink, new FlowOptions());
            var c = new ConnectionFeeder(tracker) { Clock = T0, Step = 1_000_000 };
            c.Write("POST /j HTTP/1.1\r\nHost: j.example\r\nContent-Length: 3\r\n\r\nabc");
            c.Read("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
            c.Close();
            tracker.Dispose();
        }

        string text = Encoding.UTF8.GetString(stream.ToArray());
        Assert.EndsWith("\n", text);
        var docs = text[..^1].Split('\n').Select(l => JsonDocument.Parse(l)).ToList();
        Assert.Equal(["http_request", "http_response", "http_exchange", "close"], docs.Select(d => d.RootElement.GetProperty("type").GetString()));
        Assert.Equal("abc", Encoding.ASCII.GetString(docs[0].RootElement.GetProperty("body").GetBytesFromBase64()));
        Assert.Equal("https://j.example/j", docs[0].RootElement.GetProperty("url").GetString());
        Assert.Equal(201, docs[1].RootElement.GetProperty("status").GetInt32());
        Assert.Equal("Created", docs[1].RootElement.GetProperty("reason").GetString());
        Assert.Equal(1.0, docs[2].RootElement.GetProperty("ttfb_ms").GetDouble());
        Assert.Equal(1.0, docs[2].RootElement.GetProperty("total_ms").GetDouble());
        Assert.All(docs.Take(3), d => Assert.Equal(1, d.RootElement.GetProperty("seq").GetInt64()));
        foreach (var d in docs)
        {
            d.Dispose();
        }
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>
    /// GET https://localhost:8443/a sent from T0-100us to T0; 200 OK "hello" received from
    /// T0+1.234567ms to T0+1.877ms.
    /// </summary>
    /// <summary>The per-flow fields are encoded once, but every record shows the thread that made
    /// its call, the fd and the addresses as they are when it is written, and a new connection
    /// with a reused id its own.</summary>
    [Fact]
    public void EachRecordCarriesItsOwnFlowFieldsThoughTheyAreCached()
    {
        var flow = Flow();
        var (request, response) = (SmallRequest(), SmallExchange().Response);
        var otherThread = Chunks.Curl with { Tid = 4321 };
        var moved = new TlsScope.Engine.Model.ConnectionAddress(new System.Net.IPEndPoint(System.Net.IPAddress.IPv6Loopback, 40000), Chunks.Loopback.Remote);
        var reused = Flow(side: FlowSide.Server, fd: 6); // the same id, fd and addresses: another connection all the same
        reused.Address = moved;

        var lines = RenderJson(sink =>
        {
            sink.OnRequest(flow, 1, request);
            flow.Fd = 6;
            sink.OnRequest(flow, 2, request);
            flow.Address = moved;
            sink.OnRequest(flow, 3, request);
            sink.OnRequest(reused, 1, request);
            sink.OnRequest(flow, 4, request);
            sink.OnResponse(flow, 3, new HttpMessage { IsRequest = false, Version = "HTTP/1.1", Process = otherThread, Headers = [], Status = 204 });
            sink.OnClose(new TlsScope.Engine.Model.ConnectionClosed(T0, flow.Connection, 1234, 0, 0));
            sink.OnResponse(flow, 3, response);
        });

        string Fields(JsonDocument d) => string.Join(" ", new[] { "seq", "tid", "fd", "local", "side" }.Select(k => d.RootElement.GetProperty(k).ToString()));
        Assert.Equal(
            ["1 1235 5 127.0.0.1:43210 client", "2 1235 6 127.0.0.1:43210 client", "3 1235 6 [::1]:40000 client", "1 1235 6 [::1]:40000 server",
                "4 1235 6 [::1]:40000 client", "3 4321 6 [::1]:40000 client", "3 1235 6 [::1]:40000 client"],
            lines.Where(d => d.RootElement.GetProperty("type").GetString() != "close").Select(Fields));
    }

    [Fact]
    public void AnExchangeTailOutsideTheHandWrittenRangeIsTheWritersAndHasTheSameShape()
    {
        // A request whose first byte reads as the epoch makes total_ms 1.8e12: past Milliseconds'
        // range, so those durations take the writer's double path; the record keeps its shape.
        var flow = Flow();
        var request = Message(isRequest: true, method: "GET", url: "https://x/", first: 0, last: T0, wireBytes: 40);
        var response = Message(isRequest: false, status: 200, first: T0 + 1_500_000, last: T0 + 2_000_000, wireBytes: 70, body: [1, 2, 3]);
        var near = Message(isRequest: true, method: "GET", url: "https://x/", first: T0 - 250_000, last: T0, wireBytes: 40);

        var lines = RenderJson(sink =>
        {
            sink.OnExchange(new HttpExchange { Flow = flow, Sequence = 1, Request = request, Response = response });
            sink.OnExchange(new HttpExchange { Flow = flow, Sequence = 2, Request = near, Response = response });
            sink.OnExchange(new HttpExchange { Flow = flow, Sequence = 3, Request = null, Response = response });
        });

        foreach (var line in lines)
        {
            Assert.Equal(ExchangeKeys, line.RootElement.EnumerateObject().Select(p => p.Name));
        }

        var far = lines[0].RootElement;
        Assert.Equal(Math.Round((T0 + 2_000_000) / 1e6, 3), far.GetProperty("total_ms").GetDouble());
        Assert.Equal(1.5, far.GetProperty("ttfb_ms").GetDouble());
        Assert.Equal(Math.Round(T0 / 1e6, 3), far.GetProperty("send_ms").GetDouble());
        Assert.Equal("1970-01-01T00:00:00.000000000Z", far.GetProperty("start").GetString());
        Assert.Equal(3, far.GetProperty("response_body_size").GetInt64());
        Assert.True(far.GetProperty("complete").GetBoolean());

        var hand = lines[1].RootElement;
        Assert.Equal(2.25, hand.GetProperty("total_ms").GetDouble());
        Assert.Equal(0.25, hand.GetProperty("send_ms").GetDouble());
        Assert.Equal(40, hand.GetProperty("request_size").GetInt64());
        Assert.Equal(JsonValueKind.Null, lines[2].RootElement.GetProperty("ttfb_ms").ValueKind);
        Assert.Equal(JsonValueKind.Null, lines[2].RootElement.GetProperty("request_size").ValueKind);
        Assert.Equal(JsonValueKind.Null, lines[2].RootElement.GetProperty("request_body_size").ValueKind);
    }

    /// <summary>Text that is not valid UTF-16 (a lone surrogate, which only an API caller can hand
    /// over: the parsers decode Latin-1 or replace) is written as the writer writes it, U+FFFD, on
    /// its first sighting and on every later one the token cache sees.</summary>
    [Fact]
    public void ALoneSurrogateIsWrittenAsTheReplacementCharacterEveryTime()
    {
        var flow = Flow();
        var url = "https://x/\ud800";
        var request = Message(isRequest: true, method: "GET", url: url, headers: [("x-odd", "a\udc00b")]);

        var lines = RenderJson(sink =>
        {
            for (var i = 1; i <= 3; i++)
            {
                sink.OnRequest(flow, i, request);
            }
        });

        Assert.Equal(3, lines.Count);
        foreach (var line in lines)
        {
            Assert.Equal("https://x/\ufffd", line.RootElement.GetProperty("url").GetString());
            Assert.Equal("a\ufffdb", line.RootElement.GetProperty("headers")[0][1].GetString());
        }
    }

    /// <summary>"time", "conn" and "seq" are written by hand into a span sized for their widest
    /// values: the widest, the narrowest and times either side of the epoch read back exactly.</summary>
    [Theory]
    [InlineData(ulong.MaxValue, long.MaxValue, long.MaxValue, "2262-04-11T23:47:16.854775807Z")]
    [InlineData(0UL, 0L, 0L, "1970-01-01T00:00:00.000000000Z")]
    [InlineData(1UL, 1L, -1L, "1969-12-31T23:59:59.999999999Z")]
    [InlineData(18446744073709551UL, 9L, long.MinValue, "1677-09-21T00:12:43.145224192Z")]
    public void TheHandWrittenTimeConnAndSeqReadBackExactlyAtTheirExtremes(ulong connection, long sequence, long timeNs, string time)
    {
        var flow = new HttpFlow { Connection = connection, Side = FlowSide.Client, Library = "/usr/lib/libssl.so.3", Fd = 5, Address = Chunks.Loopback, Process = Chunks.Curl };
        var request = Message(isRequest: true, method: "GET", url: "https://x/", first: timeNs, last: timeNs);

        var lines = RenderJson(sink =>
        {
            sink.OnRequest(flow, sequence, request);
            sink.OnExchange(new HttpExchange { Flow = flow, Sequence = sequence, Request = request, Response = null });
        });

        Assert.Equal(2, lines.Count);
        foreach (var line in lines)
        {
            var root = line.RootElement;
            Assert.Equal(time, root.GetProperty("time").GetString());
            Assert.Equal(connection, root.GetProperty("conn").GetUInt64());
            Assert.Equal(sequence, root.GetProperty("seq").GetInt64());
            Assert.Equal(Chunks.Curl.Pid, root.GetProperty("pid").GetInt32()); // the cached fields follow intact
        }
    }

    [Fact]
    public void AMessageWrittenAgainFromTheSinksCachesIsTheSameLine()
    {
        // The token cache takes over from the second sighting of each string object: the first,
        // second and third records must be byte for byte alike, escapes included.
        var flow = Flow();
        (string, string)[] headers = [("Host", "h\u00e9te"), ("X-Quote", "a \"b\" \\ c"), ("X-Ctl", "tab\there\u0001"), ("Accept", "*/*")];
        var request = Message(isRequest: true, method: "GET", url: "https://h\u00e9te/\u2028?q=\"x\"", headers: headers);
        var response = Message(isRequest: false, status: 200, reason: "Fine \U0001F600", headers: headers, trailers: headers);

        var stream = new MemoryStream();
        using (var sink = new JsonSink(stream, leaveOpen: true))
        {
            for (int i = 0; i < 3; i++)
            {
                sink.OnRequest(flow, 1, request);
                sink.OnResponse(flow, 1, response);
                sink.OnExchange(new HttpExchange { Flow = flow, Sequence = 1, Request = request, Response = response });
            }
        }

        var lines = Encoding.UTF8.GetString(stream.ToArray()).TrimEnd('\n').Split('\n');
        Assert.Equal(9, lines.Length);
        for (int i = 3; i < 9; i++)
        {
            Assert.Equal(lines[i - 3], lines[i]);
        }

        using var first = JsonDocument.Parse(lines[0]);
        Assert.Equal(headers, Fields(first.RootElement.GetProperty("headers")));
        Assert.Equal("https://h\u00e9te/\u2028?q=\"x\"", first.RootElement.GetProperty("url").GetString());
        using var third = JsonDocument.Parse(lines[7]);
        Assert.Equal("Fine \U0001F600", third.RootElement.GetProperty("reason").GetString());
        Assert.Equal(headers, Fields(third.RootElement.GetProperty("trailers")));
    }

    private static (HttpFlow Flow, HttpMessage Request, HttpMessage Response) SmallExchange()
    {
        const string Head = "GET /a HTTP/1.1\r\nHost: localhost:8443\r\nAccept: */*\r\n\r\n";
        Assert.Equal(54, Head.Length);
        var response = Message(isRequest: false, status: 200, headers: [("Content-Type", "text/plain"), ("Content-Length", "5")],
            body: "hello"u8.ToArray(), first: T0 + 1_234_567, last: T0 + 1_877_000, reason: "OK", headerBytes: 64, wireBytes: 69);
        return (Flow(), SmallRequest(), response);
    }

    private static HttpMessage SmallRequest(
        (string, string)[]? headers = null,
        byte[]? body = null,
        long? bodyWireBytes = null,
        string? bodyDecoded = null,
        bool bodyTruncated = false,
        string? note = null,
        IReadOnlyList<(bool, int)>? grpc = null) =>
        Message(isRequest: true, method: "GET", url: "https://localhost:8443/a",
            headers: headers ?? [("Host", "localhost:8443"), ("Accept", "*/*")], body: body, first: T0 - 100_000, last: T0,
            headerBytes: 54, wireBytes: 54 + (body?.Length ?? 0), bodyWireBytes: bodyWireBytes, bodyDecoded: bodyDecoded,
            bodyTruncated: bodyTruncated, note: note, grpc: grpc);

    private static HttpFlow Flow(string protocol = "HTTP/1", FlowSide side = FlowSide.Client, int fd = 5) => new()
    {
        Connection = 7,
        Side = side,
        Library = "/usr/lib/libssl.so.3",
        Fd = fd,
        Address = Chunks.Loopback,
        Process = Chunks.Curl,
    };

    private static HttpMessage Message(
        bool isRequest,
        string version = "HTTP/1.1",
        int? stream = null,
        string? method = null,
        string? url = null,
        int status = 0,
        (string, string)[]? headers = null,
        byte[]? body = null,
        long first = T0,
        long last = T0,
        string? reason = null,
        (string, string)[]? trailers = null,
        long headerBytes = 0,
        long wireBytes = 0,
        long? bodyWireBytes = null,
        string? bodyDecoded = null,
        bool bodyTruncated = false,
        bool complete = true,
        string? note = null,
        IReadOnlyList<(bool, int)>? grpc = null,
        string? upgradedTo = null) => new()
        {
            IsRequest = isRequest,
            Version = version,
            Stream = stream,
            Process = Chunks.Curl,
            Method = method,
            Url = url,
            Status = status,
            Reason = reason,
            Headers = headers ?? [],
            Trailers = trailers ?? [],
            Body = body ?? [],
            BodyWireBytes = bodyWireBytes ?? body?.Length ?? 0,
            BodyDecoded = bodyDecoded,
            BodyTruncated = bodyTruncated,
            HeaderBytes = headerBytes,
            WireBytes = wireBytes,
            Complete = complete,
            Note = note,
            Grpc = grpc,
            UpgradedTo = upgradedTo,
            FirstByteNs = first,
            LastByteNs = last,
        };

    private static List<(string, string)> Fields(JsonElement array) =>
        [.. array.EnumerateArray().Select(pair =>
        {
            Assert.Equal(2, pair.GetArrayLength());
            return (pair[0].GetString()!, pair[1].GetString()!);
        })];

    private static string RenderText(Action<TextSink> feed, TextSinkOptions? options = null)
    {
        var stream = new MemoryStream();
        using (var sink = new TextSink(stream, options, TimeZoneInfo.Utc, leaveOpen: true))
        {
            feed(sink);
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static List<JsonDocument> RenderJson(Action<JsonSink> feed)
    {
        var stream = new MemoryStream();
        using (var sink = new JsonSink(stream, leaveOpen: true))
        {
            feed(sink);
        }

        string text = Encoding.UTF8.GetString(stream.ToArray());
        Assert.EndsWith("\n", text);
        return [.. text[..^1].Split('\n').Select(line => JsonDocument.Parse(line))];
    }
}
