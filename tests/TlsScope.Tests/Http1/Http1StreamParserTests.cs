using System.IO.Compression;
using TlsScope.Protocols.Http1;
using static TlsScope.Tests.Http1.Http1Run;

namespace TlsScope.Tests.Http1;

public class Http1StreamParserTests
{
    private const string GetRequest =
        "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: tlsscope-test/1.0\r\nAccept: */*\r\n\r\n";

    [Fact]
    public void Get_WithHeaders_ParsesStartLineAndHeadersInOrder()
    {
        var run = new Http1Run(Http1Role.Request).Feed(GetRequest);

        var m = Assert.Single(run.Messages);
        Assert.Equal("GET", m.Method);
        Assert.Equal("/index.html?q=1", m.Target);
        Assert.Equal("HTTP/1.1", m.Version);
        Assert.Equal(
            new List<(string, string)> { ("Host", "example.com"), ("User-Agent", "tlsscope-test/1.0"), ("Accept", "*/*") },
            m.Headers);
        Assert.True(m.Body.IsEmpty);
        Assert.True(m.Complete);
        Assert.False(m.Chunked);
        Assert.Equal(GetRequest.Length, m.WireBytes);
        Assert.Empty(run.Errors);
    }

    [Fact]
    public void KeepAlive_TwoRequestsOnOneStream()
    {
        const string post = "POST /api HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
        const string get = "GET /two HTTP/1.1\r\nHost: a\r\n\r\n";
        var run = new Http1Run(Http1Role.Request).Feed(post + get);

        Assert.Equal(2, run.Messages.Count);
        Assert.Equal("POST", run.Messages[0].Method);
        Assert.Equal("hello", Text(run.Messages[0].Body));
        Assert.Equal(post.Length, run.Messages[0].WireBytes);
        Assert.Equal("/two", run.Messages[1].Target);
        Assert.Equal(get.Length, run.Messages[1].WireBytes);
        Assert.All(run.Messages, m => Assert.True(m.Complete));
    }

