using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using TlsScope.KernelTests.Infrastructure;

namespace TlsScope.KernelTests;

/// <summary>
/// HTTP parsing end to end: curl against a node HTTP/2 + HTTP/1.1 server on loopback, the tool
/// showing exchanges (text, NDJSON and HAR from one capture), client and server views.
/// </summary>
public sealed class HttpTests
{
    [KernelFact]
    public void CurlHttp2ThreeRequestsOnOneConnectionDecodeWithTheHpackTableKept()
    {
        using var server = NodeHttpServer.Start();
        var dir = Directory.CreateTempSubdirectory("tlsscope-h2-").FullName;
        var (jsonPath, harPath) = (Path.Combine(dir, "out.json"), Path.Combine(dir, "out.har"));
        using var scope = TlsScopeRun.StartWith(["--format", "text"], ["--comm", "curl", "--json", jsonPath, "--har", harPath]);
        using var curl = Proc.Start("curl", ["-sk", "--http2", "-H", "x-custom: abc-123",
            server.Url("/one"), server.Url("/two?q=2"), server.Url("/three")]);
        Assert.True(curl.WaitForExit(TimeSpan.FromSeconds(30)), curl.Stderr);
        Assert.Equal("hello /one\nhello /two?q=2\nhello /three\n", curl.Stdout);
        scope.StopCleanly();
        Assert.Contains("tlsscope: HTTP: 3 exchanges on 1 connections", scope.Stderr);

        var records = Captured.Load(jsonPath);
        var requests = records.OfType("http_request").ToList();
        var responses = records.OfType("http_response").ToList();
        var exchanges = records.OfType("http_exchange").ToList();
        Assert.Equal(3, exchanges.Count);
        string[] paths = ["/one", "/two?q=2", "/three"];
        for (int i = 0; i < 3; i++)
        {
            var (req, resp, ex) = (requests[i], responses[i], exchanges[i]);
            Assert.Equal(curl.Pid, req.GetProperty("pid").GetInt32());
            Assert.Equal("client", req.GetProperty("side").GetString());
            Assert.Equal("HTTP/2", ex.GetProperty("version").GetString());
            Assert.Equal(2 * i + 1, ex.GetProperty("stream").GetInt32());
            Assert.Equal(i + 1, ex.GetProperty("seq").GetInt64());
            Assert.Equal(exchanges[0].GetProperty("conn").GetUInt64(), ex.GetProperty("conn").GetUInt64());
            Assert.Equal($"127.0.0.1:{server.Port}", ex.GetProperty("remote").GetString());
            Assert.Equal($"https://127.0.0.1:{server.Port}{paths[i]}", ex.GetProperty("url").GetString());
            Assert.Equal("GET", ex.GetProperty("method").GetString());
            Assert.Equal(200, ex.GetProperty("status").GetInt32());
            Assert.True(ex.GetProperty("complete").GetBoolean());
            // The timings are the records' own byte times: ttfb from the request's last byte to the
            // response's first, total from the exchange's start to its end; both short on loopback.
            long requestEnd = Ns(req, "time"), responseStart = Ns(resp, "start");
            Assert.True(requestEnd <= responseStart, "the response started before the request ended");
            Assert.Equal((responseStart - requestEnd) / 1e6, ex.GetProperty("ttfb_ms").GetDouble(), 0.002);
            Assert.Equal((Ns(ex, "time") - Ns(ex, "start")) / 1e6, ex.GetProperty("total_ms").GetDouble(), 0.002);
            Assert.InRange(ex.GetProperty("total_ms").GetDouble(), 0.001, 10_000);

            // Every request's headers decode whole, in wire order; the custom one included.
            var reqHeaders = Headers(req);
            Assert.Equal([":method", ":path", ":scheme", ":authority", "user-agent", "accept", "x-custom"], reqHeaders.Select(h => h.Name));
            Assert.Equal(paths[i], Header(reqHeaders, ":path"));
            Assert.Equal("abc-123", Header(reqHeaders, "x-custom"));
            Assert.StartsWith("curl/", Header(reqHeaders, "user-agent"));
            var respHeaders = Headers(resp);
            Assert.Equal("200", Header(respHeaders, ":status"));
            Assert.Equal(paths[i], Header(respHeaders, "x-resp"));
            Assert.Equal($"hello {paths[i]}\n", Encoding.ASCII.GetString(resp.GetProperty("body").GetBytesFromBase64()));
        }

        // The HPACK proof: requests 2 and 3 repeat authority, user-agent and x-custom as indexes into the
        // dynamic table filled by request 1, so their header blocks are far smaller, and still decode.
        long first = requests[0].GetProperty("wire_size").GetInt64();
        Assert.True(requests[1].GetProperty("wire_size").GetInt64() < first / 2, $"request 2 not smaller than half of {first}");
        Assert.True(requests[2].GetProperty("wire_size").GetInt64() < first / 2, $"request 3 not smaller than half of {first}");

        // The text output shows the same exchanges.
        var text = File.ReadAllText(scope.OutputPath);
        Assert.Contains($"> GET https://127.0.0.1:{server.Port}/two?q=2 HTTP/2\n", text);
        Assert.Contains("> x-custom: abc-123\n", text);
        Assert.Contains("< HTTP/2 200\n", text);
        Assert.Contains("< x-resp: /three\n", text);
        Assert.Contains("hello /three\n", text);
        Assert.Matches(@"conn=\d+ #3 HTTP/2 stream=5 response ttfb=\d+\.\d{3}ms total=\d+\.\d{3}ms", text);

        // The HAR of the same capture passes the HAR schema validator and holds the three entries.
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(harPath));
        AssertValidHar(harPath);
        using var har = JsonDocument.Parse(File.ReadAllText(harPath));
        var entries = har.RootElement.GetProperty("log").GetProperty("entries").EnumerateArray().ToList();
        Assert.Equal(paths.Select(p => $"https://127.0.0.1:{server.Port}{p}"), entries.Select(e => e.GetProperty("request").GetProperty("url").GetString()));
        Assert.All(entries, e => Assert.Equal(200, e.GetProperty("response").GetProperty("status").GetInt32()));
        Assert.Equal("hello /three\n", entries[2].GetProperty("response").GetProperty("content").GetProperty("text").GetString());

