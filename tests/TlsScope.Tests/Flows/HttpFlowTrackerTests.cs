using System.IO.Compression;
using System.Net;
using System.Text;
using TlsScope.Flows;
using TlsScope.Tests.Http2;
using TlsScope.Engine.Model;

namespace TlsScope.Tests.Flows;

public sealed class HttpFlowTrackerTests
{
    private const string GetA =
        "GET /a?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: test/1.0\r\nAccept: */*\r\n\r\n";

    private const string RespA =
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nX-Order: 1\r\n\r\nhello";

    private const string GetB = "GET /b HTTP/1.1\r\nHost: example.com\r\n\r\n";

    private const string RespB = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";

    // ---------------------------------------------------------------- HTTP/1

    [Fact]
    public void ARepeatedRequestReusesItsUrlStringAndAChangedOneGetsItsOwn()
    {
        var h = new Harness();
        foreach (var get in new[] { GetA, GetA, GetB, GetA, GetA.Replace("example.com", "other.example") })
        {
            h.Conn.Write(get);
            h.Conn.Read(RespB);
        }

        var urls = h.Http.Exchanges.Select(e => e.Request!.Url!).ToList();
        Assert.Equal(
            ["https://example.com/a?x=1", "https://example.com/a?x=1", "https://example.com/b", "https://example.com/a?x=1", "https://other.example/a?x=1"],
            urls);
        Assert.Same(urls[0], urls[1]);
    }

    [Fact]
    public void KeepAliveTwoRequestsGiveTwoExchangesInOrder()
    {
        var h = new Harness();
        var w1 = h.Conn.Write(GetA);
        var r1 = h.Conn.Read(RespA);
        h.Conn.Write(GetB);
        h.Conn.Read(RespB);

        Assert.Equal("request#1 response#1 exchange#1 request#2 response#2 exchange#2", h.Http.Trace);
        Assert.Empty(h.Raw.Events);
        Assert.Equal(1, h.Tracker.HttpConnections);

        var e1 = h.Http.Exchanges[0];
        Assert.Equal(1, e1.Sequence);
        Assert.Equal("HTTP/1.1", e1.Version);
        Assert.Null(e1.Stream);
        var req = e1.Request!;
        Assert.Same(h.Http.Requests[0].Message, req);
        Assert.Same(h.Http.Responses[0].Message, e1.Response);
        Assert.Equal("GET", req.Method);
        Assert.Equal("https://example.com/a?x=1", req.Url);
        Assert.Equal("HTTP/1.1", req.Version);
        Assert.Equal(
            [("Host", "example.com"), ("User-Agent", "test/1.0"), ("Accept", "*/*")],
            req.Headers);
        Assert.True(req.Complete);
        Assert.Null(req.Note);
        Assert.Equal(GetA.Length, req.WireBytes);
        Assert.Equal(GetA.Length, req.HeaderBytes);
        Assert.Equal(0, req.Body.Length);
        Assert.Same(ConnectionFeeder.Client, req.Process);

        var resp = e1.Response!;
        Assert.Equal(200, resp.Status);
        Assert.Equal("OK", resp.Reason);
        Assert.Null(resp.Url);
        Assert.Equal(
            [("Content-Type", "text/plain"), ("Content-Length", "5"), ("X-Order", "1")],
            resp.Headers);
        Assert.Equal("hello", Text(resp.Body));
        Assert.Null(resp.BodyDecoded);
        Assert.Equal(5, resp.BodyWireBytes);
        Assert.Equal(RespA.Length, resp.WireBytes);
        Assert.Equal(RespA.Length - 5, resp.HeaderBytes);
        Assert.True(resp.Complete);

        // Timing from the chunks' clocks: a write's start, a read's return.
        Assert.Equal(w1.StartUnixNs, req.FirstByteNs);
        Assert.Equal(w1.StartUnixNs, req.LastByteNs);
        Assert.Equal(r1.TimeUnixNs, resp.FirstByteNs);
        Assert.Equal(r1.TimeUnixNs - w1.StartUnixNs, e1.TimeToFirstByteNs);

        var e2 = h.Http.Exchanges[1];
        Assert.Equal(2, e2.Sequence);
        Assert.Equal("https://example.com/b", e2.Request!.Url);
        Assert.Equal(404, e2.Response!.Status);
        Assert.Equal("Not Found", e2.Response.Reason);
        Assert.Equal(0, e2.Response.Body.Length);

        var flow = e1.Flow;
        Assert.Same(flow, e2.Flow);
        Assert.All(h.Http.Events, e => Assert.Same(flow, e.Flow));
        Assert.Equal(7ul, flow.Connection);
        Assert.Equal(FlowSide.Client, flow.Side);
        Assert.Equal("HTTP/1.1", h.Http.Exchanges[0].Version);
        Assert.Equal("libssl.so.3", flow.Library);
        Assert.Equal(9, flow.Fd);
        Assert.Equal(ConnectionFeeder.Address, flow.Address);
    }

    [Fact]
    public void PipelinedRequestsInOneChunkPairInOrder()
    {
        var h = new Harness();
        h.Conn.Write(GetA + GetB + "DELETE /c/1 HTTP/1.1\r\nHost: example.com\r\n\r\n");
        h.Conn.Read(RespA + RespB + "HTTP/1.1 204 No Content\r\n\r\n");

        Assert.Equal("request#1 request#2 request#3 response#1 exchange#1 response#2 exchange#2 response#3 exchange#3", h.Http.Trace);
        Assert.Equal(
            ["GET https://example.com/a?x=1 -> 200", "GET https://example.com/b -> 404", "DELETE https://example.com/c/1 -> 204"],
            h.Http.Exchanges.Select(e => $"{e.Request!.Method} {e.Request.Url} -> {e.Response!.Status}"));
        Assert.Equal([1L, 2, 3], h.Http.Exchanges.Select(e => e.Sequence));
        Assert.Empty(h.Raw.Events);
    }

