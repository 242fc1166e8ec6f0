using System.Net;
using System.Text;
using TlsScope.Engine.Model;
using TlsScope.Flows;
using TlsScope.Outputs.Json;
using TlsScope.Tests.Flows;

namespace TlsScope.Tests.Output;

/// <summary>
/// The NDJSON output, byte for byte, against a file recorded from the writer as it was before
/// any speed work (issue 13): raw chunks (IPv4/IPv6, unknown tuple, truncated, inferred,
/// non-ASCII comm, cgroup), gaps, closes, and through the HTTP tracker requests, responses and
/// exchanges (gzip and chunked bodies, escapes in headers, a 101 upgrade and WebSocket frames).
/// A faster writer must produce the same bytes. TLSSCOPE_UPDATE_GOLDEN=1 rewrites the file (only
/// when the output is meant to change).
/// </summary>
public sealed class JsonGoldenTests
{
    private static readonly string SourcePath = Path.Combine(FindRepo(), "tests", "TlsScope.Tests", "Output", "Golden", "capture.ndjson");

    [Fact]
    public void TheOutputIsByteForByteTheRecordedOne()
    {
        var produced = Render();

        if (Environment.GetEnvironmentVariable("TLSSCOPE_UPDATE_GOLDEN") == "1")
        {
            File.WriteAllBytes(SourcePath, produced);
        }

        var golden = File.ReadAllBytes(SourcePath);
        var (a, b) = (Encoding.UTF8.GetString(golden).Split('\n'), Encoding.UTF8.GetString(produced).Split('\n'));
        for (var i = 0; i < Math.Min(a.Length, b.Length); i++)
        {
            Assert.True(a[i] == b[i], $"line {i + 1} differs:\nrecorded: {a[i]}\nproduced: {b[i]}");
        }

        Assert.Equal(a.Length, b.Length);
        Assert.Equal(golden, produced);
    }

    private static byte[] Render()
    {
        var stream = new MemoryStream();
        using (var sink = new JsonSink(stream, leaveOpen: true))
        {
            Raw(sink);
            var tracker = new HttpFlowTracker(sink, sink, new FlowOptions());
            Http(tracker);
            tracker.Dispose();
        }

        return stream.ToArray();
    }

    private static void Raw(JsonSink sink)
    {
        var v6 = new ConnectionAddress(new IPEndPoint(IPAddress.Parse("fe80::1"), 51000), new IPEndPoint(IPAddress.Parse("2001:db8::2"), 443));
        var unknown = new ConnectionAddress(null, null);
        var container = new ProcessInfo(4000, 4001, 0, "wörker 🚀", Cgroup: 4242, Container: "abc123");
        sink.OnData(Chunks.Data(Encoding.ASCII.GetBytes("plain \"quoted\" \\ text\n"), Direction.Write));
        sink.OnData(Chunks.Data([0, 1, 2, 0xfe, 0xff], Direction.Read, address: v6, fd: 9, connection: 8, offset: 22));
        sink.OnData(Chunks.Data(new byte[300], Direction.Read, address: unknown, fd: -1, connection: 9, truncated: true, dropped: 4096,
            process: container, library: "/opt/app/lib/libssl.so.3"));
        sink.OnData(Chunks.Data([0x41], address: Chunks.Loopback with { Inferred = true }, connection: 10));
        sink.OnGap(new StreamGap(Chunks.KnownTimeNs + 5, 8, Direction.Read, Chunks.Curl, 322, 1000, "ring buffer full"));
        sink.OnClose(new ConnectionClosed(Chunks.KnownTimeNs + 9, 8, Chunks.Curl.Pid, 1322, 22));
    }

    private static void Http(HttpFlowTracker tracker)
    {
        var c = new ConnectionFeeder(tracker, connection: 11) { Clock = Chunks.KnownTimeNs, Step = 250_000 };
        c.Write("GET /search?q=caf%C3%A9&x=\"1\" HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\\est/1.0\r\nAccept-Encoding: gzip\r\n\r\n");
        // {"ok":true,"text":"héllo"} gzipped once (fixed bytes: a compressor update must not move the file)
        var gz = Convert.FromBase64String("H4sIAAAAAAAC/6tWys9WsiopKk3VUSpJrShRslLKOLwyJydfqRYAxLt5axsAAAA=");
        c.Read($"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: {gz.Length}\r\n\r\n");
        c.Read(gz);
        c.Write("POST /upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
        c.Read("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
        c.Write("GET /ws HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
        c.Read("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
        c.Write(new byte[] { 0x81, 0x85, 1, 2, 3, 4, (byte)('h' ^ 1), (byte)('e' ^ 2), (byte)('l' ^ 3), (byte)('l' ^ 4), (byte)('o' ^ 1) });
        c.Read(new byte[] { 0x88, 0x02, 0x03, 0xe8 });
        c.Close();
    }

    private static string FindRepo()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TlsScope.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("repository root not found");
    }
}