        Directory.Delete(dir, recursive: true);
    }

    [KernelFact]
    public void Http11KeepAliveChunkedGzipHeadAndAOneMegabytePostOnOneConnection()
    {
        using var server = NodeHttpServer.Start();
        using var scope = TlsScopeRun.StartHttp("--comm", "curl");
        var upload = Path.Combine(scope.Directory, "upload.bin");
        var body = Enumerable.Range(0, 1 << 20).Select(i => (byte)(i * 31 % 253)).ToArray();
        File.WriteAllBytes(upload, body);
        // --next keeps the connection: four exchanges on one keep-alive connection.
        using var curl = Proc.Start("curl", ["-sk", "--http1.1", "-o", "/dev/null", server.Url("/gzip"),
            "--next", "-sk", "--http1.1", "-o", "/dev/null", server.Url("/plain"),
            "--next", "-sk", "--http1.1", "-I", "-o", "/dev/null", server.Url("/head"),
            "--next", "-sk", "--http1.1", "--data-binary", "@" + upload, "-H", "content-type: application/octet-stream", server.Url("/echo")]);
        Assert.True(curl.WaitForExit(TimeSpan.FromSeconds(30)), curl.Stderr);
        var digest = Convert.ToHexStringLower(SHA256.HashData(body));
        Assert.Equal($"{body.Length} {digest}", curl.Stdout.TrimEnd('\n'));
        scope.StopCleanly();

        var records = scope.Records();
        var exchanges = records.OfType("http_exchange").ToList();
        Assert.Equal(["/gzip", "/plain", "/head", "/echo"], exchanges.Select(e => new Uri(e.GetProperty("url").GetString()!).AbsolutePath));
        Assert.Equal(["GET", "GET", "HEAD", "POST"], exchanges.Select(e => e.GetProperty("method").GetString()));
        Assert.Single(exchanges.Select(e => e.GetProperty("conn").GetUInt64()).Distinct());
        Assert.All(exchanges, e => Assert.Equal("HTTP/1.1", e.GetProperty("version").GetString()));
        Assert.All(exchanges, e => Assert.True(e.GetProperty("complete").GetBoolean()));
        Assert.Equal([1L, 2, 3, 4], exchanges.Select(e => e.GetProperty("seq").GetInt64()));

        var responses = records.OfType("http_response").ToList();
        // Chunked and gzip on the wire, the exact original bytes in the record.
        var gzip = responses[0];
        Assert.Equal("chunked", Header(Headers(gzip), "transfer-encoding"));
        Assert.Equal("gzip", gzip.GetProperty("body_encoding").GetString());
        Assert.Equal(NodeHttpServer.GzipBody, Encoding.ASCII.GetString(gzip.GetProperty("body").GetBytesFromBase64()));
        Assert.True(gzip.GetProperty("body_wire_size").GetInt64() < NodeHttpServer.GzipBody.Length / 4);
        // HEAD: headers only, and the POST after it still parses.
        Assert.Equal(200, responses[2].GetProperty("status").GetInt32());
        Assert.Equal(0, responses[2].GetProperty("body_size").GetInt32());
        var post = records.OfType("http_request").Last();
        Assert.Equal(body, post.GetProperty("body").GetBytesFromBase64());
        Assert.Equal(body.Length, post.GetProperty("body_wire_size").GetInt64());
        Assert.Equal($"{body.Length} {digest}", Encoding.ASCII.GetString(responses[3].GetProperty("body").GetBytesFromBase64()));
        // No raw chunks for an HTTP connection: everything was parsed.
        Assert.Empty(records.Data);
    }

    [KernelFact]
    public void GrpcStyleRequestOverHttp2IsRecognised()
    {
        using var server = NodeHttpServer.Start();
        using var scope = TlsScopeRun.StartHttp("--comm", "curl");
        var message = Path.Combine(scope.Directory, "grpc.bin");
        File.WriteAllBytes(message, [0, 0, 0, 0, 7, .. "request"u8]);
        using var curl = Proc.Start("curl", ["-sk", "--http2", "-o", "/dev/null", "-H", "content-type: application/grpc", "-H", "te: trailers",
            "--data-binary", "@" + message, server.Url("/grpc")]);
        Assert.True(curl.WaitForExit(TimeSpan.FromSeconds(30)), curl.Stderr);
        scope.StopCleanly();

        var records = scope.Records();
        var request = Assert.Single(records.OfType("http_request"));
        var response = Assert.Single(records.OfType("http_response"));
        Assert.Equal([(false, 7)], Grpc(request));
        Assert.Equal([(false, 3), (false, 10)], Grpc(response));
        Assert.Equal([("grpc-status", "0"), ("grpc-message", "ok")], Fields(response.GetProperty("trailers")));
    }

    [KernelFact]
    public void RedactionMasksCredentialsInEveryOutput()
    {
        const string Secret = "s3cr3t-value-42";
        using var server = NodeHttpServer.Start();
        var json = Path.Combine(Path.GetTempPath(), $"tlsscope-redact-{Guid.NewGuid():N}.ndjson");
        var har = Path.ChangeExtension(json, ".har");
        using var scope = TlsScopeRun.StartWith(["--format", "text", "--redact", "--redact-header", "X-Secret"],
            ["--comm", "curl", "--json", json, "--har", har]);
        using var curl = Proc.Start("curl", ["-sk", "--http2", "-H", $"Authorization: Bearer {Secret}", "-H", $"Cookie: id={Secret}",
            "-H", $"x-secret: {Secret}", "-H", "x-visible: shown", server.Url("/cookie")]);
        Assert.True(curl.WaitForExit(TimeSpan.FromSeconds(30)), curl.Stderr);
        Assert.Equal("cookie set\n", curl.Stdout);
        scope.StopCleanly();

        foreach (var file in new[] { scope.OutputPath, json, har })
        {
            var content = File.ReadAllText(file);
            Assert.DoesNotContain(Secret, content);
            Assert.Contains("[REDACTED]", content);
            Assert.Contains("shown", content);
        }

        var records = Captured.Load(json);
        // Nothing slipped out in base64: no raw chunks, and no decoded body holds the secret.
        Assert.Empty(records.Data);
        Assert.All(records.OfType("http_request").Concat(records.OfType("http_response")),
            m => Assert.DoesNotContain(Secret, Encoding.Latin1.GetString(m.GetProperty("body").GetBytesFromBase64())));
        var request = Headers(Assert.Single(records.OfType("http_request")));
        Assert.Equal("[REDACTED]", Header(request, "authorization"));
        Assert.Equal("[REDACTED]", Header(request, "cookie"));
        Assert.Equal("[REDACTED]", Header(request, "x-secret"));
        Assert.Equal("[REDACTED]", Header(Headers(Assert.Single(records.OfType("http_response"))), "set-cookie"));
        AssertValidHar(har);
        File.Delete(json);
        File.Delete(har);
    }

    [KernelFact]
    public void TheServersViewOfTheSameTrafficIsServerSide()
    {
        using var server = NodeHttpServer.Start();
        using var scope = TlsScopeRun.StartHttp("--pid", server.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var curl = Proc.Start("curl", ["-sk", "--http2", server.Url("/a"), server.Url("/b")]);
        Assert.True(curl.WaitForExit(TimeSpan.FromSeconds(30)), curl.Stderr);
        Proc.WaitFor(() => File.ReadLines(scope.OutputPath).Count(l => l.Contains("\"http_exchange\"")) >= 2,
            TimeSpan.FromSeconds(10), "two exchanges");
        scope.StopCleanly();

        var exchanges = scope.Records().OfType("http_exchange").ToList();
        Assert.Equal([$"https://127.0.0.1:{server.Port}/a", $"https://127.0.0.1:{server.Port}/b"], exchanges.Select(e => e.GetProperty("url").GetString()));
        Assert.All(exchanges, e => Assert.Equal("server", e.GetProperty("side").GetString()));
        Assert.All(exchanges, e => Assert.Equal(server.Pid, e.GetProperty("pid").GetInt32()));
        Assert.All(exchanges, e => Assert.Equal(200, e.GetProperty("status").GetInt32()));
    }

    [KernelFact]
    public void WebSocketFramesAfterTheUpgradeAreDecodedAndUnmasked()
    {
        using var server = NodeHttpServer.Start();
        using var scope = TlsScopeRun.StartHttp("--comm", "python3");
        // A hand-rolled client: the upgrade, one masked text frame, then a close (1000, "bye").
        var script = $$"""
            import socket, ssl, os, struct, sys
            ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
            t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", {{server.Port}})), server_hostname="localhost")
            t.sendall(b"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
            got = b""
            while b"\r\n\r\n" not in got:
                got += t.recv(4096)
            def send(op, payload):
                mask = os.urandom(4)
                t.sendall(bytes([0x80 | op, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
            def recv():
                head = t.recv(2)
                return t.recv(head[1] & 0x7f)
            send(1, b"hello ws")
            sys.stdout.write(recv().decode() + "\n")
            send(8, struct.pack(">H", 1000) + b"bye")
            recv()
            t.close()
            """;
        using var py = Proc.Start("python3", ["-c", script]);
        Assert.True(py.WaitForExit(TimeSpan.FromSeconds(30)), "python did not finish: " + py.Stderr);
        Assert.Equal("echo: hello ws\n", py.Stdout);
        scope.StopCleanly();

        var records = scope.Records();
        var exchange = Assert.Single(records.OfType("http_exchange"));
        Assert.Equal(101, exchange.GetProperty("status").GetInt32());
        Assert.Equal("websocket", records.OfType("http_response").Single().GetProperty("upgraded_to").GetString());
        var frames = records.OfType("websocket").ToList();
        Assert.Equal([("client", "text", "hello ws"), ("server", "text", "echo: hello ws"), ("client", "close", "\u0003\u00e8bye"), ("server", "close", "\u0003\u00e8bye")],
            frames.Select(f => (f.GetProperty("from").GetString()!, f.GetProperty("opcode").GetString()!, Encoding.Latin1.GetString(f.GetProperty("data").GetBytesFromBase64()))));
        Assert.All(frames, f => Assert.Equal(exchange.GetProperty("seq").GetInt64(), f.GetProperty("seq").GetInt64()));
        Assert.Equal(1000, frames[2].GetProperty("close_code").GetInt32());
        Assert.Equal("bye", frames[2].GetProperty("close_reason").GetString());
        Assert.Empty(records.Data); // nothing fell back to raw chunks
    }

    [KernelFact]
    public void RawTurnsParsingOff()
    {
        using var server = NodeHttpServer.Start();
        using var scope = TlsScopeRun.Start("--comm", "curl");
        using var curl = Proc.Start("curl", ["-sk", "--http1.1", server.Url("/raw")]);
        Assert.True(curl.WaitForExit(TimeSpan.FromSeconds(30)), curl.Stderr);
        scope.StopCleanly();
        var records = scope.Records();
        Assert.Empty(records.OfType("http_exchange"));
        Assert.StartsWith("GET /raw HTTP/1.1\r\n", Encoding.ASCII.GetString(records.Bytes(curl.Pid, "write")));
    }

    /// <summary>An RFC 3339 time of a record as Unix ns (all nine digits kept).</summary>
    private static long Ns(JsonElement record, string key)
    {
        var text = record.GetProperty(key).GetString()!; // yyyy-MM-ddTHH:mm:ss.fffffffffZ
        var seconds = DateTimeOffset.Parse(text[..19] + "Z", System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeSeconds();
        return seconds * 1_000_000_000 + long.Parse(text[20..29], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static List<(string Name, string Value)> Headers(JsonElement message) => Fields(message.GetProperty("headers"));

    private static List<(string Name, string Value)> Fields(JsonElement array) =>
        array.EnumerateArray().Select(h => (h[0].GetString()!, h[1].GetString()!)).ToList();

    private static string? Header(List<(string Name, string Value)> headers, string name) =>
        headers.FirstOrDefault(h => string.Equals(h.Name, name, StringComparison.OrdinalIgnoreCase)).Value;

    private static List<(bool, int)> Grpc(JsonElement message) =>
        message.GetProperty("grpc").EnumerateArray().Select(m => (m.GetProperty("compressed").GetBoolean(), m.GetProperty("len").GetInt32())).ToList();

    /// <summary>Runs the npm har-validator package (installed by scripts/setup test) on the file.</summary>
    private static void AssertValidHar(string path)
    {
        var (code, stdout, stderr) = Proc.Run("node", [Path.Combine(Repo.Root, "scripts", "har-validate.js"), path], TimeSpan.FromSeconds(60));
        Assert.True(code == 0, $"har-validator rejected {path}: {stdout} {stderr}");
        Assert.Equal("valid", stdout.Trim());
    }
}