    [Fact]
    public void ChunkedGzipResponseIsDecodedToTheExactBytes()
    {
        byte[] original = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 300).Select(i => $"line {i} ✓ of the body\n")));
        byte[] gz = Gzip(original);
        Assert.True(gz.Length > 120);

        var wire = new StringBuilder()
            .Append("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Encoding: gzip\r\n")
            .Append("Transfer-Encoding: chunked\r\n\r\n")
            .Append("64;ext=1\r\n").Append(Encoding.Latin1.GetString(gz, 0, 100)).Append("\r\n")
            .Append("7\r\n").Append(Encoding.Latin1.GetString(gz, 100, 7)).Append("\r\n")
            .Append((gz.Length - 107).ToString("x")).Append("\r\n").Append(Encoding.Latin1.GetString(gz, 107, gz.Length - 107)).Append("\r\n")
            .Append("0\r\nX-Checksum: abc\r\n\r\n")
            .ToString();
        byte[] bytes = ConnectionFeeder.Latin1(wire);

        var h = new Harness();
        h.Conn.Write(GetA);
        h.Conn.SendInPieces(Direction.Read, bytes, 1, 50, 13, 100, 2, 3);

        var resp = Assert.Single(h.Http.Exchanges).Response!;
        Assert.Equal(original, resp.Body.ToArray());
        Assert.Equal("gzip", resp.BodyDecoded);
        Assert.Equal(gz.Length, resp.BodyWireBytes);
        Assert.Equal(bytes.Length, resp.WireBytes);
        Assert.Equal([("X-Checksum", "abc")], resp.Trailers);
        Assert.True(resp.Complete);
        Assert.Null(resp.Note);
        Assert.Empty(h.Raw.Events);
    }

    [Theory]
    [InlineData("deflate")]
    [InlineData("br")]
    public void OtherContentEncodingsAreDecoded(string coding)
    {
        byte[] original = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("abcdefgh", 200)));
        byte[] encoded = coding == "br" ? Brotli(original) : ZLib(original);
        var h = new Harness();
        h.Conn.Write(GetA);
        h.Conn.Read(ConnectionFeeder.Latin1(
            $"HTTP/1.1 200 OK\r\nContent-Encoding: {coding}\r\nContent-Length: {encoded.Length}\r\n\r\n")
            .Concat(encoded).ToArray());

        var resp = Assert.Single(h.Http.Exchanges).Response!;
        Assert.Equal(original, resp.Body.ToArray());
        Assert.Equal(coding, resp.BodyDecoded);
        Assert.Equal(encoded.Length, resp.BodyWireBytes);
    }

    [Fact]
    public void UndecodableBodyIsKeptEncodedWithANote()
    {
        var h = new Harness();
        h.Conn.Write(GetA);
        h.Conn.Read("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope");

        var resp = Assert.Single(h.Http.Exchanges).Response!;
        Assert.Equal("nope", Text(resp.Body));
        Assert.Null(resp.BodyDecoded);
        Assert.Equal("body kept encoded: gzip could not be decoded within the body cap", resp.Note);
        Assert.True(resp.Complete);
    }

    [Fact]
    public void HeadResponseHasNoBodyAndTheNextExchangeFollows()
    {
        var h = new Harness();
        h.Conn.Write("HEAD /big HTTP/1.1\r\nHost: example.com\r\n\r\n");
        h.Conn.Read("HTTP/1.1 200 OK\r\nContent-Length: 123456\r\nContent-Type: application/zip\r\n\r\n");
        h.Conn.Write(GetB);
        h.Conn.Read("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");

        Assert.Equal(2, h.Http.Exchanges.Count);
        var head = h.Http.Exchanges[0];
        Assert.Equal("HEAD", head.Request!.Method);
        Assert.Equal(200, head.Response!.Status);
        Assert.Equal(0, head.Response.Body.Length);
        Assert.Equal(0, head.Response.BodyWireBytes);
        Assert.True(head.Response.Complete);
        Assert.Equal("123456", head.Response.GetHeader("content-length"));
        Assert.Equal("ok", Text(h.Http.Exchanges[1].Response!.Body));
        Assert.Equal(2, h.Http.Exchanges[1].Sequence);
    }

    [Fact]
    public void OneMebibytePostInManyChunks()
    {
        byte[] body = new byte[1024 * 1024];
        new Random(42).NextBytes(body);
        byte[] head = ConnectionFeeder.Latin1(
            $"POST /upload HTTP/1.1\r\nHost: files.example\r\nContent-Type: application/octet-stream\r\nContent-Length: {body.Length}\r\n\r\n");
        byte[] wire = [.. head, .. body];

        var h = new Harness();
        var rng = new Random(7);
        int pos = 0;
        DataChunk? first = null;
        DataChunk? last = null;
        while (pos < wire.Length)
        {
            int n = Math.Min(wire.Length - pos, rng.Next(1, 40_000));
            last = h.Conn.Write(wire[pos..(pos + n)]);
            first ??= last;
            pos += n;
        }

        Assert.Equal("request#1", h.Http.Trace); // reported once its body ended, paired with the response later
        h.Conn.Read("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");

        Assert.Equal("request#1 response#1 exchange#1", h.Http.Trace);
        var req = h.Http.Exchanges[0].Request!;
        Assert.Equal("https://files.example/upload", req.Url);
        Assert.True(body.AsSpan().SequenceEqual(req.Body.Span));
        Assert.Equal(body.Length, req.BodyWireBytes);
        Assert.Equal(wire.Length, req.WireBytes);
        Assert.Equal(head.Length, req.HeaderBytes);
        Assert.False(req.BodyTruncated);
        Assert.True(req.Complete);
        Assert.Equal(first!.StartUnixNs, req.FirstByteNs);
        Assert.Equal(last!.StartUnixNs, req.LastByteNs);
        Assert.Equal(201, h.Http.Exchanges[0].Response!.Status);
        Assert.Empty(h.Raw.Events);
    }

    [Fact]
    public void BodyBeyondTheCapIsTruncatedAndCounted()
    {
        var h = new Harness(new FlowOptions { MaxBodyBytes = 10 });
        h.Conn.Write("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 26\r\n\r\nabcdefghijklmnopqrstuvwxyz");
        h.Conn.Read("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");

        var req = Assert.Single(h.Http.Exchanges).Request!;
        Assert.Equal("abcdefghij", Text(req.Body));
        Assert.True(req.BodyTruncated);
        Assert.Equal(26, req.BodyWireBytes);
        Assert.True(req.Complete);
    }

    [Fact]
    public void ResponseFirstMidConnectionGivesAnExchangeWithoutRequest()
    {
        var h = new Harness();
        var r = h.Conn.Read("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
        h.Conn.Write(GetB);
        h.Conn.Read(RespB);

        Assert.Equal("response#1 exchange#1 request#2 response#2 exchange#2", h.Http.Trace);
        var e1 = h.Http.Exchanges[0];
        Assert.Null(e1.Request);
        Assert.Equal("hi", Text(e1.Response!.Body));
        Assert.Null(e1.TimeToFirstByteNs);
        Assert.Null(e1.TotalNs);
        Assert.Null(e1.SendNs);
        Assert.Equal(r.TimeUnixNs, e1.StartNs);
        Assert.Equal("HTTP/1.1", e1.Version);
        Assert.Equal(FlowSide.Client, e1.Flow.Side); // the process reads responses: it is the client
        Assert.Equal("https://example.com/b", h.Http.Exchanges[1].Request!.Url);
        Assert.Equal(404, h.Http.Exchanges[1].Response!.Status);
        Assert.Empty(h.Raw.Events);
    }

    [Fact]
    public void ServerSideViewReadsRequestsAndWritesResponses()
    {
        var h = new Harness();
        var r = h.Conn.Read("GET /s HTTP/1.1\r\nHost: api.local\r\n\r\n");
        var w = h.Conn.Write("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nyes");

        var e = Assert.Single(h.Http.Exchanges);
        Assert.Equal(FlowSide.Server, e.Flow.Side);
        Assert.Equal("https://api.local/s", e.Request!.Url);
        Assert.Equal("yes", Text(e.Response!.Body));
        // A read's clock is its return, a write's its start.
        Assert.Equal(r.TimeUnixNs, e.Request.LastByteNs);
        Assert.Equal(w.StartUnixNs, e.Response.FirstByteNs);
        Assert.Equal(w.StartUnixNs - r.TimeUnixNs, e.TimeToFirstByteNs);
    }

    [Fact]
    public void ServerSideMidConnectionResponseFirst()
    {
        var h = new Harness();
        h.Conn.Write("HTTP/1.1 204 No Content\r\n\r\n");
        h.Conn.Read("GET /n HTTP/1.1\r\nHost: h\r\n\r\n");
        h.Conn.Write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");

        Assert.Equal("response#1 exchange#1 request#2 response#2 exchange#2", h.Http.Trace);
        Assert.Equal(FlowSide.Server, h.Http.Exchanges[0].Flow.Side);
        Assert.Equal(204, h.Http.Exchanges[0].Response!.Status);
        Assert.Equal(200, h.Http.Exchanges[1].Response!.Status);
    }

    [Fact]
    public void RequestWithoutResponseAtCloseIsEmittedOnClose()
    {
        var log = new OrderLog();
        var tracker = new HttpFlowTracker(log, log, new FlowOptions());
        var c = new ConnectionFeeder(tracker);
        c.Write(GetA);
        Assert.Equal(["request#1"], log.Lines);

        var closed = c.Close();

        Assert.Equal(["request#1", "exchange#1 GET -> none", "close 7"], log.Lines);
        var e = log.Exchanges.Single();
        Assert.Null(e.Response);
        Assert.Null(e.TimeToFirstByteNs);
        Assert.Equal(e.Request!.LastByteNs, e.EndNs);
        Assert.Same(closed, log.Closed.Single());
    }

    [Fact]
    public void ResponseCutByTheCloseIsIncompleteAndCloseDelimitedBodyEndsAtClose()
    {
        var h = new Harness();
        h.Conn.Write(GetA);
        h.Conn.Read("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end");
        Assert.Equal("request#1", h.Http.Trace);
        h.Conn.Close();

        var resp = Assert.Single(h.Http.Exchanges).Response!;
        Assert.Equal("until the end", Text(resp.Body));
        Assert.True(resp.Complete);

        var h2 = new Harness();
        h2.Conn.Write(GetA);
        h2.Conn.Read("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort");
        h2.Conn.Close();
        var cut = Assert.Single(h2.Http.Exchanges).Response!;
        Assert.Equal("short", Text(cut.Body));
        Assert.False(cut.Complete);
        Assert.Equal("incomplete: bytes lost or the connection ended first", cut.Note);
    }

    [Fact]
    public void ResponseBeforeTheRequestBodyEndedStillPairs()
    {
        var h = new Harness();
        h.Conn.Write("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n12345");
        h.Conn.Read("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n");
        Assert.Equal("response#1", h.Http.Trace);
        h.Conn.Write("67890");

        Assert.Equal("response#1 request#1 exchange#1", h.Http.Trace);
        var e = h.Http.Exchanges[0];
        Assert.Equal("1234567890", Text(e.Request!.Body));
        Assert.Equal(413, e.Response!.Status);
    }

    [Fact]
    public void InterimResponsesAreSkipped()
    {
        var h = new Harness();
        h.Conn.Write("POST /c HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
        h.Conn.Read("HTTP/1.1 100 Continue\r\n\r\n");
        h.Conn.Write("ab");
        h.Conn.Read("HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz");

        Assert.Equal("request#1 response#1 exchange#1", h.Http.Trace);
        Assert.Equal(200, h.Http.Exchanges[0].Response!.Status);
        Assert.Equal("z", Text(h.Http.Exchanges[0].Response!.Body));
    }

    [Fact]
    public void SettingsLookalikeWithoutAClientPrefaceFallsBackToRawChunks()
    {
        var h = new Harness();
        // 9 bytes that look like a server's SETTINGS frame, then a peer that never sends the HTTP/2 preface.
        byte[] settingsLike = [0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100];
        h.Conn.Read(settingsLike);
        Assert.Equal(1, h.Tracker.HttpConnections);
        h.Conn.Write("HELLO, not a preface at all");
        h.Conn.Write("more bytes");
        h.Conn.Close();

        Assert.Empty(h.Http.Exchanges);
        // Nothing after the failure is swallowed: the failing chunk and the later ones pass through whole.
        Assert.Equal("HELLO, not a preface at allmore bytes", Text(h.Raw.BytesOf(h.Conn.Connection, Direction.Write)));
    }

    [Fact]
    public void OnlyGapsWhileSniffingGiveUpOnHttpInsteadOfGrowing()
    {
        var h = new Harness();
        h.Conn.Read("HT"); // not enough to decide
        for (int i = 0; i < HttpFlowTracker.MaxHeldWhileSniffing + 5; i++)
        {
            h.Conn.Gap(Direction.Read, 10);
        }

        // The held chunk and every gap came out, in order, once the cap was reached.
        Assert.Equal(HttpFlowTracker.MaxHeldWhileSniffing + 6, h.Raw.Events.Count);
        Assert.Equal("HT", Text(Assert.IsType<DataChunk>(h.Raw.Events[0]).Data));
        Assert.All(h.Raw.Events.Skip(1), e => Assert.IsType<StreamGap>(e));
    }

    [Fact]
    public void NonHttpConnectionPassesThroughUnchangedIncludingHeldChunks()
    {
        var h = new Harness();
        byte[] buffer = ConnectionFeeder.Latin1("GE");
        // The capture reuses its buffer after the call: the held chunk must be a copy.
        var held = h.Conn.Make(Direction.Write, buffer);
        h.Conn.Fed.Add(held);
        h.Tracker.OnData(held);
        buffer[0] = (byte)'X';
        buffer[1] = (byte)'X';
        h.Conn.Read("HT");
        h.Conn.Gap(Direction.Read, 5);
        Assert.Empty(h.Raw.Events); // all held while sniffing
        h.Conn.Write(new byte[] { (byte)'T', 0, 1, 2, 3 });
        h.Conn.Read(new byte[] { 0xff, 0x00 });
        h.Conn.Write("GET / HTTP/1.1\r\n\r\n"); // too late: the connection is raw
        h.Conn.Gap(Direction.Write, 3);
        h.Conn.Close();

        Assert.Empty(h.Http.Events);
        Assert.Equal(0, h.Tracker.HttpConnections);
        Assert.Equal(h.Conn.Fed.Count, h.Raw.Events.Count);
        var first = Assert.IsType<DataChunk>(h.Raw.Events[0]);
        Assert.Equal("GE", Text(first.Data));
        AssertSameEvents(h.Conn.Fed.Skip(1), h.Raw.Events.Skip(1));
        Assert.Equal(held with { Data = default }, first with { Data = default });
        Assert.Equal(
            ConnectionFeeder.Latin1("GET\0\u0001\u0002\u0003GET / HTTP/1.1\r\n\r\n"),
            h.Raw.BytesOf(7, Direction.Write));
    }

    [Fact]
    public void ConnectionThatNeverDecidesIsReplayedRawOnClose()
    {
        var h = new Harness();
        h.Conn.Write("POS");
        h.Conn.Read("H");
        h.Conn.Close();

        Assert.Empty(h.Http.Events);
        AssertSameEvents(h.Conn.Fed, h.Raw.Events);
    }

    [Fact]
    public void RequestLineSplitWhileSniffingIsParsedWhole()
    {
        var h = new Harness();
        h.Conn.SendInPieces(Direction.Write, ConnectionFeeder.Latin1(GetA), 1, 1, 1, 5);
        h.Conn.SendInPieces(Direction.Read, ConnectionFeeder.Latin1(RespA), 3, 1);

        var e = Assert.Single(h.Http.Exchanges);
        Assert.Equal("https://example.com/a?x=1", e.Request!.Url);
        Assert.Equal(GetA.Length, e.Request.WireBytes);
        Assert.Equal(((DataChunk)h.Conn.Fed[0]).StartUnixNs, e.Request.FirstByteNs);
        Assert.Equal("hello", Text(e.Response!.Body));
        Assert.Empty(h.Raw.Events);
    }

    [Fact]
    public void ResponseBytesHeldWhileTheRequestWasSniffedAreNotLost()
    {
        var h = new Harness();
        h.Conn.Write("GE"); // held
        h.Conn.Read("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"); // decides: responses on Read
        h.Conn.Write("T /x HTTP/1.1\r\nHost: h\r\n\r\n");
        h.Conn.Read("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nB");

        // The held "GE" was replayed into the request parser before the response.
        Assert.Equal("response#1 exchange#1 request#2 response#2 exchange#2", h.Http.Trace);
        Assert.Equal("https://h/x", h.Http.Exchanges[1].Request!.Url);
        Assert.Equal("B", Text(h.Http.Exchanges[1].Response!.Body));
    }

    /// <summary>Go's client reads on a goroutine of its own: the read that got the response can
    /// return before the write of the request does, so the response's chunk comes first. It is held
    /// and answers the request that was handed over before it was read.</summary>
    [Fact]
    public void AResponseThatComesBeforeItsRequestAnswersIt()
    {
        var h = new Harness();
        var t = h.Conn.Clock;
        h.Conn.Clock = t + 5_000_000;
        h.Conn.Read("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"); // read returned at t+5 ms
        Assert.Empty(h.Http.Exchanges); // held
        h.Conn.Clock = t; // the write started at t, returned later
        h.Conn.Write("GET /go HTTP/1.1\r\nHost: h\r\n\r\n");
        h.Conn.Clock = t + 10_000_000;
        h.Conn.Write("GET /next HTTP/1.1\r\nHost: h\r\n\r\n");
        h.Conn.Read("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");

        Assert.Equal("request#1 response#1 exchange#1 request#2 response#2 exchange#2", h.Http.Trace);
        Assert.Equal("GET https://h/go -> 200", Summary(h.Http.Exchanges[0]));
        Assert.Equal("hi", Text(h.Http.Exchanges[0].Response!.Body));
        Assert.Equal("GET https://h/next -> 404", Summary(h.Http.Exchanges[1]));
    }

    /// <summary>A response whose request went out before the capture started is held too, and
    /// shown alone once a later request shows it cannot be that one's, or at the end.</summary>
    [Fact]
    public void AResponseToARequestBeforeTheCaptureIsShownAlone()
    {
        var h = new Harness();
        h.Conn.Read("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA");
        h.Conn.Write("GET /later HTTP/1.1\r\nHost: h\r\n\r\n"); // handed over after A was read
        h.Conn.Read("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nB");
        h.Conn.Read("HTTP/1.1 204 No Content\r\n\r\n"); // no request at all: held until the end
        h.Tracker.Dispose();

        Assert.Equal("response#1 exchange#1 request#2 response#2 exchange#2 response#3 exchange#3", h.Http.Trace);
        Assert.Null(h.Http.Exchanges[0].Request);
        Assert.Equal("A", Text(h.Http.Exchanges[0].Response!.Body));
        Assert.Equal("GET https://h/later -> 200", Summary(h.Http.Exchanges[1]));
        Assert.Null(h.Http.Exchanges[2].Request);
        Assert.Equal(204, h.Http.Exchanges[2].Response!.Status);
    }

    [Fact]
    public void GapsPassThroughAndHttp1Resynchronises()
    {
        var h = new Harness();
        h.Conn.Write(GetA);
        h.Conn.Read(RespA);
        h.Conn.Write("POST /lost HTTP/1.1\r\nHost: example.com\r\nContent-Le");
        var g1 = h.Conn.Gap(Direction.Write, 40);
        var g2 = h.Conn.Gap(Direction.Read, 80);
        h.Conn.Write("ngth: 3\r\n\r\nabcGET /c HTTP/1.1\r\nHost: example.com\r\n\r\n"); // the tail of the lost request, then a new one
        h.Conn.Read("ost response tail\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nc");

        Assert.Equal([g1, g2], h.Raw.Events);
        Assert.Equal(3, h.Http.Exchanges.Count);
        Assert.Equal("GET https://example.com/a?x=1 -> 200", Summary(h.Http.Exchanges[0]));
        var lost = h.Http.Exchanges[1];
        Assert.Equal(2, lost.Sequence);
        Assert.Equal("POST", lost.Request!.Method);
        Assert.False(lost.Request.Complete);
        Assert.Null(lost.Response);
        Assert.Equal("incomplete: bytes lost or the connection ended first", lost.Request.Note);
        Assert.Equal("GET https://example.com/c -> 200", Summary(h.Http.Exchanges[2]));
        Assert.Equal(3, h.Http.Exchanges[2].Sequence);
        Assert.Equal("c", Text(h.Http.Exchanges[2].Response!.Body));
    }

    [Fact]
    public void GapInsideAFramedBodyKeepsTheFraming()
    {
        var h = new Harness();
        h.Conn.Write(GetA);
        h.Conn.Read("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123");
        h.Conn.Gap(Direction.Read, 3);
        h.Conn.Read("789");
        h.Conn.Write(GetB);
        h.Conn.Read(RespB);

        Assert.Equal(2, h.Http.Exchanges.Count);
        var cut = h.Http.Exchanges[0].Response!;
        Assert.Equal("0123789", Text(cut.Body));
        Assert.Equal(7, cut.BodyWireBytes);
        Assert.False(cut.Complete);
        Assert.Equal(404, h.Http.Exchanges[1].Response!.Status);
        Assert.True(h.Http.Exchanges[1].Response!.Complete);
    }

    [Fact]
    public void GapWhileSniffingIsReplayedToTheParserAndPassedThrough()
    {
        var h = new Harness();
        h.Conn.Write("GE");
        var gap = h.Conn.Gap(Direction.Write, 10);
        h.Conn.Write("T /junk\r\n"); // sniffed as "GET /junk" (gaps are not seen by the sniffer); the parser resyncs
        h.Conn.Write("GET /after HTTP/1.1\r\nHost: h\r\n\r\n");
        h.Conn.Read(RespB);

        Assert.Equal([gap], h.Raw.Events);
        var e = Assert.Single(h.Http.Exchanges);
        Assert.Equal("https://h/after", e.Request!.Url);
        Assert.Equal(404, e.Response!.Status);
    }

    [Fact]
    public void TruncatedChunkCountsItsDroppedBytesAsLost()
    {
        // --max-payload cut the chunk: 50 body bytes were sent but not captured, and no gap event says so.
        var h = new Harness();
        h.Conn.Send(Direction.Write, ConnectionFeeder.Latin1("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n0123456789"), truncated: true, dropped: 50);
        h.Conn.Write(new string('x', 40) + GetB);
        h.Conn.Read("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" + RespB);

        Assert.Equal(2, h.Http.Exchanges.Count);
        var post = h.Http.Exchanges[0].Request!;
        Assert.Equal("0123456789" + new string('x', 40), Text(post.Body));
        Assert.False(post.Complete);
        Assert.Equal("https://example.com/b", h.Http.Exchanges[1].Request!.Url);
        Assert.Equal(404, h.Http.Exchanges[1].Response!.Status);
        Assert.Empty(h.Raw.Events);
    }

    [Fact]
    public void OtherUpgradeForwardsLaterBytesAsRawChunks()
    {
        var h = new Harness();
        h.Conn.Write("GET /chat HTTP/1.1\r\nHost: up.example\r\nUpgrade: custom/1\r\nConnection: Upgrade\r\n\r\n");
        const string Switch = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: custom/1\r\nConnection: Upgrade\r\n\r\n";
        var r1 = h.Conn.Read(ConnectionFeeder.Latin1(Switch).Concat(new byte[] { 0x81, 0x02, (byte)'h', (byte)'i' }).ToArray());
        var w2 = h.Conn.Write(new byte[] { 0x81, 0x82, 1, 2, 3, 4, 0x69, 0x6b });
        var gap = h.Conn.Gap(Direction.Read, 6);
        var r3 = h.Conn.Read("HTTP/1.1 200 OK\r\n\r\n"); // not HTTP any more
        var closed = h.Conn.Close();

        Assert.Equal("request#1 response#1 exchange#1", h.Http.Trace);
        var e = h.Http.Exchanges[0];
        Assert.Equal(101, e.Response!.Status);
        Assert.Equal("custom/1", e.Response.UpgradedTo);
        Assert.Equal(Switch.Length, e.Response.WireBytes);

        Assert.Equal(5, h.Raw.Events.Count);
        var tail = Assert.IsType<DataChunk>(h.Raw.Events[0]);
        Assert.Equal(new byte[] { 0x81, 0x02, (byte)'h', (byte)'i' }, tail.Data.ToArray());
        Assert.Equal(Switch.Length, tail.StreamOffset);
        Assert.Equal(r1 with { Data = default, StreamOffset = 0 }, tail with { Data = default, StreamOffset = 0 });
        AssertSameEvents([w2, gap, r3, closed], h.Raw.Events.Skip(1));
    }

    [Fact]
    public void UpgradeTailOfAChunkAfterHeldBytesHasTheRightOffset()
    {
        var h = new Harness();
        h.Conn.Read("HTT"); // held while sniffing; the 101 completes in the next read
        var r = h.Conn.Read("P/1.1 101 Switching Protocols\r\nUpgrade: foo\r\n\r\n\u0081\u0000");

        var e = Assert.Single(h.Http.Exchanges);
        Assert.Null(e.Request);
        Assert.Equal("foo", e.Response!.UpgradedTo);
        var tail = Assert.IsType<DataChunk>(Assert.Single(h.Raw.Events));
        Assert.Equal(new byte[] { 0x81, 0x00 }, tail.Data.ToArray());
        Assert.Equal(r.StreamOffset + r.Length - 2, tail.StreamOffset);
        Assert.Equal(3 + r.Length - 2, tail.StreamOffset);
    }

    [Fact]
    public void WebSocketUpgradeTurnsLaterBytesIntoFrames()
    {
        var h = new Harness();
        h.Conn.Write("GET /chat HTTP/1.1\r\nHost: ws.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
        const string Switch = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
        // The server's first frame shares the 101's chunk; the client's frame is masked with 01 02 03 04.
        var r1 = h.Conn.Read(ConnectionFeeder.Latin1(Switch).Concat(new byte[] { 0x81, 0x02, (byte)'h', (byte)'i' }).ToArray());
        var w2 = h.Conn.Write(new byte[] { 0x82, 0x82, 1, 2, 3, 4, 0x69, 0x6b });
        var gap = h.Conn.Gap(Direction.Read, 6);
        var closed = h.Conn.Close();

        Assert.Equal("request#1 response#1 exchange#1 websocket#1 websocket#1", h.Http.Trace);
        Assert.Equal("websocket", h.Http.Exchanges[0].Response!.UpgradedTo);
        var (fromServer, fromClient) = (h.Http.WebSockets[0], h.Http.WebSockets[1]);
        Assert.False(fromServer.FromClient);
        Assert.Equal("text", fromServer.Frame.OpcodeName);
        Assert.Equal("hi", Encoding.ASCII.GetString(fromServer.Frame.Payload));
        Assert.False(fromServer.Frame.Masked);
        Assert.Equal(r1.TimeUnixNs, fromServer.Frame.LastByteClock);
        Assert.True(fromClient.FromClient);
        Assert.Equal("binary", fromClient.Frame.OpcodeName);
        Assert.Equal("hi", Encoding.ASCII.GetString(fromClient.Frame.Payload));
        Assert.True(fromClient.Frame.Masked);
        Assert.Equal(w2.StartUnixNs, fromClient.Frame.LastByteClock);
        Assert.Same(h.Http.Exchanges[0].Flow, fromClient.Flow);
        Assert.Equal([gap, closed], h.Raw.Events); // frames are not shown again as chunks
    }

    [Fact]
    public void ConnectTunnelForwardsLaterBytes()
    {
        var h = new Harness();
        h.Conn.Write("CONNECT db.internal:5432 HTTP/1.1\r\nHost: db.internal:5432\r\n\r\n");
        h.Conn.Read("HTTP/1.1 200 Connection established\r\n\r\n");
        var w = h.Conn.Write(new byte[] { 0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f });

        var e = Assert.Single(h.Http.Exchanges);
        Assert.Equal("https://db.internal:5432", e.Request!.Url);
        Assert.Equal("tunnel", e.Response!.UpgradedTo);
        AssertSameEvents([w], h.Raw.Events);
    }

    [Fact]
    public void TimingsComeFromTheChunkClocks()
    {
        var h = new Harness();
        var w1 = h.Conn.Write("POST /t HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nab");
        h.Conn.Clock += 5_000_000;
        var w2 = h.Conn.Write("cd");
        h.Conn.Clock += 20_000_000;
        var r1 = h.Conn.Read("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nxyz");
        h.Conn.Clock += 3_000_000;
        var r2 = h.Conn.Read("uvw");

        var e = Assert.Single(h.Http.Exchanges);
        Assert.Equal(w1.StartUnixNs, e.Request!.FirstByteNs);
        Assert.Equal(w2.StartUnixNs, e.Request.LastByteNs);
        Assert.Equal(r1.TimeUnixNs, e.Response!.FirstByteNs);
        Assert.Equal(r2.TimeUnixNs, e.Response.LastByteNs);
        Assert.Equal(r1.TimeUnixNs - w2.StartUnixNs, e.TimeToFirstByteNs);
        Assert.Equal(r2.TimeUnixNs - w1.StartUnixNs, e.TotalNs);
        Assert.Equal(w2.StartUnixNs - w1.StartUnixNs, e.SendNs);
        Assert.Equal(r2.TimeUnixNs - r1.TimeUnixNs, e.ReceiveNs);
        Assert.Equal(w1.StartUnixNs, e.StartNs);
        Assert.Equal(r2.TimeUnixNs, e.EndNs);
        // Exact figures: 1 ms per event, plus the manual advances; reads return ReadWait after they start.
        Assert.Equal(21_000_000, e.TimeToFirstByteNs);
        Assert.Equal(31_000_000, e.TotalNs);
    }

    [Fact]
    public void RedactionMasksCredentialsAndCustomHeadersOnly()
    {
        var h = new Harness(new FlowOptions { Redactor = new HeaderRedactor(["X-Api-Key", " x-session "]) });
        h.Conn.Write("GET /r HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer secret\r\nCookie: a=1; b=2\r\n" +
            "x-api-key: k123\r\nX-Session: s\r\nProxy-Authorization: Basic Zm9v\r\nAccept: text/html\r\n\r\n");
        h.Conn.Read("HTTP/1.1 200 OK\r\nSet-Cookie: a=2\r\nSET-COOKIE: b=3\r\nContent-Length: 0\r\nX-Api-Keys: not-this-one\r\n\r\n");

        var e = Assert.Single(h.Http.Exchanges);
        Assert.Equal(
            [("Host", "h"), ("Authorization", "[REDACTED]"), ("Cookie", "[REDACTED]"), ("x-api-key", "[REDACTED]"),
             ("X-Session", "[REDACTED]"), ("Proxy-Authorization", "[REDACTED]"), ("Accept", "text/html")],
            e.Request!.Headers);
        Assert.Equal(
            [("Set-Cookie", "[REDACTED]"), ("SET-COOKIE", "[REDACTED]"), ("Content-Length", "0"), ("X-Api-Keys", "not-this-one")],
            e.Response!.Headers);
        Assert.Same(e.Request, h.Http.Requests.Single().Message);
    }

    [Fact]
    public void WithoutRedactorNothingIsMasked()
    {
        var h = new Harness();
        h.Conn.Write("GET /r HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer secret\r\n\r\n");
        h.Conn.Close();
        Assert.Equal("Bearer secret", h.Http.Exchanges.Single().Request!.GetHeader("authorization"));
    }

    [Fact]
    public void RedactionCoversTrailers()
    {
        var h = new Harness(new FlowOptions { Redactor = new HeaderRedactor([]) });
        h.Conn.Write(GetA);
        h.Conn.Read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nSet-Cookie: t=1\r\nX-T: v\r\n\r\n");
        Assert.Equal([("Set-Cookie", "[REDACTED]"), ("X-T", "v")], h.Http.Exchanges.Single().Response!.Trailers);
    }

    [Fact]
    public void DisposeEndsOpenConnectionsAndDeliversUnfinishedExchanges()
    {
        var h = new Harness();
        var c2 = new ConnectionFeeder(h.Tracker, connection: 8);
        var c3 = new ConnectionFeeder(h.Tracker, connection: 9);
        h.Conn.Write(GetA); // HTTP/1, no response yet
        c2.Write("PU"); // still sniffing
        c3.Write(new FrameBuilder().Preface().Settings().Headers(1, new HpackWriter().Encode(
            (":method", "GET"), (":scheme", "https"), (":authority", "h2"), (":path", "/open")), endStream: true).ToArray());
        Assert.Equal("request#1 request#1", h.Http.Trace);

        h.Tracker.Dispose();

        Assert.Equal("request#1 request#1 exchange#1 exchange#1", h.Http.Trace);
        Assert.Equal(["https://example.com/a?x=1", "https://h2/open"], h.Http.Exchanges.Select(e => e.Request!.Url));
        Assert.All(h.Http.Exchanges, e => Assert.Null(e.Response));
        AssertSameEvents(c2.Fed, h.Raw.Events); // the held bytes, replayed raw; no close was seen
        Assert.Equal(1, h.Raw.Flushes);
        Assert.Equal(0, h.Raw.Disposals); // the sinks belong to the caller
    }

    [Fact]
    public void FlushIsForwarded()
    {
        var h = new Harness();
        h.Tracker.Flush();
        h.Tracker.Flush();
        Assert.Equal(2, h.Raw.Flushes);
    }

    [Fact]
    public void MemoryBioAddressLearnedLaterUpdatesTheFlow()
    {
        var h = new Harness();
        h.Conn.ChunkAddress = ConnectionAddress.Unknown;
        h.Conn.Fd = -1;
        h.Conn.Write("GET /m HTTP/1.1\r\n\r\n"); // no Host header: the URL names the server's end
        var flow = h.Http.Events.Single().Flow;
        Assert.False(flow.Address.IsKnown);
        Assert.Equal("https://unknown/m", h.Http.Requests[0].Message.Url);

        var learned = new ConnectionAddress(
            new IPEndPoint(IPAddress.Parse("192.168.1.5"), 40000), new IPEndPoint(IPAddress.Parse("93.184.216.34"), 443), Inferred: true);
        h.Conn.ChunkAddress = learned;
        h.Conn.Fd = 12;
        h.Conn.Read(RespB);
        Assert.Equal(learned, flow.Address);
        Assert.Equal(12, flow.Fd);

        h.Conn.ChunkAddress = ConnectionAddress.Unknown; // an unknown address never replaces a known one
        h.Conn.Write("GET /n HTTP/1.1\r\n\r\n");
        h.Conn.Read(RespB);
        Assert.Equal(learned, flow.Address);
        Assert.Same(flow, h.Http.Exchanges[1].Flow);
        Assert.Equal("https://93.184.216.34:443/n", h.Http.Exchanges[1].Request!.Url);
    }

    [Fact]
    public void ProcessOfTheLatestChunkIsOnTheFlow()
    {
        var h = new Harness();
        h.Conn.Write(GetA);
        var other = new ProcessInfo(4242, 4300, 1000, "worker");
        h.Conn.Process = other;
        h.Conn.Read(RespA);

        var e = Assert.Single(h.Http.Exchanges);
        Assert.Same(ConnectionFeeder.Client, e.Request!.Process);
        Assert.Same(other, e.Response!.Process);
        Assert.Same(other, e.Flow.Process);
    }

    [Fact]
    public void ConnectionsAreIndependent()
    {
        var h = new Harness();
        var other = new ConnectionFeeder(h.Tracker, connection: 99);
        h.Conn.Write(GetA);
        var tls = other.Write(new byte[] { 0x16, 0x03, 0x03, 0, 5 });
        other.Write("GET / HTTP/1.1\r\n\r\n");
        h.Conn.Read(RespA);
        other.Close();

        var e = Assert.Single(h.Http.Exchanges);
        Assert.Equal(7ul, e.Flow.Connection);
        AssertSameEvents(other.Fed, h.Raw.Events);
        Assert.Same(tls.Process, ((DataChunk)h.Raw.Events[0]).Process);
    }

    [Fact]
    public void GapOfAnUnknownConnectionPassesThrough()
    {
        var h = new Harness();
        var gap = new StreamGap(1, 55, Direction.Read, null, 0, 10, "x");
        var closed = new ConnectionClosed(2, 55, 1, 10, 0);
        h.Tracker.OnGap(gap);
        h.Tracker.OnClose(closed);
        Assert.Equal([gap, closed], h.Raw.Events);
    }

    // ---------------------------------------------------------------- HTTP/2

    [Fact]
    public void Http2ThreeRequestsWithHpackDynamicTableReuse()
    {
        var h = new Harness();
        var req = new HpackWriter();
        var resp = new HpackWriter();

        byte[] b1 = req.Encode((":method", "GET"), (":scheme", "https"), (":authority", "api.example"), (":path", "/v1/items"),
            ("user-agent", "grpc-go/1.0"), ("x-trace", "t-1"));
        Assert.Equal(0, req.DynamicHits);
        byte[] b3 = req.Encode((":method", "GET"), (":scheme", "https"), (":authority", "api.example"), (":path", "/v1/items/2"),
            ("user-agent", "grpc-go/1.0"), ("x-trace", "t-2"));
        Assert.Equal(2, req.DynamicHits); // :authority and user-agent come from request 1's literals
        byte[] b5 = req.Encode((":method", "POST"), (":scheme", "https"), (":authority", "api.example"), (":path", "/v1/items"),
            ("user-agent", "grpc-go/1.0"), ("content-type", "application/json"), ("x-trace", "t-1"));
        Assert.Equal(6, req.DynamicHits);

        h.Conn.Write(new FrameBuilder().Preface().Settings((1, 4096), (4, 65535)).ToArray());
        h.Conn.Read(new FrameBuilder().Settings((3, 100)).SettingsAck().ToArray());
        h.Conn.Write(new FrameBuilder().SettingsAck().Headers(1, b1, endStream: true).ToArray());
        h.Conn.Read(new FrameBuilder()
            .Headers(1, resp.Encode((":status", "200"), ("content-type", "application/json"), ("x-served-by", "node-a")), endStream: false)
            .Data(1, "[1,2]", endStream: true).ToArray());
        h.Conn.Write(new FrameBuilder().Headers(3, b3, endStream: true).ToArray());
        h.Conn.Read(new FrameBuilder()
            .Headers(3, resp.Encode((":status", "404"), ("x-served-by", "node-a")), endStream: true).ToArray());
        h.Conn.Write(new FrameBuilder().Headers(5, b5, endStream: false).Data(5, "{\"n\":3}", endStream: true).ToArray());
        h.Conn.Read(new FrameBuilder()
            .Headers(5, resp.Encode((":status", "201"), ("x-served-by", "node-a"), ("location", "/v1/items/3")), endStream: false)
            .Data(5, "", endStream: true).ToArray());
        Assert.Equal(2, resp.DynamicHits);

        Assert.Equal("request#1 response#1 exchange#1 request#2 response#2 exchange#2 request#3 response#3 exchange#3", h.Http.Trace);
        Assert.Empty(h.Raw.Events);
        var flow = h.Http.Exchanges[0].Flow;
        Assert.Equal("HTTP/2", h.Http.Exchanges[0].Version);
        Assert.Equal(FlowSide.Client, flow.Side);

        var (e1, e3, e5) = (h.Http.Exchanges[0], h.Http.Exchanges[1], h.Http.Exchanges[2]);
        Assert.Equal([1, 3, 5], h.Http.Exchanges.Select(e => e.Stream!.Value));
        Assert.Equal("HTTP/2", e1.Version);
        Assert.Equal("HTTP/2", e1.Request!.Version);
        Assert.Equal(1, e1.Request.Stream);
        Assert.Equal("https://api.example/v1/items", e1.Request.Url);
        Assert.Equal("GET", e1.Request.Method);
        Assert.Equal(
            [(":method", "GET"), (":scheme", "https"), (":authority", "api.example"), (":path", "/v1/items"),
             ("user-agent", "grpc-go/1.0"), ("x-trace", "t-1")],
            e1.Request.Headers);
        Assert.Equal(200, e1.Response!.Status);
        Assert.Null(e1.Response.Reason);
        Assert.Equal([(":status", "200"), ("content-type", "application/json"), ("x-served-by", "node-a")], e1.Response.Headers);
        Assert.Equal("[1,2]", Text(e1.Response.Body));
        Assert.True(e1.Request.Complete);
        Assert.True(e1.Response.Complete);
        Assert.Null(e1.Response.Grpc);

        Assert.Equal("https://api.example/v1/items/2", e3.Request!.Url);
        Assert.Equal(
            [(":method", "GET"), (":scheme", "https"), (":authority", "api.example"), (":path", "/v1/items/2"),
             ("user-agent", "grpc-go/1.0"), ("x-trace", "t-2")],
            e3.Request.Headers);
        Assert.Equal(404, e3.Response!.Status);
        Assert.Equal([(":status", "404"), ("x-served-by", "node-a")], e3.Response.Headers);
        Assert.Equal(0, e3.Response.Body.Length);

        Assert.Equal("POST", e5.Request!.Method);
        Assert.Equal("https://api.example/v1/items", e5.Request.Url);
        Assert.Equal(("x-trace", "t-1"), e5.Request.Headers[^1]);
        Assert.Equal("application/json", e5.Request.GetHeader("Content-Type"));
        Assert.Equal("{\"n\":3}", Text(e5.Request.Body));
        Assert.Equal(7, e5.Request.BodyWireBytes);
        Assert.Equal(9 + b5.Length + 9 + 7, e5.Request.WireBytes);
        Assert.Equal(201, e5.Response!.Status);
        Assert.Equal("/v1/items/3", e5.Response.GetHeader("location"));
    }

    [Fact]
    public void Http2InterleavedStreamsPairByStreamAndNumberInRequestOrder()
    {
        var h = new Harness();
        var req = new HpackWriter();
        var resp = new HpackWriter();
        h.Conn.Write(new FrameBuilder().Preface().Settings()
            .Headers(1, req.Encode((":method", "POST"), (":scheme", "https"), (":authority", "h"), (":path", "/upload")), endStream: false)
            .Data(1, "part1-", endStream: false)
            .Headers(3, req.Encode((":method", "GET"), (":scheme", "https"), (":authority", "h"), (":path", "/poll")), endStream: true)
            .ToArray());
        h.Conn.Read(new FrameBuilder().Settings()
            .Headers(3, resp.Encode((":status", "200")), endStream: false)
            .Data(3, "poll-a ", endStream: false).ToArray());
        h.Conn.Write(new FrameBuilder().Data(1, "part2", endStream: true)
            .Headers(5, req.Encode((":method", "GET"), (":scheme", "https"), (":authority", "h"), (":path", "/x")), endStream: true).ToArray());
        h.Conn.Read(new FrameBuilder()
            .Headers(5, resp.Encode((":status", "204")), endStream: true)
            .Headers(1, resp.Encode((":status", "201")), endStream: false)
            .Data(3, "poll-b", endStream: true)
            .Data(1, "stored", endStream: true).ToArray());

        // Numbers follow the order the requests started (stream 1 first), whichever completed first.
        Assert.Equal("request#2 request#1 request#3 response#3 exchange#3 response#2 exchange#2 response#1 exchange#1", h.Http.Trace);
        var byStream = h.Http.Exchanges.ToDictionary(e => e.Stream!.Value);
        Assert.Equal(1, byStream[1].Sequence);
        Assert.Equal(2, byStream[3].Sequence);
        Assert.Equal(3, byStream[5].Sequence);
        Assert.Equal("part1-part2", Text(byStream[1].Request!.Body));
        Assert.Equal("stored", Text(byStream[1].Response!.Body));
        Assert.Equal(201, byStream[1].Response!.Status);
        Assert.Equal("https://h/poll", byStream[3].Request!.Url);
        Assert.Equal("poll-a poll-b", Text(byStream[3].Response!.Body));
        Assert.Equal(204, byStream[5].Response!.Status);
    }

    [Fact]
    public void Http2GrpcBodiesListTheirMessages()
    {
        var h = new Harness();
        var req = new HpackWriter();
        var resp = new HpackWriter();
        byte[] reqBody = [0, 0, 0, 0, 3, (byte)'a', (byte)'b', (byte)'c', 1, 0, 0, 0, 0];
        byte[] respBody = [0, 0, 0, 0, 5, 1, 2, 3, 4, 5];
        h.Conn.Write(new FrameBuilder().Preface().Settings()
            .Headers(1, req.Encode((":method", "POST"), (":scheme", "https"), (":authority", "grpc.example:443"),
                (":path", "/pkg.Svc/Get"), ("content-type", "application/grpc"), ("te", "trailers")), endStream: false)
            .Data(1, reqBody[..6], endStream: false)
            .Data(1, reqBody[6..], endStream: true).ToArray());
        h.Conn.Read(new FrameBuilder()
            .Headers(1, resp.Encode((":status", "200"), ("content-type", "application/grpc+proto")), endStream: false)
            .Data(1, respBody, endStream: false)
            .Headers(1, resp.Encode(("grpc-status", "0"), ("grpc-message", "")), endStream: true).ToArray());

        var e = Assert.Single(h.Http.Exchanges);
        Assert.Equal("https://grpc.example:443/pkg.Svc/Get", e.Request!.Url);
        Assert.Equal([(false, 3), (true, 0)], e.Request.Grpc!);
        Assert.Equal(reqBody, e.Request.Body.ToArray());
        Assert.Equal([(false, 5)], e.Response!.Grpc!);
        Assert.Equal([("grpc-status", "0"), ("grpc-message", "")], e.Response.Trailers);
        Assert.Equal(respBody, e.Response.Body.ToArray());
    }

    [Fact]
    public void Http2TimingsComeFromTheChunkClocks()
    {
        var h = new Harness();
        var req = new HpackWriter();
        var w1 = h.Conn.Write(new FrameBuilder().Preface().Settings()
            .Headers(1, req.Encode((":method", "POST"), (":scheme", "https"), (":authority", "h"), (":path", "/t")), endStream: false).ToArray());
        h.Conn.Clock += 2_000_000;
        var w2 = h.Conn.Write(new FrameBuilder().Data(1, "body", endStream: true).ToArray());
        h.Conn.Clock += 40_000_000;
        var r1 = h.Conn.Read(new FrameBuilder().Headers(1, new HpackWriter().Encode((":status", "200")), endStream: false).ToArray());
        var r2 = h.Conn.Read(new FrameBuilder().Data(1, "ok", endStream: true).ToArray());

        var e = Assert.Single(h.Http.Exchanges);
        Assert.Equal(w1.StartUnixNs, e.Request!.FirstByteNs);
        Assert.Equal(w2.StartUnixNs, e.Request.LastByteNs);
        Assert.Equal(r1.TimeUnixNs, e.Response!.FirstByteNs);
        Assert.Equal(r2.TimeUnixNs, e.Response.LastByteNs);
        Assert.Equal(r1.TimeUnixNs - w2.StartUnixNs, e.TimeToFirstByteNs);
        Assert.Equal(r2.TimeUnixNs - w1.StartUnixNs, e.TotalNs);
        Assert.Equal(41_000_000, e.TimeToFirstByteNs);
        Assert.Equal(45_000_000, e.TotalNs);
    }

    [Fact]
    public void Http2ServerSideAndRedaction()
    {
        var h = new Harness(new FlowOptions { Redactor = new HeaderRedactor(["x-secret"]) });
        var req = new HpackWriter();
        h.Conn.Read(new FrameBuilder().Preface().Settings()
            .Headers(1, req.Encode((":method", "GET"), (":scheme", "https"), (":authority", "srv"), (":path", "/"),
                ("authorization", "Bearer t"), ("cookie", "c=1"), ("x-secret", "s"), ("accept", "*/*")), endStream: true).ToArray());
        h.Conn.Write(new FrameBuilder().Settings()
            .Headers(1, new HpackWriter().Encode((":status", "200"), ("set-cookie", "c=2")), endStream: true).ToArray());

        var e = Assert.Single(h.Http.Exchanges);
        Assert.Equal(FlowSide.Server, e.Flow.Side);
        Assert.Equal("https://srv/", e.Request!.Url);
        Assert.Equal(
            [(":method", "GET"), (":scheme", "https"), (":authority", "srv"), (":path", "/"),
             ("authorization", "[REDACTED]"), ("cookie", "[REDACTED]"), ("x-secret", "[REDACTED]"), ("accept", "*/*")],
            e.Request.Headers);
        Assert.Equal([(":status", "200"), ("set-cookie", "[REDACTED]")], e.Response!.Headers);
    }

    [Fact]
    public void Http2ServerThatSendsSettingsFirst()
    {
        var h = new Harness();
        var settings = h.Conn.Write(new FrameBuilder().Settings((3, 100), (4, 65535)).ToArray()); // before reading the preface
        h.Conn.Read(new FrameBuilder().Preface().Settings().SettingsAck()
            .Headers(1, new HpackWriter().Encode((":method", "GET"), (":scheme", "https"), (":authority", "srv"), (":path", "/first")), endStream: true)
            .ToArray());
        h.Conn.Write(new FrameBuilder().SettingsAck()
            .Headers(1, new HpackWriter().Encode((":status", "200")), endStream: false).Data(1, "ok", endStream: true).ToArray());

        var e = Assert.Single(h.Http.Exchanges);
        Assert.Equal("HTTP/2", e.Version);
        Assert.Equal(FlowSide.Server, e.Flow.Side);
        Assert.Equal("https://srv/first", e.Request!.Url);
        Assert.Equal("ok", Text(e.Response!.Body));
        Assert.Empty(h.Raw.Events);
        Assert.Equal(settings.StartUnixNs + h.Conn.Step, e.Request.FirstByteNs); // the request's read returned one step later
    }

    [Fact]
    public void Http2ClientThatReadsTheServerSettingsFirst()
    {
        var h = new Harness();
        h.Conn.Read(new FrameBuilder().Settings().ToArray());
        h.Conn.Write(new FrameBuilder().Preface().Settings()
            .Headers(1, new HpackWriter().Encode((":method", "GET"), (":scheme", "https"), (":authority", "c"), (":path", "/")), endStream: true)
            .ToArray());
        h.Conn.Read(new FrameBuilder().Headers(1, new HpackWriter().Encode((":status", "204")), endStream: true).ToArray());

        var e = Assert.Single(h.Http.Exchanges);
        Assert.Equal(FlowSide.Client, e.Flow.Side);
        Assert.Equal(204, e.Response!.Status);
    }

    [Fact]
    public void Http2ResetStreamIsReportedWithANote()
    {
        var h = new Harness();
        var req = new HpackWriter();
        h.Conn.Write(new FrameBuilder().Preface().Settings()
            .Headers(1, req.Encode((":method", "GET"), (":scheme", "https"), (":authority", "h"), (":path", "/r")), endStream: false).ToArray());
        h.Conn.Read(new FrameBuilder().Headers(1, new HpackWriter().Encode((":status", "200")), endStream: false).ToArray());
        h.Conn.Write(new FrameBuilder().RstStream(1, 8).ToArray());

        var e = Assert.Single(h.Http.Exchanges);
        Assert.False(e.Request!.Complete);
        Assert.Equal("stream reset (error 8)", e.Request.Note);
        Assert.False(e.Response!.Complete);
        Assert.Equal("stream reset (error 8)", e.Response.Note);
    }

    [Fact]
    public void Http2StreamResetBeforeItsResponseIsReportedAtOnce()
    {
        var h = new Harness();
        var req = new HpackWriter();
        h.Conn.Write(new FrameBuilder().Preface().Settings()
            .Headers(1, req.Encode((":method", "POST"), (":scheme", "https"), (":authority", "h"), (":path", "/cancelled")), endStream: false)
            .Data(1, "abc", endStream: false).RstStream(1, 8).ToArray());

        // No response will come on a reset stream: the exchange does not wait for the connection's end.
        Assert.Equal("request#1 exchange#1", h.Http.Trace);
        var e = h.Http.Exchanges[0];
        Assert.Null(e.Response);
        Assert.Equal("abc", Text(e.Request!.Body));
        Assert.Equal("stream reset (error 8)", e.Request.Note);

        h.Conn.Write(new FrameBuilder()
            .Headers(3, req.Encode((":method", "GET"), (":scheme", "https"), (":authority", "h"), (":path", "/next")), endStream: true).ToArray());
        h.Conn.Read(new FrameBuilder().RstStream(1, 8) // the server's late reset of the same stream changes nothing
            .Headers(3, new HpackWriter().Encode((":status", "200")), endStream: true).ToArray());
        h.Conn.Close();
        Assert.Equal("request#1 exchange#1 request#2 response#2 exchange#2", h.Http.Trace);
    }

    [Fact]
    public void Http2ServerResetOfARequestInProgress()
    {
        var h = new Harness();
        h.Conn.Write(new FrameBuilder().Preface().Settings()
            .Headers(1, new HpackWriter().Encode((":method", "PUT"), (":scheme", "https"), (":authority", "h"), (":path", "/big")), endStream: false)
            .ToArray());
        h.Conn.Read(new FrameBuilder().Headers(1, new HpackWriter().Encode((":status", "413")), endStream: true).RstStream(1, 0).ToArray());

        Assert.Equal("response#1 request#1 exchange#1", h.Http.Trace);
        var e = h.Http.Exchanges[0];
        Assert.Equal(413, e.Response!.Status);
        Assert.True(e.Response.Complete);
        Assert.False(e.Request!.Complete);
        Assert.Equal("stream reset (error 0)", e.Request.Note);
    }

    [Fact]
    public void Http2GapMakesLaterHeadersUndecodableButKeepsTheConnectionHttp()
    {
        var h = new Harness();
        var req = new HpackWriter();
        h.Conn.Write(new FrameBuilder().Preface().Settings()
            .Headers(1, req.Encode((":method", "GET"), (":scheme", "https"), (":authority", "h"), (":path", "/1")), endStream: true).ToArray());
        var gap = h.Conn.Gap(Direction.Write, 20);
        h.Conn.Write(new FrameBuilder()
            .Headers(5, req.Encode((":method", "GET"), (":scheme", "https"), (":authority", "h"), (":path", "/5")), endStream: true).ToArray());
        h.Conn.Close();

        Assert.Equal(gap, h.Raw.Events[0]);
        Assert.IsType<ConnectionClosed>(h.Raw.Events[1]);
        Assert.Equal(2, h.Raw.Events.Count);
        Assert.Equal(2, h.Http.Exchanges.Count);
        Assert.Equal("https://h/1", h.Http.Exchanges[0].Request!.Url);
        var lost = h.Http.Exchanges[1].Request!;
        Assert.Equal(5, lost.Stream);
        Assert.False(lost.Complete);
        Assert.Equal("headers not decodable: HPACK state lost to a capture gap", lost.Note);
    }

    [Fact]
    public void Http2OpenStreamsAreDeliveredAtClose()
    {
        var h = new Harness();
        var req = new HpackWriter();
        h.Conn.Write(new FrameBuilder().Preface().Settings()
            .Headers(1, req.Encode((":method", "GET"), (":scheme", "https"), (":authority", "h"), (":path", "/done")), endStream: true)
            .Headers(3, req.Encode((":method", "POST"), (":scheme", "https"), (":authority", "h"), (":path", "/half")), endStream: false)
            .Data(3, "par", endStream: false).ToArray());
        h.Conn.Read(new FrameBuilder().Headers(1, new HpackWriter().Encode((":status", "200")), endStream: false).Data(1, "partial", false).ToArray());
        h.Conn.Close();

        Assert.Equal("request#1 response#1 exchange#1 request#2 exchange#2", h.Http.Trace);
        var e1 = h.Http.Exchanges[0];
        Assert.Equal("partial", Text(e1.Response!.Body));
        Assert.False(e1.Response.Complete);
        Assert.Equal("incomplete: the connection ended first", e1.Response.Note);
        var e2 = h.Http.Exchanges[1];
        Assert.Equal("par", Text(e2.Request!.Body));
        Assert.False(e2.Request.Complete);
        Assert.Null(e2.Response);
    }

    // ---------------------------------------------------------------- helpers

    internal static void AssertSameEvents(IEnumerable<object> expected, IEnumerable<object> actual)
    {
        var e = expected.ToList();
        var a = actual.ToList();
        Assert.Equal(e.Count, a.Count);
        for (int i = 0; i < e.Count; i++)
        {
            if (e[i] is DataChunk ec)
            {
                var ac = Assert.IsType<DataChunk>(a[i]);
                Assert.Equal(ec with { Data = default }, ac with { Data = default });
                Assert.Equal(ec.Data.ToArray(), ac.Data.ToArray());
            }
            else
            {
                Assert.Equal(e[i], a[i]);
            }
        }
    }

    private static string Summary(HttpExchange e) => $"{e.Request!.Method} {e.Request.Url} -> {e.Response!.Status}";

    private static string Text(ReadOnlyMemory<byte> bytes) => Encoding.UTF8.GetString(bytes.Span);

    private static byte[] Gzip(byte[] data)
    {
        var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            gz.Write(data);
        }

        return output.ToArray();
    }

    private static byte[] ZLib(byte[] data)
    {
        var output = new MemoryStream();
        using (var z = new ZLibStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            z.Write(data);
        }

        return output.ToArray();
    }

    private static byte[] Brotli(byte[] data)
    {
        var output = new MemoryStream();
        using (var br = new BrotliStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            br.Write(data);
        }

        return output.ToArray();
    }

    private sealed class Harness
    {
        public Harness(FlowOptions? options = null)
        {
            Tracker = new HttpFlowTracker(Raw, Http, options ?? new FlowOptions());
            Conn = new ConnectionFeeder(Tracker);
        }

        public RecordingCaptureSink Raw { get; } = new();

        public RecordingHttpSink Http { get; } = new();

        public HttpFlowTracker Tracker { get; }

        public ConnectionFeeder Conn { get; }
    }

    /// <summary>Both sinks in one log, to check the order of HTTP events against pass-through events.</summary>
    private sealed class OrderLog : IHttpSink, ICaptureSink
    {
        public List<string> Lines { get; } = new();

        public List<HttpExchange> Exchanges { get; } = new();

        public List<ConnectionClosed> Closed { get; } = new();

        public void OnRequest(HttpFlow flow, long sequence, HttpMessage request) => Lines.Add($"request#{sequence}");

        public void OnResponse(HttpFlow flow, long sequence, HttpMessage response) => Lines.Add($"response#{sequence}");

        public void OnExchange(HttpExchange exchange)
        {
            Exchanges.Add(exchange);
            Lines.Add($"exchange#{exchange.Sequence} {exchange.Request?.Method ?? "none"} -> {exchange.Response?.Status.ToString() ?? "none"}");
        }

        public void OnWebSocket(WebSocketEvent frame) => Lines.Add($"websocket#{frame.Sequence}");

        public void OnData(DataChunk chunk) => Lines.Add($"data {chunk.Connection} {chunk.Length}");

        public void OnGap(StreamGap gap) => Lines.Add($"gap {gap.Connection} {gap.Length}");

        public void OnClose(ConnectionClosed closed)
        {
            Closed.Add(closed);
            Lines.Add($"close {closed.Connection}");
        }

        public void Flush()
        {
        }

        public void Dispose()
        {
        }
    }
}