    [Fact]
    public void Pipelined_HeadThenGet_HeadResponseBodyLengthNotConsumed()
    {
        var requests = new Http1Run(Http1Role.Request)
            .Feed("HEAD /file HTTP/1.1\r\nHost: a\r\n\r\nGET /file HTTP/1.1\r\nHost: a\r\n\r\n");
        Assert.Equal(new[] { "HEAD", "GET" }, requests.Messages.Select(m => m.Method));

        var responses = new Http1Run(Http1Role.Response);
        foreach (var r in requests.Messages)
        {
            responses.Parser.ExpectResponseTo(r.Method!);
        }

        responses.Feed(
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n" +
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789");

        Assert.Equal(2, responses.Messages.Count);
        Assert.Equal("HEAD", responses.Messages[0].RequestMethod);
        Assert.True(responses.Messages[0].Body.IsEmpty);
        Assert.True(responses.Messages[0].Complete);
        Assert.Equal("GET", responses.Messages[1].RequestMethod);
        Assert.Equal("0123456789", Text(responses.Messages[1].Body));
        Assert.True(responses.Messages[1].Complete);
        Assert.Empty(responses.Errors);
    }

    [Fact]
    public void Chunked_WithExtensionsAndTrailers_DecodesExactBytes()
    {
        const string wire =
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n" +
            "5;name=value\r\nHello\r\n" +
            "7 ; quoted=\"a;b\"\r\n, world\r\n" +
            "0\r\nX-Checksum: abc123\r\nX-Other: 2\r\n\r\n";
        var run = new Http1Run(Http1Role.Response, "GET").Feed(wire);

        var m = Assert.Single(run.Messages);
        Assert.True(m.Chunked);
        Assert.True(m.Complete);
        Assert.Equal("Hello, world", Text(m.Body));
        Assert.Equal(new List<(string, string)> { ("X-Checksum", "abc123"), ("X-Other", "2") }, m.Trailers);
        Assert.Equal(wire.Length, m.WireBytes);
        Assert.Empty(run.Errors);
    }

    [Fact]
    public void ChunkedGzip_DecodesToOriginal()
    {
        var original = Bytes(string.Concat(Enumerable.Range(0, 500).Select(i => $"line {i} of the payload\n")));
        byte[] gz;
        using (var ms = new MemoryStream())
        {
            using (var z = new GZipStream(ms, CompressionLevel.Optimal))
            {
                z.Write(original);
            }

            gz = ms.ToArray();
        }

        var wire = new List<byte>();
        wire.AddRange(Bytes("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"));
        for (int pos = 0; pos < gz.Length; pos += 100)
        {
            int n = Math.Min(100, gz.Length - pos);
            wire.AddRange(Bytes($"{n:x}\r\n"));
            wire.AddRange(gz.AsSpan(pos, n).ToArray());
            wire.AddRange(Bytes("\r\n"));
        }

        wire.AddRange(Bytes("0\r\n\r\n"));
        var run = new Http1Run(Http1Role.Response, "GET").Feed(wire.ToArray());

        var m = Assert.Single(run.Messages);
        Assert.True(m.Complete);
        Assert.Equal(gz, m.Body.ToArray());
        Assert.True(ContentDecoding.TryDecode(m.Body, m.GetHeader("Content-Encoding"), out var decoded));
        Assert.Equal(original, decoded);
    }

    [Fact]
    public void Post_OneMiBBody_InRandomPieces()
    {
        var body = new byte[1024 * 1024];
        new Random(42).NextBytes(body);
        var head = Bytes($"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: {body.Length}\r\n\r\n");
        var wire = head.Concat(body).Concat(Bytes("GET /after HTTP/1.1\r\n\r\n")).ToArray();

        var run = new Http1Run(Http1Role.Request).FeedRandomPieces(wire, new Random(7), 5000);

        Assert.Equal(2, run.Messages.Count);
        Assert.True(run.Messages[0].Complete);
        Assert.Equal(body, run.Messages[0].Body.ToArray());
        Assert.Equal(head.Length + body.Length, run.Messages[0].WireBytes);
        Assert.Equal("/after", run.Messages[1].Target);
    }

    [Fact]
    public void Continue100_ThenFinal200()
    {
        var run = new Http1Run(Http1Role.Response, "POST").Feed(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");

        Assert.Equal(2, run.Messages.Count);
        Assert.Equal(100, run.Messages[0].StatusCode);
        Assert.Equal("Continue", run.Messages[0].Reason);
        Assert.True(run.Messages[0].Body.IsEmpty);
        Assert.Equal(200, run.Messages[1].StatusCode);
        Assert.Equal("POST", run.Messages[1].RequestMethod);
        Assert.Equal("ok", Text(run.Messages[1].Body));
        Assert.All(run.Messages, m => Assert.True(m.Complete));
    }

    [Fact]
    public void Status204And304_HaveNoBody()
    {
        var run = new Http1Run(Http1Role.Response, "DELETE", "GET", "GET").Feed(
            "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n" +
            "HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n" +
            "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\npayload");

        Assert.Equal(new[] { 204, 304, 200 }, run.Messages.Select(m => m.StatusCode));
        Assert.True(run.Messages[0].Body.IsEmpty);
        Assert.True(run.Messages[1].Body.IsEmpty);
        Assert.Equal("payload", Text(run.Messages[2].Body));
        Assert.All(run.Messages, m => Assert.True(m.Complete));
    }

    [Fact]
    public void CloseDelimitedResponse_CompletedByEnd()
    {
        var run = new Http1Run(Http1Role.Response, "GET").Feed("HTTP/1.0 200 OK\r\nServer: old\r\n\r\nfirst part, ");
        run.Feed("second part");
        Assert.Empty(run.Messages);

        run.Parser.End();

        var m = Assert.Single(run.Messages);
        Assert.True(m.Complete);
        Assert.Equal("HTTP/1.0", m.Version);
        Assert.Equal("first part, second part", Text(m.Body));
    }

    [Fact]
    public void EndDuringContentLengthBody_ReportsIncomplete()
    {
        var run = new Http1Run(Http1Role.Response, "GET").Feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
        run.Parser.End();

        var m = Assert.Single(run.Messages);
        Assert.False(m.Complete);
        Assert.Equal("abc", Text(m.Body));
    }

    [Fact]
    public void SwitchingProtocols_ToWebsocket_StopsParsing()
    {
        const string head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
        var frames = new byte[] { 0x81, 0x05, (byte)'H', (byte)'T', (byte)'T', (byte)'P', (byte)'/' };
        var run = new Http1Run(Http1Role.Response, "GET").Feed(head);
        run.Feed(frames).Feed("HTTP/1.1 200 OK\r\n\r\n");

        var m = Assert.Single(run.Messages);
        Assert.Equal(101, m.StatusCode);
        Assert.Equal("websocket", m.UpgradedTo);
        Assert.True(run.Parser.IsOpaque);
        Assert.Equal("websocket", run.Parser.UpgradedTo);
        Assert.Equal(frames.Length + 19, run.Parser.OpaqueBytes);
        Assert.Equal(frames.Concat(Bytes("HTTP/1.1 200 OK\r\n\r\n")), run.Opaque);
        Assert.Empty(run.Errors);
    }

    [Fact]
    public void GapInChunkedBody_MessageIncomplete_NextRequestParsed()
    {
        var run = new Http1Run(Http1Role.Request);
        run.Feed("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123");
        run.Parser.Gap(40);
        run.Feed("garbage tail\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: b\r\n\r\n");

        Assert.Equal(2, run.Messages.Count);
        Assert.False(run.Messages[0].Complete);
        Assert.Equal("/a", run.Messages[0].Target);
        Assert.True(run.Messages[1].Complete);
        Assert.Equal("GET", run.Messages[1].Method);
        Assert.Equal("/next", run.Messages[1].Target);
        Assert.Equal(new List<(string, string)> { ("Host", "b") }, run.Messages[1].Headers);
    }

    [Fact]
    public void GapInContentLengthBody_FramingKept_NextRequestParsed()
    {
        var run = new Http1Run(Http1Role.Request);
        run.Feed("POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123");
        run.Parser.Gap(3);
        run.Feed("789GET /next HTTP/1.1\r\n\r\n");

        Assert.Equal(2, run.Messages.Count);
        Assert.False(run.Messages[0].Complete);
        Assert.Equal("0123789", Text(run.Messages[0].Body));
        Assert.Equal("/next", run.Messages[1].Target);
        Assert.True(run.Messages[1].Complete);
    }

    [Fact]
    public void GapAcrossMessageBoundary_ResyncsInsideLine()
    {
        var run = new Http1Run(Http1Role.Request);
        run.Feed("POST /a HTTP/1.1\r\nContent-Length: 4\r\n\r\n01");
        run.Parser.Gap(100);
        run.Feed("er: x\r\n\r\nxyzGET /next HTTP/1.1\r\n\r\n");

        Assert.Equal(2, run.Messages.Count);
        Assert.False(run.Messages[0].Complete);
        Assert.Equal("/next", run.Messages[1].Target);
        Assert.Equal("GET /next HTTP/1.1\r\n\r\n".Length, run.Messages[1].WireBytes);
        Assert.Equal("GET", run.Messages[1].Method);
        Assert.True(run.Messages[1].Complete);
        Assert.Empty(run.Errors);
    }

    [Fact]
    public void ConnectTunnel_ResponseSideOpaque_RequestSideSwitchedByCaller()
    {
        var requests = new Http1Run(Http1Role.Request).Feed("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
        var connect = Assert.Single(requests.Messages);
        Assert.Equal("CONNECT", connect.Method);
        Assert.Equal("example.com:443", connect.Target);

        var responses = new Http1Run(Http1Role.Response, connect.Method!).Feed("HTTP/1.1 200 Connection Established\r\n\r\n\x16\x03\x01");
        var established = Assert.Single(responses.Messages);
        Assert.Equal("tunnel", established.UpgradedTo);
        Assert.Equal(3, responses.Parser.OpaqueBytes);

        requests.Parser.SwitchToOpaque("tunnel");
        requests.Feed("\x16\x03\x01\x02\x00");
        requests.Parser.Gap(10);
        Assert.Single(requests.Messages);
        Assert.Equal(15, requests.Parser.OpaqueBytes);
        Assert.Equal("tunnel", requests.Parser.UpgradedTo);
    }

    [Fact]
    public void BodyOverCap_CountedButNotStored()
    {
        var messages = new List<Http1Message>();
        var parser = new Http1StreamParser(Http1Role.Request, messages.Add, maxBodyBytes: 4);
        parser.Feed(Bytes("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789"));

        var m = Assert.Single(messages);
        Assert.True(m.Complete);
        Assert.True(m.BodyTruncated);
        Assert.Equal("0123", Text(m.Body));
        Assert.Equal(10, m.BodyLength);
    }

    [Fact]
    public void RequestWithoutLength_HasNoBody_AndContentLengthConflictIsAnError()
    {
        var run = new Http1Run(Http1Role.Request).Feed(
            "DELETE /x HTTP/1.1\r\n\r\n" +
            "POST /bad HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd" +
            "GET /y HTTP/1.1\r\n\r\n");

        Assert.Equal(new[] { "/x", "/bad", "/y" }, run.Messages.Select(m => m.Target));
        Assert.True(run.Messages[0].Body.IsEmpty);
        Assert.True(run.Messages[0].Complete);
        Assert.False(run.Messages[1].Complete);
        Assert.True(run.Messages[2].Complete);
        Assert.Equal("invalid Content-Length", Assert.Single(run.Errors).Message);
    }

    [Fact]
    public void StartLineOver64KiBInOneFeed_ErrorThenResync()
    {
        // One feed longer than the line cap, with no newline: the resync tail must fit the line buffer.
        var bytes = Bytes(new string('x', 70_000) + "GET /after HTTP/1.1\r\nHost: c\r\n\r\n");
        var run = new Http1Run(Http1Role.Request).Feed(bytes);

        Assert.Equal("start line exceeds 64 KiB", Assert.Single(run.Errors).Message);
        Assert.Equal("/after", Assert.Single(run.Messages).Target);
    }

    [Fact]
    public void HeaderSectionOver64KiB_ErrorThenResync()
    {
        var big = new string('a', 1000);
        var sb = new System.Text.StringBuilder("GET /big HTTP/1.1\r\n");
        for (int i = 0; i < 70; i++)
        {
            sb.Append("X-Big-").Append(i).Append(": ").Append(big).Append("\r\n");
        }

        sb.Append("\r\nGET /ok HTTP/1.1\r\nHost: c\r\n\r\n");
        var run = new Http1Run(Http1Role.Request).FeedRandomPieces(Bytes(sb.ToString()), new Random(3), 3000);

        var error = Assert.Single(run.Errors);
        Assert.Equal("header section exceeds 64 KiB", error.Message);
        Assert.Equal(2, run.Messages.Count);
        Assert.Equal("/big", run.Messages[0].Target);
        Assert.False(run.Messages[0].Complete);
        Assert.Equal("/ok", run.Messages[1].Target);
        Assert.True(run.Messages[1].Complete);
    }

    [Fact]
    public void InvalidStartLine_ReportsErrorAndResyncs()
    {
        var run = new Http1Run(Http1Role.Response, "GET").Feed("NOT HTTP AT ALL\r\nmore junk\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");

        Assert.Single(run.Errors);
        var m = Assert.Single(run.Messages);
        Assert.Equal(404, m.StatusCode);
        Assert.Equal("Not Found", m.Reason);
        Assert.True(m.Complete);
    }

    [Fact]
    public void ByteAtATime_EqualsWholeFeeding()
    {
        foreach (var (role, wire) in Http1Fixtures.All())
        {
            var whole = new Http1Run(role, Http1Fixtures.Methods).Feed(wire);
            whole.Parser.End();
            var single = new Http1Run(role, Http1Fixtures.Methods).FeedByteAtATime(wire);
            single.Parser.End();

            Assert.NotEmpty(whole.Messages);
            Assert.Equal(whole.Messages.Select(Describe), single.Messages.Select(Describe));
            Assert.Equal(whole.Errors.Count, single.Errors.Count);
            Assert.Equal(whole.Opaque, single.Opaque);
        }
    }

    [Fact]
    public void GapInCloseDelimitedBody_IncompleteAtEnd()
    {
        var run = new Http1Run(Http1Role.Response, "GET").Feed("HTTP/1.1 200 OK\r\n\r\nabc");
        run.Parser.Gap(5);
        run.Feed("xyz");
        run.Parser.End();

        var m = Assert.Single(run.Messages);
        Assert.False(m.Complete);
        Assert.Equal("abcxyz", Text(m.Body));
        Assert.Equal("HTTP/1.1 200 OK\r\n\r\n".Length + 11, m.WireBytes);
    }

    [Fact]
    public void SplitsDoNotMatter_EvenWithGaps()
    {
        var rng = new Random(99);
        var fixtures = Http1Fixtures.All().ToList();
        for (int iter = 0; iter < 300; iter++)
        {
            var (role, wire) = fixtures[rng.Next(fixtures.Count)];
            var input = Mutate(wire, rng);
            var gaps = new SortedDictionary<int, int>();
            for (int g = rng.Next(0, 3); g > 0; g--)
            {
                gaps[rng.Next(0, input.Length + 1)] = rng.Next(1, 50);
            }

            var coarse = Replay(role, input, gaps, rng, 400);
            var fine = Replay(role, input, gaps, rng, 1);
            Assert.Equal(coarse.Messages.Select(Describe), fine.Messages.Select(Describe));
            Assert.Equal(coarse.Errors.Select(e => e.Message), fine.Errors.Select(e => e.Message));
            Assert.Equal(coarse.Opaque, fine.Opaque);
        }
    }

    private static Http1Run Replay(Http1Role role, byte[] input, SortedDictionary<int, int> gaps, Random rng, int maxPiece)
    {
        var run = new Http1Run(role, Http1Fixtures.Methods);
        int pos = 0;
        foreach (var (at, length) in gaps.Append(new KeyValuePair<int, int>(input.Length, 0)))
        {
            while (pos < at)
            {
                int n = Math.Min(at - pos, rng.Next(1, maxPiece + 1));
                run.Parser.Feed(input.AsSpan(pos, n));
                pos += n;
            }

            run.Parser.Gap(length);
        }

        run.Parser.End();
        return run;
    }

    [Fact]
    public void Fuzz_RandomAndMutatedInputs_NeverThrow()
    {
        var rng = new Random(12345);
        var fixtures = Http1Fixtures.All().ToList();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        long messages = 0;
        for (int iter = 0; iter < 5000; iter++)
        {
            byte[] input;
            Http1Role role = rng.Next(2) == 0 ? Http1Role.Request : Http1Role.Response;
            if (iter % 10 == 0)
            {
                input = new byte[rng.Next(0, 2000)];
                rng.NextBytes(input);
            }
            else
            {
                var (fixtureRole, wire) = fixtures[rng.Next(fixtures.Count)];
                role = fixtureRole;
                input = Mutate(wire, rng);
            }

            var parser = new Http1StreamParser(role, _ => messages++, maxBodyBytes: 1 << 20);
            parser.ExpectResponseTo(Http1Fixtures.Methods[rng.Next(Http1Fixtures.Methods.Length)]);
            parser.ExpectResponseTo("GET");
            int pos = 0;
            while (pos < input.Length)
            {
                int n = Math.Min(input.Length - pos, rng.Next(1, 300));
                parser.Feed(input.AsSpan(pos, n));
                pos += n;
                if (rng.Next(20) == 0)
                {
                    parser.Gap(rng.Next(0, 3) == 0 ? rng.Next(1, 5) : rng.Next(1, 5000));
                }
            }

            parser.End();
            parser.Feed(input.AsSpan(0, Math.Min(10, input.Length)));
            parser.Gap(5);
        }

        Assert.True(messages > 1000, $"only {messages} messages parsed");
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(20), $"fuzz took {sw.Elapsed}");
    }

    private static byte[] Mutate(byte[] wire, Random rng)
    {
        var data = new List<byte>(wire);
        int edits = rng.Next(0, 6);
        for (int e = 0; e < edits && data.Count > 0; e++)
        {
            int at = rng.Next(data.Count);
            switch (rng.Next(5))
            {
                case 0:
                    data[at] = (byte)rng.Next(256);
                    break;
                case 1:
                    data.RemoveRange(at, Math.Min(rng.Next(1, 20), data.Count - at));
                    break;
                case 2:
                    data.InsertRange(at, Http1Run.Bytes(rng.Next(3) switch { 0 => "\r\n", 1 => ":", _ => "ffffffffffffffffff" }));
                    break;
                case 3:
                    int len = Math.Min(rng.Next(1, 200), data.Count - at);
                    data.InsertRange(rng.Next(data.Count), data.GetRange(at, len));
                    break;
                default:
                    const string Alphabet = "0123456789abcdef\r\n ;:";
                    data[at] = (byte)Alphabet[rng.Next(Alphabet.Length)];
                    break;
            }
        }

        return data.ToArray();
    }
}
