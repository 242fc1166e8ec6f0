using System.Net;
using System.Text;
using System.Text.Json;
using TlsScope.Flows;
using TlsScope.Tests.Layout;
using TlsScope.Tests.Tools;
using TlsScope.Engine.Model;
using TlsScope.Outputs;
using TlsScope.Outputs.Har;

namespace TlsScope.Tests.Output;

/// <summary>
/// The HAR sink, checked field by field and against the npm har-validator
/// (scripts/har-validate.js; <c>scripts/setup test</c> installs it).
/// </summary>
public sealed class HarSinkTests : IDisposable
{
    private const long T0 = Chunks.KnownTimeNs; // 2026-11-22T15:04:05.123456789Z
    private const long Ms = 1_000_000;
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private static readonly IPEndPoint ClientEnd = new(IPAddress.Parse("192.168.1.10"), 43210);
    private static readonly IPEndPoint ServerEnd = new(IPAddress.Parse("93.184.216.34"), 443);

    private readonly string _directory = Directory.CreateTempSubdirectory("tlsscope-har-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Http1GetWithQueryAndCookies()
    {
        HttpExchange exchange = Exchange(
            Request(
                "GET",
                "https://example.com/search?q=tls+scope&bad=%zz%4&empty=&flag&&utf=%C3%A9#top",
                [("Host", "example.com"), ("User-Agent", "curl/8.5.0"), ("Cookie", "session=abc123; theme=dark"), ("Accept", "*/*")],
                firstNs: T0,
                lastNs: T0 + (Ms / 10),
                headerBytes: 120),
            Response(
                200,
                "OK",
                [
                    ("Content-Type", "text/html; charset=utf-8"),
                    ("Set-Cookie", "id=42; Path=/; Domain=example.com; Expires=Wed, 21 Oct 2026 07:28:00 GMT; HttpOnly; Secure"),
                    ("Set-Cookie", "lang=en"),
                    ("Content-Length", "16"),
                ],
                body: "<html>hé</html>"u8.ToArray(),
                firstNs: T0 + (21 * Ms / 10),
                lastNs: T0 + (51 * Ms / 10),
                headerBytes: 150));

        JsonElement entry = Assert.Single(WriteAndValidate(exchange));

        Assert.Equal("2026-11-22T15:04:05.123456Z", entry.GetProperty("startedDateTime").GetString());
        Assert.Equal(5.1, entry.GetProperty("time").GetDouble());
        Assert.Equal("93.184.216.34", entry.GetProperty("serverIPAddress").GetString());
        Assert.Equal("7", entry.GetProperty("connection").GetString());
        Assert.Equal(1234, entry.GetProperty("_pid").GetInt32());
        Assert.Equal(1235, entry.GetProperty("_tid").GetInt32());
        Assert.Equal("curl", entry.GetProperty("_comm").GetString());
        Assert.Equal("client", entry.GetProperty("_side").GetString());
        Assert.True(entry.GetProperty("_complete").GetBoolean());
        Assert.False(entry.TryGetProperty("_note", out _));
        Assert.False(entry.TryGetProperty("_stream", out _));
        Assert.Empty(entry.GetProperty("cache").EnumerateObject());

        JsonElement timings = entry.GetProperty("timings");
        Assert.Equal(["blocked", "dns", "connect", "ssl", "send", "wait", "receive"], timings.EnumerateObject().Select(p => p.Name));
        Assert.Equal([-1.0, -1.0, -1.0, -1.0, 0.1, 2.0, 3.0], timings.EnumerateObject().Select(p => p.Value.GetDouble()));

        JsonElement request = entry.GetProperty("request");
        Assert.Equal("GET", request.GetProperty("method").GetString());
        Assert.Equal("https://example.com/search?q=tls+scope&bad=%zz%4&empty=&flag&&utf=%C3%A9#top", request.GetProperty("url").GetString());
        Assert.Equal("HTTP/1.1", request.GetProperty("httpVersion").GetString());
        Assert.Equal(
            [("Host", "example.com"), ("User-Agent", "curl/8.5.0"), ("Cookie", "session=abc123; theme=dark"), ("Accept", "*/*")],
            Pairs(request.GetProperty("headers")));
        Assert.Equal([("session", "abc123"), ("theme", "dark")], Pairs(request.GetProperty("cookies")));
        Assert.Equal(
            [("q", "tls scope"), ("bad", "%zz%4"), ("empty", ""), ("flag", ""), ("utf", "é")],
            Pairs(request.GetProperty("queryString")));
        Assert.False(request.TryGetProperty("postData", out _));
        Assert.Equal(120, request.GetProperty("headersSize").GetInt64());
        Assert.Equal(0, request.GetProperty("bodySize").GetInt64());

        JsonElement response = entry.GetProperty("response");
        Assert.Equal(200, response.GetProperty("status").GetInt32());
        Assert.Equal("OK", response.GetProperty("statusText").GetString());
        Assert.Equal("HTTP/1.1", response.GetProperty("httpVersion").GetString());
        Assert.Equal(["Content-Type", "Set-Cookie", "Set-Cookie", "Content-Length"], Pairs(response.GetProperty("headers")).Select(p => p.Name));
        Assert.Equal("", response.GetProperty("redirectURL").GetString());
        Assert.Equal(150, response.GetProperty("headersSize").GetInt64());
        Assert.Equal(16, response.GetProperty("bodySize").GetInt64());

        JsonElement[] cookies = [.. response.GetProperty("cookies").EnumerateArray()];
        Assert.Equal(2, cookies.Length);
        Assert.Equal(
            """{"name":"id","value":"42","path":"/","domain":"example.com","expires":"2026-10-21T07:28:00.000Z","httpOnly":true,"secure":true}""",
            cookies[0].GetRawText());
        Assert.Equal("""{"name":"lang","value":"en"}""", cookies[1].GetRawText());

        JsonElement content = response.GetProperty("content");
        Assert.Equal(16, content.GetProperty("size").GetInt64());
        Assert.False(content.TryGetProperty("compression", out _));
        Assert.Equal("text/html; charset=utf-8", content.GetProperty("mimeType").GetString());
        Assert.Equal("<html>hé</html>", content.GetProperty("text").GetString());
        Assert.False(content.TryGetProperty("encoding", out _));
    }

    [Fact]
    public void PostWithBinaryBodyIsBase64()
    {
        byte[] body = [0x00, 0x01, 0x02, 0xFF, 0xFE];
        HttpExchange exchange = Exchange(
            Request(
                "POST",
                "https://api.example.com/upload",
                [("Host", "api.example.com"), ("Content-Type", "application/octet-stream"), ("Content-Length", "5")],
                body: body,
                firstNs: T0,
                lastNs: T0 + Ms),
            Response(201, "Created", [("Content-Length", "0")], firstNs: T0 + (3 * Ms), lastNs: T0 + (3 * Ms)));

        JsonElement entry = Assert.Single(WriteAndValidate(exchange));
        JsonElement request = entry.GetProperty("request");

        Assert.Equal("POST", request.GetProperty("method").GetString());
        Assert.Empty(request.GetProperty("queryString").EnumerateArray());
        Assert.Empty(request.GetProperty("cookies").EnumerateArray());
        Assert.Equal(5, request.GetProperty("bodySize").GetInt64());
        JsonElement postData = request.GetProperty("postData");
        Assert.Equal("application/octet-stream", postData.GetProperty("mimeType").GetString());
        Assert.Equal(body, Convert.FromBase64String(postData.GetProperty("text").GetString()!));
        Assert.Equal("base64", postData.GetProperty("comment").GetString());
        Assert.Equal("base64", postData.GetProperty("_encoding").GetString());

        JsonElement response = entry.GetProperty("response");
        Assert.Equal(201, response.GetProperty("status").GetInt32());
        JsonElement content = response.GetProperty("content");
        Assert.Equal(0, content.GetProperty("size").GetInt64());
        Assert.Equal("x-unknown", content.GetProperty("mimeType").GetString());
        Assert.False(content.TryGetProperty("text", out _));

        Assert.Equal([1.0, 2.0, 0.0], Timings(entry));
        Assert.Equal(3.0, entry.GetProperty("time").GetDouble());
    }

    [Fact]
    public void Http2WithPseudoHeadersStreamAndGzipDecodedBody()
    {
        byte[] decoded = Encoding.UTF8.GetBytes(new string('a', 1000));
        var flow = Flow(
            protocol: "HTTP/2",
            address: new ConnectionAddress(
                new IPEndPoint(IPAddress.Parse("::ffff:192.168.1.10"), 43210),
                new IPEndPoint(IPAddress.Parse("::ffff:93.184.216.34"), 443)));
        HttpExchange exchange = Exchange(
            Request(
                "GET",
                "https://example.com/api/items?id=1&id=2",
                [(":method", "GET"), (":scheme", "https"), (":authority", "example.com"), (":path", "/api/items?id=1&id=2"), ("cookie", "a=1"), ("cookie", "b=2"), ("accept", "application/json")],
                version: "HTTP/2",
                stream: 5,
                firstNs: T0,
                lastNs: T0),
            Response(
                200,
                null,
                [(":status", "200"), ("content-type", "application/json"), ("content-encoding", "gzip")],
                version: "HTTP/2",
                stream: 5,
                body: decoded,
                decodedFrom: "gzip",
                wireBytes: 30,
                firstNs: T0 + (10 * Ms),
                lastNs: T0 + (12 * Ms),
                trailers: [("grpc-status", "0")]),
            flow);

        JsonElement entry = Assert.Single(WriteAndValidate(exchange));

        Assert.Equal(5, entry.GetProperty("_stream").GetInt32());
        Assert.Equal("93.184.216.34", entry.GetProperty("serverIPAddress").GetString());
        Assert.Equal([0.0, 10.0, 2.0], Timings(entry));

        JsonElement request = entry.GetProperty("request");
        Assert.Equal("http/2.0", request.GetProperty("httpVersion").GetString());
        Assert.Equal(
            [":method", ":scheme", ":authority", ":path", "cookie", "cookie", "accept"],
            Pairs(request.GetProperty("headers")).Select(p => p.Name));
        Assert.Equal([("a", "1"), ("b", "2")], Pairs(request.GetProperty("cookies")));
        Assert.Equal([("id", "1"), ("id", "2")], Pairs(request.GetProperty("queryString")));
        Assert.Equal(-1, request.GetProperty("headersSize").GetInt64());

        JsonElement response = entry.GetProperty("response");
        Assert.Equal("http/2.0", response.GetProperty("httpVersion").GetString());
        Assert.Equal("", response.GetProperty("statusText").GetString());
        Assert.Equal(-1, response.GetProperty("headersSize").GetInt64());
        Assert.Equal(30, response.GetProperty("bodySize").GetInt64());
        Assert.Equal([("grpc-status", "0")], Pairs(response.GetProperty("_trailers")));
        JsonElement content = response.GetProperty("content");
        Assert.Equal(1000, content.GetProperty("size").GetInt64());
        Assert.Equal(970, content.GetProperty("compression").GetInt64());
        Assert.Equal("application/json", content.GetProperty("mimeType").GetString());
        Assert.Equal(new string('a', 1000), content.GetProperty("text").GetString());
    }

    [Fact]
    public void ExchangeWithoutResponse()
    {
        HttpExchange exchange = Exchange(
            Request(
                "POST",
                "https://example.com/submit",
                [("Content-Type", "application/json")],
                body: """{"a":1}"""u8.ToArray(),
                firstNs: T0,
                lastNs: T0 + (Ms / 2)),
            response: null);

        JsonElement entry = Assert.Single(WriteAndValidate(exchange));

        Assert.Equal("no response", entry.GetProperty("_note").GetString());
        Assert.False(entry.GetProperty("_complete").GetBoolean());
        Assert.Equal([0.5, 0.0, 0.0], Timings(entry));
        Assert.Equal(0.5, entry.GetProperty("time").GetDouble());
        JsonElement postData = entry.GetProperty("request").GetProperty("postData");
        Assert.Equal("""{"a":1}""", postData.GetProperty("text").GetString());
        Assert.False(postData.TryGetProperty("comment", out _));

        JsonElement response = entry.GetProperty("response");
        Assert.Equal(0, response.GetProperty("status").GetInt32());
        Assert.Equal("", response.GetProperty("statusText").GetString());
        Assert.Equal("HTTP/1.1", response.GetProperty("httpVersion").GetString());
        Assert.Empty(response.GetProperty("headers").EnumerateArray());
        Assert.Equal(-1, response.GetProperty("bodySize").GetInt64());
        Assert.Equal("x-unknown", response.GetProperty("content").GetProperty("mimeType").GetString());
    }

    [Fact]
    public void ExchangeWithoutRequestOnTheServerSide()
    {
        // A traced server: its own end (Local) is the server's address.
        var flow = Flow(
            side: FlowSide.Server,
            address: new ConnectionAddress(new IPEndPoint(IPAddress.Parse("10.0.0.1"), 8443), ClientEnd));
        HttpExchange exchange = Exchange(
            request: null,
            Response(
                302,
                "Found",
                [("Location", "https://example.com/next"), ("Content-Length", "0")],
                firstNs: T0 + Ms,
                lastNs: T0 + (2 * Ms),
                headerBytes: 60),
            flow);

        JsonElement entry = Assert.Single(WriteAndValidate(exchange));

        Assert.Equal("request not captured", entry.GetProperty("_note").GetString());
        Assert.Equal("server", entry.GetProperty("_side").GetString());
        Assert.Equal("10.0.0.1", entry.GetProperty("serverIPAddress").GetString());
        Assert.Equal("2026-11-22T15:04:05.124456Z", entry.GetProperty("startedDateTime").GetString());
        Assert.Equal([0.0, 0.0, 1.0], Timings(entry));

        JsonElement request = entry.GetProperty("request");
        Assert.Equal("", request.GetProperty("method").GetString());
        Assert.Equal("about:blank", request.GetProperty("url").GetString());
        Assert.Equal("HTTP/1.1", request.GetProperty("httpVersion").GetString());
        Assert.Equal(-1, request.GetProperty("headersSize").GetInt64());

        JsonElement response = entry.GetProperty("response");
        Assert.Equal(302, response.GetProperty("status").GetInt32());
        Assert.Equal("https://example.com/next", response.GetProperty("redirectURL").GetString());
        Assert.Equal(60, response.GetProperty("headersSize").GetInt64());
    }

    [Fact]
    public void OddDataStaysValid()
    {
        var flow = Flow(address: ConnectionAddress.Unknown);
        HttpExchange exchange = Exchange(
            Request(
                "GET",
                // An HTTP/1 target is decoded as Latin-1: "\u00c3\u00a9" are the two bytes of UTF-8 "é".
                "https://example.com/caf\u00c3\u00a9 menu?x=\u00c3\u00a9",
                [("X-Null", null!), ("X-Bad", "lone \uD800 surrogate"), ("Cookie", "nameless; =empty")],
                firstNs: T0,
                lastNs: T0,
                complete: false,
                note: "bytes lost"),
            Response(
                200,
                "OK",
                [("Set-Cookie", "x=1; Expires=not a date; Max-Age=10"), ("Content-Type", "text/plain")],
                body: "tab\tand\u0001control"u8.ToArray(),
                truncated: true,
                wireBytes: 1_000_000,
                firstNs: T0 + Ms,
                lastNs: T0 + Ms),
            flow);

        JsonElement entry = Assert.Single(WriteAndValidate(exchange));

        Assert.False(entry.TryGetProperty("serverIPAddress", out _));
        Assert.Equal("request: bytes lost", entry.GetProperty("_note").GetString());
        JsonElement request = entry.GetProperty("request");
        Assert.Equal("https://example.com/caf%C3%A9%20menu?x=%C3%A9", request.GetProperty("url").GetString());
        Assert.Equal([("x", "é")], Pairs(request.GetProperty("queryString")));
        Assert.Equal([("X-Null", ""), ("X-Bad", "lone \uFFFD surrogate"), ("Cookie", "nameless; =empty")], Pairs(request.GetProperty("headers")));
        Assert.Equal([("", "nameless"), ("", "empty")], Pairs(request.GetProperty("cookies")));

        JsonElement response = entry.GetProperty("response");
        Assert.Equal("""{"name":"x","value":"1"}""", Assert.Single(response.GetProperty("cookies").EnumerateArray()).GetRawText());
        JsonElement content = response.GetProperty("content");
        Assert.Equal("base64", content.GetProperty("encoding").GetString());
        Assert.Equal("tab\tand\u0001control"u8.ToArray(), Convert.FromBase64String(content.GetProperty("text").GetString()!));
        Assert.True(content.GetProperty("_truncated").GetBoolean());
        Assert.Equal(1_000_000, content.GetProperty("size").GetInt64());
    }

    [Fact]
    public void FileIsValidAfterEveryExchangeWithoutDispose()
    {
        string path = Path.Combine(_directory, "live.har");
        var sink = new HarSink(path, "1.2.3-test");
        try
        {
            Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(path));
            Assert.Empty(Validate(path).GetProperty("log").GetProperty("entries").EnumerateArray());

            for (int i = 1; i <= 3; i++)
            {
                sink.OnExchange(Exchange(
                    Request("GET", $"https://example.com/{i}", [("Host", "example.com")], firstNs: T0 + (i * Ms), lastNs: T0 + (i * Ms)),
                    Response(200, "OK", [], firstNs: T0 + (i * Ms), lastNs: T0 + (i * Ms)),
                    sequence: i));

                JsonElement log = Validate(path).GetProperty("log");
                Assert.Equal(
                    Enumerable.Range(1, i).Select(n => $"https://example.com/{n}"),
                    log.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("request").GetProperty("url").GetString()));
                Assert.Equal(i, sink.EntryCount);
            }

            // The capture-level events write nothing.
            long length = new FileInfo(path).Length;
            sink.OnData(Chunks.Data("x"u8.ToArray()));
            sink.OnClose(new ConnectionClosed(T0, 7, 1234, 1, 1));
            sink.Flush();
            Assert.Equal(length, new FileInfo(path).Length);

            JsonElement head = Validate(path).GetProperty("log");
            Assert.Equal("1.2", head.GetProperty("version").GetString());
            Assert.Equal("""{"name":"TlsScope","version":"1.2.3-test"}""", head.GetProperty("creator").GetRawText());
            Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(path));
        }
        finally
        {
            sink.Dispose();
        }

        // One entry per line, and the file ends where the document does.
        string text = File.ReadAllText(path);
        Assert.EndsWith("\n]}}\n", text, StringComparison.Ordinal);
        Assert.Equal(5, text.Split('\n').Length - 1);
        Assert.Equal(3, Validate(path).GetProperty("log").GetProperty("entries").GetArrayLength());
    }

    [Fact]
    public void DefaultCreatorVersionIsTheAssemblys()
    {
        string path = Path.Combine(_directory, "version.har");
        using (new HarSink(path))
        {
        }

        string? version = Validate(path).GetProperty("log").GetProperty("creator").GetProperty("version").GetString();
        string expected = typeof(HarSink).Assembly
            .GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .Cast<System.Reflection.AssemblyInformationalVersionAttribute>().Single().InformationalVersion.Split('+')[0];
        Assert.False(string.IsNullOrEmpty(expected));
        Assert.Equal(expected, version);
    }

    [Fact]
    public void ExistingWideFileIsNarrowedAndTruncated()
    {
        string path = Path.Combine(_directory, "old.har");
        File.WriteAllText(path, new string('x', 10_000));
        File.SetUnixFileMode(path, OwnerReadWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        using (var sink = new HarSink(path, "1"))
        {
            sink.OnExchange(Exchange(Request("GET", "https://example.com/", [], firstNs: T0, lastNs: T0), null));
        }

        Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(path));
        Assert.Equal(1, Validate(path).GetProperty("log").GetProperty("entries").GetArrayLength());
    }

    [Fact]
    public void StandardOutputIsRefused()
    {
        OutputException error = Assert.Throws<OutputException>(() => new HarSink("-"));

        Assert.Equal("cannot write HAR to stdout: the file is completed in place after each exchange; give --har a file name", error.Message);
        Assert.DoesNotContain("\n", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnwritablePathsGiveOneLineErrors()
    {
        string missing = Path.Combine(_directory, "missing", "x.har");
        Assert.Equal(
            $"{missing}: directory not found",
            Assert.Throws<OutputException>(() => new HarSink(missing)).Message);
        Assert.Equal(
            $"{_directory}: is a directory",
            Assert.Throws<OutputException>(() => new HarSink(_directory)).Message);
        Assert.Equal(
            "/sys/kernel/notes: is on sysfs, a kernel interface, not storage: refusing to write there",
            Assert.Throws<OutputException>(() => new HarSink("/sys/kernel/notes")).Message);
    }

    /// <summary>Writes the exchanges to a new HAR file, checks it with har-validator and returns its entries.</summary>
    private JsonElement[] WriteAndValidate(params HttpExchange[] exchanges)
    {
        string path = Path.Combine(_directory, $"{Guid.NewGuid():N}.har");
        using (var sink = new HarSink(path, "test"))
        {
            foreach (HttpExchange exchange in exchanges)
            {
                sink.OnExchange(exchange);
            }
        }

        return [.. Validate(path).GetProperty("log").GetProperty("entries").EnumerateArray()];
    }

    /// <summary>Runs scripts/har-validate.js on the file (asserting "valid") and returns the parsed document.</summary>
    private static JsonElement Validate(string path)
    {
        string node = ExternalProgram.Find("node")
            ?? throw new InvalidOperationException("node is missing: run scripts/setup test");
        string root = CLayoutFixture.FindRepoRoot();
        Assert.True(
            Directory.Exists(Path.Combine(root, ".build", "npm", "node_modules", "har-validator")),
            "har-validator is missing: run scripts/setup test");

        string output = ExternalProgram.Run(node, Path.Combine(root, "scripts", "har-validate.js"), path);
        Assert.Equal("valid\n", output);

        // Read while the sink may still hold the file open for writing.
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using JsonDocument document = JsonDocument.Parse(stream);
        return document.RootElement.Clone();
    }

    private static (string Name, string Value)[] Pairs(JsonElement array) =>
        [.. array.EnumerateArray().Select(e => (e.GetProperty("name").GetString()!, e.GetProperty("value").GetString()!))];

    /// <summary>send, wait, receive.</summary>
    private static double[] Timings(JsonElement entry)
    {
        JsonElement timings = entry.GetProperty("timings");
        return [timings.GetProperty("send").GetDouble(), timings.GetProperty("wait").GetDouble(), timings.GetProperty("receive").GetDouble()];
    }

    private static HttpFlow Flow(string protocol = "HTTP/1", FlowSide side = FlowSide.Client, ConnectionAddress? address = null) => new()
    {
        Connection = 7,
        Side = side,
        Library = "/usr/lib/x86_64-linux-gnu/libssl.so.3",
        Fd = 5,
        Address = address ?? new ConnectionAddress(ClientEnd, ServerEnd),
        Process = Chunks.Curl,
    };

    private static HttpExchange Exchange(HttpMessage? request, HttpMessage? response, HttpFlow? flow = null, long sequence = 1) => new()
    {
        Flow = flow ?? Flow(),
        Sequence = sequence,
        Request = request,
        Response = response,
    };

    private static HttpMessage Request(
        string method,
        string url,
        (string, string)[] headers,
        long firstNs,
        long lastNs,
        byte[]? body = null,
        string version = "HTTP/1.1",
        int? stream = null,
        long headerBytes = 0,
        bool complete = true,
        string? note = null) => new()
    {
        IsRequest = true,
        Version = version,
        Stream = stream,
        Process = Chunks.Curl,
        Method = method,
        Url = url,
        Headers = headers,
        Body = body ?? [],
        BodyWireBytes = body?.Length ?? 0,
        HeaderBytes = headerBytes,
        Complete = complete,
        Note = note,
        FirstByteNs = firstNs,
        LastByteNs = lastNs,
    };

    private static HttpMessage Response(
        int status,
        string? reason,
        (string, string)[] headers,
        long firstNs,
        long lastNs,
        byte[]? body = null,
        string version = "HTTP/1.1",
        int? stream = null,
        string? decodedFrom = null,
        long? wireBytes = null,
        bool truncated = false,
        long headerBytes = 0,
        (string, string)[]? trailers = null) => new()
    {
        IsRequest = false,
        Version = version,
        Stream = stream,
        Process = Chunks.Curl,
        Status = status,
        Reason = reason,
        Headers = headers,
        Trailers = trailers ?? [],
        Body = body ?? [],
        BodyDecoded = decodedFrom,
        BodyWireBytes = wireBytes ?? body?.Length ?? 0,
        BodyTruncated = truncated,
        HeaderBytes = headerBytes,
        Complete = true,
        FirstByteNs = firstNs,
        LastByteNs = lastNs,
    };
}
