using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.Net;
using System.Text;
using TlsScope.Protocols.Hpack;
using TlsScope.Protocols.Http2;
using TlsScope.Engine.Model;

namespace TlsScope.Bench;

/// <summary>What one exchange of a synthetic capture carries, and what the parsers must report for it.</summary>
internal sealed record ExchangeSpec(
    string Method,
    string Path,
    byte[]? RequestBody,
    int Status,
    string Reason,
    string ContentType,
    byte[] Body,            // decoded body: what the user sees
    byte[] WireBody,        // after Content-Encoding: what travels (the same array when not encoded)
    string? Encoding,
    bool Chunked);

/// <summary>
/// A capture as the decoder thread hands it to the sinks, pre-generated: the chunks of a few
/// keep-alive connections in the order a client process sees them (its writes of requests, its reads
/// of responses in TLS-record-sized pieces of at most 16 KiB), then one close per connection. The
/// bytes live in one arena, so replaying the capture allocates nothing of its own.
/// </summary>
internal sealed class SyntheticCapture
{
    public const int ReadPiece = 16 * 1024;

    public required string Name { get; init; }

    public required DataChunk[] Chunks { get; init; }

    public required ConnectionClosed[] Closes { get; init; }

    /// <summary>Per connection id, the exchanges in order (to validate what the tracker reports).</summary>
    public required Dictionary<ulong, List<ExchangeSpec>> Expected { get; init; }

    public long WireBytes { get; init; }

    public int Exchanges { get; init; }

    public string Description { get; init; } = "";
}

/// <summary>Builds the synthetic captures of the parse benchmark.</summary>
internal static class ParseCaptures
{
    private static readonly ProcessInfo Process = new(4242, 4242, 1000, "bench-client");
    private const string Library = "/usr/lib/x86_64-linux-gnu/libssl.so.3";
    private const string Host = "api.example.com";

    // ---------------------------------------------------------------- exchange mixes

    /// <summary>The realistic mix: 10 exchanges, bodies of 200 B, 4 KiB and 64 KiB, some chunked, some gzip.</summary>
    public static List<ExchangeSpec> RealisticMix(Random rng, bool http2)
    {
        var list = new List<ExchangeSpec>();
        for (int v = 0; v < 4; v++) // 4 variants of the cycle, so bodies and paths differ
        {
            list.Add(Json(rng, "GET", $"/api/v2/items/{rng.Next(100000, 999999)}", 200, null, false));
            list.Add(Json(rng, "GET", $"/api/v2/items?page={rng.Next(1, 50)}&per_page=25&sort=updated", 4 * 1024, "gzip", false));
            list.Add(Text(rng, "GET", $"/static/js/app.{rng.Next(0x10000000, int.MaxValue):x8}.js", 64 * 1024, null, !http2, "application/javascript"));
            list.Add(Binary(rng, "GET", $"/img/avatars/{rng.Next(1000, 9999)}.png", 4 * 1024, "image/png"));
            list.Add(Json(rng, "POST", "/api/v2/events", 200, null, false, requestBody: JsonBytes(rng, 200)));
            list.Add(Json(rng, "GET", $"/api/v2/feed?cursor={rng.Next():x8}", 64 * 1024, "gzip", !http2));
            list.Add(Json(rng, "GET", $"/api/v2/users/{rng.Next(1000, 99999)}/profile", 200, null, false));
            list.Add(Binary(rng, "GET", $"/img/photos/{rng.Next(100000, 999999)}.jpg", 64 * 1024, "image/jpeg"));
            list.Add(Json(rng, "GET", $"/api/v2/search?q=term{rng.Next(100)}&limit=100", 64 * 1024, "gzip", false));
            list.Add(Json(rng, "GET", $"/api/v2/users/{rng.Next(1000, 99999)}/settings", 4 * 1024, null, !http2));
        }

        return list;
    }

    /// <summary>What overhead.sh's nginx serves wrk: GET / answered 200 with a 1 KiB page (the
    /// 1.4 KB responses of bench/README section 1; 4 variants so the bytes differ).</summary>
    public static List<ExchangeSpec> PageMix(Random rng) =>
        [.. Enumerable.Range(0, 4).Select(_ => Text(rng, "GET", "/", 1024, null, false, "text/html"))];

    /// <summary>Tiny exchanges: GET /health answered 204, no body.</summary>
    public static List<ExchangeSpec> SmallMix() =>
    [
        new ExchangeSpec("GET", "/health", null, 204, "No Content", "", [], [], null, false),
        new ExchangeSpec("GET", "/ping", null, 204, "No Content", "", [], [], null, false),
    ];

    private static ExchangeSpec Json(Random rng, string method, string path, int size, string? encoding, bool chunked, byte[]? requestBody = null)
    {
        var body = JsonBytes(rng, size);
        return new ExchangeSpec(method, path, requestBody, method == "POST" ? 201 : 200, method == "POST" ? "Created" : "OK",
            "application/json; charset=utf-8", body, encoding == "gzip" ? Gzip(body) : body, encoding, chunked);
    }

    private static ExchangeSpec Text(Random rng, string method, string path, int size, string? encoding, bool chunked, string type)
    {
        var body = JsBytes(rng, size);
        return new ExchangeSpec(method, path, null, 200, "OK", type, body, encoding == "gzip" ? Gzip(body) : body, encoding, chunked);
    }

    private static ExchangeSpec Binary(Random rng, string method, string path, int size, string type)
    {
        var body = new byte[size];
        rng.NextBytes(body);
        return new ExchangeSpec(method, path, null, 200, "OK", type, body, body, null, false);
    }

    /// <summary>JSON text of exactly <paramref name="size"/> bytes (array of records; cut at the size).</summary>
    private static byte[] JsonBytes(Random rng, int size)
    {
        var sb = new StringBuilder("[");
        string[] names = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"];
        string[] tags = ["new", "sale", "popular", "limited", "eco", "premium"];
        while (sb.Length < size)
        {
            sb.Append($"{{\"id\":{rng.Next(1, 10_000_000)},\"name\":\"{names[rng.Next(names.Length)]}-{rng.Next(10000)}\",")
              .Append($"\"email\":\"{names[rng.Next(names.Length)]}{rng.Next(1000)}@example.org\",\"active\":{(rng.Next(2) == 0 ? "true" : "false")},")
              .Append($"\"score\":{rng.NextDouble():0.0000},\"tags\":[\"{tags[rng.Next(tags.Length)]}\",\"{tags[rng.Next(tags.Length)]}\"],")
              .Append($"\"updated\":\"2026-11-{rng.Next(1, 29):00}T{rng.Next(24):00}:{rng.Next(60):00}:{rng.Next(60):00}Z\"}},");
        }

        return Encoding.ASCII.GetBytes(sb.ToString(0, size));
    }

    /// <summary>Minified-JavaScript-like text of exactly <paramref name="size"/> bytes.</summary>
    private static byte[] JsBytes(Random rng, int size)
    {
        var sb = new StringBuilder();
        string[] words = ["function", "return", "const", "this", "props", "state", "render", "useEffect", "document", "window", "null", "length"];
        while (sb.Length < size)
        {
            sb.Append($"{words[rng.Next(words.Length)]} {(char)('a' + rng.Next(26))}{rng.Next(100)}=({words[rng.Next(words.Length)]}.{words[rng.Next(words.Length)]}||{rng.Next(1000)});");
        }

        return Encoding.ASCII.GetBytes(sb.ToString(0, size));
    }

    private static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            gz.Write(data);
        }

        return output.ToArray();
    }

    // ---------------------------------------------------------------- HTTP/1.1

    private static readonly string RequestHeaders =
        $"Host: {Host}\r\n" +
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
        "Accept: application/json, text/plain, */*\r\n" +
        "Accept-Encoding: gzip, deflate, br\r\n" +
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MjQyIn0.c2lnbmF0dXJl\r\n" +
        "Connection: keep-alive\r\n";

    private static readonly string SmallRequestHeaders = $"Host: {Host}\r\nUser-Agent: probe/1.0\r\nAccept: */*\r\n";

    private static byte[] Http1Request(ExchangeSpec e)
    {
        var sb = new StringBuilder($"{e.Method} {e.Path} HTTP/1.1\r\n").Append(e.Status == 204 ? SmallRequestHeaders : RequestHeaders);
        if (e.RequestBody is { } b)
        {
            sb.Append($"Content-Type: application/json\r\nContent-Length: {b.Length}\r\n");
        }

        return Encoding.ASCII.GetBytes(sb.Append("\r\n").ToString());
    }

    private static byte[] Http1Response(ExchangeSpec e, int sequence)
    {
        var sb = new StringBuilder($"HTTP/1.1 {e.Status} {e.Reason}\r\n")
            .Append("Server: nginx/1.22.1\r\n")
            .Append("Date: Sun, 22 Nov 2026 17:30:00 GMT\r\n");
        if (e.Status == 204)
        {
            return Encoding.ASCII.GetBytes(sb.Append("Connection: keep-alive\r\n\r\n").ToString());
        }

        sb.Append($"Content-Type: {e.ContentType}\r\n")
          .Append(e.Chunked ? "Transfer-Encoding: chunked\r\n" : $"Content-Length: {e.WireBody.Length}\r\n")
          .Append("Connection: keep-alive\r\n")
          .Append("Vary: Accept-Encoding\r\n")
          .Append("Cache-Control: private, max-age=0, must-revalidate\r\n")
          .Append($"ETag: \"{sequence:x8}-{e.WireBody.Length:x6}\"\r\n")
          .Append("Strict-Transport-Security: max-age=63072000; includeSubDomains; preload\r\n")
          .Append($"X-Request-Id: 7f3c2a1e-9b8d-4c6f-a5e4-{sequence:x12}\r\n");
        if (e.Encoding is not null)
        {
            sb.Append($"Content-Encoding: {e.Encoding}\r\n");
        }

        var head = Encoding.ASCII.GetBytes(sb.Append("\r\n").ToString());
        using var m = new MemoryStream();
        m.Write(head);
        if (!e.Chunked)
        {
            m.Write(e.WireBody);
            return m.ToArray();
        }

        // Chunks of 8 KiB, as nginx's output buffers make them.
        for (int at = 0; at < e.WireBody.Length; at += 8192)
        {
            int n = Math.Min(8192, e.WireBody.Length - at);
            m.Write(Encoding.ASCII.GetBytes($"{n:x}\r\n"));
            m.Write(e.WireBody, at, n);
            m.Write("\r\n"u8);
        }

        m.Write("0\r\n\r\n"u8);
        return m.ToArray();
    }

    /// <summary>
    /// HTTP/1.1 keep-alive connections taking turns exchange by exchange: each request is one write
    /// (its body a second write), each response is read in pieces of at most 16 KiB.
    /// </summary>
    public static SyntheticCapture Http1(string name, List<ExchangeSpec> mix, int connections, int exchangesPerConnection)
    {
        var b = new Builder();
        int reqHead = 0, respHead = 0, n = 0;
        for (int i = 0; i < exchangesPerConnection; i++)
        {
            for (ulong c = 1; c <= (ulong)connections; c++)
            {
                var e = mix[(i * connections + (int)c) % mix.Count];
                var request = Http1Request(e);
                reqHead += request.Length;
                b.Write(c, request);
                if (e.RequestBody is { } body)
                {
                    b.Write(c, body);
                }

                var response = Http1Response(e, i);
                respHead += response.Length - e.WireBody.Length;
                b.Read(c, response);
                b.Expect(c, e);
                n++;
            }
        }

        return b.Finish(name, connections, n,
            $"{connections} connections x {exchangesPerConnection} exchanges; request head {reqHead / n} B, response head {respHead / n} B (avg, chunk framing included)");
    }

    // ---------------------------------------------------------------- HTTP/2

    /// <summary>
    /// HTTP/2 connections taking turns batch by batch: preface + SETTINGS + WINDOW_UPDATE from the
    /// client, SETTINGS + SETTINGS ACK from the server; then per batch the client writes one HEADERS
    /// (plus DATA for a POST) per request, the server answers with every response's HEADERS and then
    /// DATA frames of at most 16 KiB interleaved across the batch's streams (read in 16 KiB pieces), and
    /// the client acknowledges with a connection WINDOW_UPDATE. Header blocks come from
    /// <see cref="BenchHpackEncoder"/>.
    /// </summary>
    public static SyntheticCapture Http2(string name, List<ExchangeSpec> mix, int connections, int exchangesPerConnection, int concurrent)
    {
        var b = new Builder();
        var clientEncoders = new BenchHpackEncoder[connections + 1];
        var serverEncoders = new BenchHpackEncoder[connections + 1];
        var nextStream = new int[connections + 1];
        long headerBlockBytes = 0, requestBlocks = 0, responseBlocks = 0;
        for (ulong c = 1; c <= (ulong)connections; c++)
        {
            clientEncoders[c] = new BenchHpackEncoder();
            serverEncoders[c] = new BenchHpackEncoder();
            nextStream[c] = 1;
            var f = new Frames();
            f.Raw(Http2DirectionParser.ClientPreface);
            f.Settings((Http2SettingId.EnablePush, 0), (Http2SettingId.InitialWindowSize, 6291456), (Http2SettingId.MaxHeaderListSize, 262144));
            f.WindowUpdate(0, 15663105);
            b.Write(c, f.Take());
            f.Settings((Http2SettingId.MaxConcurrentStreams, 128), (Http2SettingId.InitialWindowSize, 65536), (Http2SettingId.MaxFrameSize, 16384));
            f.Frame(Http2FrameType.Settings, Http2Flags.Ack, 0, []);
            b.Read(c, f.Take());
            f.Frame(Http2FrameType.Settings, Http2Flags.Ack, 0, []);
            b.Write(c, f.Take());
        }

        int n = 0;
        int m = 0;
        for (int done = 0; done < exchangesPerConnection; done += concurrent)
        {
            for (ulong c = 1; c <= (ulong)connections; c++)
            {
                int batch = Math.Min(concurrent, exchangesPerConnection - done);
                var streams = new (int Id, ExchangeSpec E)[batch];
                var f = new Frames();
                for (int k = 0; k < batch; k++)
                {
                    var e = mix[m++ % mix.Count];
                    int id = nextStream[c];
                    nextStream[c] += 2;
                    streams[k] = (id, e);
                    var block = clientEncoders[c].Encode(Http2RequestFields(e));
                    headerBlockBytes += block.Length;
                    requestBlocks++;
                    f.Frame(Http2FrameType.Headers, (byte)(Http2Flags.EndHeaders | (e.RequestBody is null ? Http2Flags.EndStream : 0)), id, block);
                    if (e.RequestBody is { } body)
                    {
                        f.Frame(Http2FrameType.Data, Http2Flags.EndStream, id, body);
                    }

                    b.Write(c, f.Take()); // one write per request
                    b.Expect(c, e);
                    n++;
                }

                long received = 0;
                var offsets = new int[batch];
                foreach (var (id, e) in streams)
                {
                    var block = serverEncoders[c].Encode(Http2ResponseFields(e, id));
                    headerBlockBytes += block.Length;
                    responseBlocks++;
                    f.Frame(Http2FrameType.Headers, (byte)(Http2Flags.EndHeaders | (e.WireBody.Length == 0 ? Http2Flags.EndStream : 0)), id, block);
                }

                for (bool more = true; more;)
                {
                    more = false;
                    for (int k = 0; k < batch; k++)
                    {
                        var (id, e) = streams[k];
                        int left = e.WireBody.Length - offsets[k];
                        if (left <= 0)
                        {
                            continue;
                        }

                        int len = Math.Min(16384, left);
                        f.Frame(Http2FrameType.Data, len == left ? Http2Flags.EndStream : (byte)0, id, e.WireBody.AsSpan(offsets[k], len));
                        offsets[k] += len;
                        received += len;
                        more |= len < left;
                    }
                }

                b.Read(c, f.Take());
                if (received > 0)
                {
                    f.WindowUpdate(0, (uint)received);
                    b.Write(c, f.Take());
                }
            }
        }

        return b.Finish(name, connections, n,
            $"{connections} connections x {exchangesPerConnection} streams, {concurrent} concurrent; HPACK blocks avg {headerBlockBytes / Math.Max(1, requestBlocks + responseBlocks)} B");
    }

    private static List<(string, string)> Http2RequestFields(ExchangeSpec e)
    {
        var fields = new List<(string, string)>
        {
            (":method", e.Method),
            (":scheme", "https"),
            (":authority", Host),
            (":path", e.Path),
        };
        if (e.Status == 204)
        {
            fields.Add(("user-agent", "probe/1.0"));
            fields.Add(("accept", "*/*"));
            return fields;
        }

        fields.Add(("user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"));
        fields.Add(("accept", "application/json, text/plain, */*"));
        fields.Add(("accept-encoding", "gzip, deflate, br"));
        fields.Add(("authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MjQyIn0.c2lnbmF0dXJl"));
        if (e.RequestBody is { } b)
        {
            fields.Add(("content-type", "application/json"));
            fields.Add(("content-length", b.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        return fields;
    }

    private static List<(string, string)> Http2ResponseFields(ExchangeSpec e, int stream)
    {
        var fields = new List<(string, string)>
        {
            (":status", e.Status.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("server", "nginx/1.22.1"),
            ("date", "Sun, 22 Nov 2026 17:30:00 GMT"),
        };
        if (e.Status == 204)
        {
            return fields;
        }

        fields.Add(("content-type", e.ContentType));
        fields.Add(("content-length", e.WireBody.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        fields.Add(("vary", "Accept-Encoding"));
        fields.Add(("cache-control", "private, max-age=0, must-revalidate"));
        fields.Add(("etag", $"\"{stream:x8}-{e.WireBody.Length:x6}\""));
        fields.Add(("strict-transport-security", "max-age=63072000; includeSubDomains; preload"));
        fields.Add(("x-request-id", $"7f3c2a1e-9b8d-4c6f-a5e4-{stream:x12}"));
        if (e.Encoding is not null)
        {
            fields.Add(("content-encoding", e.Encoding));
        }

        return fields;
    }

    // ---------------------------------------------------------------- plumbing

    /// <summary>Frame writer (9-byte header + payload) into a growable buffer.</summary>
    private sealed class Frames
    {
        private readonly ArrayBufferWriter<byte> _out = new();

        public void Raw(ReadOnlySpan<byte> bytes) => _out.Write(bytes);

        public void Frame(byte type, byte flags, int stream, ReadOnlySpan<byte> payload)
        {
            var h = _out.GetSpan(9);
            h[0] = (byte)(payload.Length >> 16);
            h[1] = (byte)(payload.Length >> 8);
            h[2] = (byte)payload.Length;
            h[3] = type;
            h[4] = flags;
            BinaryPrimitives.WriteInt32BigEndian(h[5..], stream);
            _out.Advance(9);
            _out.Write(payload);
        }

        public void Settings(params (ushort Id, uint Value)[] settings)
        {
            var p = new byte[settings.Length * 6];
            for (int i = 0; i < settings.Length; i++)
            {
                BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(i * 6), settings[i].Id);
                BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(i * 6 + 2), settings[i].Value);
            }

            Frame(Http2FrameType.Settings, 0, 0, p);
        }

        public void WindowUpdate(int stream, uint increment)
        {
            Span<byte> p = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(p, increment);
            Frame(Http2FrameType.WindowUpdate, 0, stream, p);
        }

        public byte[] Take()
        {
            var bytes = _out.WrittenSpan.ToArray();
            _out.Clear();
            return bytes;
        }
    }

    /// <summary>Lays chunks out in one arena with per-direction stream offsets and a steady clock.</summary>
    private sealed class Builder
    {
        private readonly MemoryStream _arena = new();
        private readonly List<(ulong Conn, Direction Dir, long Offset, int At, int Length)> _chunks = new();
        private readonly Dictionary<(ulong, Direction), long> _offsets = new();
        private readonly Dictionary<ulong, List<ExchangeSpec>> _expected = new();

        public void Write(ulong conn, byte[] bytes) => Add(conn, Direction.Write, bytes, bytes.Length);

        /// <summary>One read per piece of at most 16 KiB (a TLS record's plaintext).</summary>
        public void Read(ulong conn, byte[] bytes) => Add(conn, Direction.Read, bytes, SyntheticCapture.ReadPiece);

        public void Expect(ulong conn, ExchangeSpec e)
        {
            if (!_expected.TryGetValue(conn, out var list))
            {
                _expected[conn] = list = new List<ExchangeSpec>();
            }

            list.Add(e);
        }

        private void Add(ulong conn, Direction dir, byte[] bytes, int piece)
        {
            for (int at = 0; at < bytes.Length; at += piece)
            {
                int n = Math.Min(piece, bytes.Length - at);
                _offsets.TryGetValue((conn, dir), out long offset);
                _chunks.Add((conn, dir, offset, (int)_arena.Length, n));
                _arena.Write(bytes, at, n);
                _offsets[(conn, dir)] = offset + n;
            }
        }

        public SyntheticCapture Finish(string name, int connections, int exchanges, string description)
        {
            var arena = _arena.ToArray();
            var chunks = new DataChunk[_chunks.Count];
            const long t0 = 1_795_000_000_000_000_000;
            for (int i = 0; i < chunks.Length; i++)
            {
                var (conn, dir, offset, at, length) = _chunks[i];
                var address = new ConnectionAddress(
                    new IPEndPoint(IPAddress.Loopback, 40000 + (int)conn), new IPEndPoint(IPAddress.Loopback, 443));
                long t = t0 + i * 10_000L;
                chunks[i] = new DataChunk(t, t - 2_000, conn, dir, Process, 10 + (int)conn, address, Library, offset,
                    new ReadOnlyMemory<byte>(arena, at, length), false, 0);
            }

            var closes = new ConnectionClosed[connections];
            for (int c = 0; c < connections; c++)
            {
                ulong conn = (ulong)(c + 1);
                closes[c] = new ConnectionClosed(t0 + chunks.Length * 10_000L, conn, Process.Pid,
                    _offsets.GetValueOrDefault((conn, Direction.Read)), _offsets.GetValueOrDefault((conn, Direction.Write)));
            }

            return new SyntheticCapture
            {
                Name = name,
                Chunks = chunks,
                Closes = closes,
                Expected = _expected,
                WireBytes = arena.LongLength,
                Exchanges = exchanges,
                Description = description,
            };
        }
    }
}

/// <summary>
/// A minimal HPACK encoder (RFC 7541) for the benchmark's captures: a field already in the static or
/// dynamic table is sent indexed; a volatile field (:path, content-length, etag, x-request-id) as a
/// literal without indexing with an indexed name; any other field as a literal with incremental
/// indexing (indexed name when the name is known), so a connection's first block fills the dynamic
/// table and later blocks are mostly one-byte indexed fields. Strings are Huffman-coded unless that
/// is longer. Table size 4096 (the default), with eviction.
/// </summary>
internal sealed class BenchHpackEncoder
{
    private const int MaxSize = HpackDecoder.DefaultTableSize;

    private static readonly HashSet<string> Volatile = [":path", "content-length", "etag", "x-request-id"];

    private readonly List<(string Name, string Value)> _dynamic = new(); // [0] = newest = index 62
    private int _size;

    public byte[] Encode(List<(string Name, string Value)> fields)
    {
        var o = new List<byte>(128);
        foreach (var (name, value) in fields)
        {
            var (exact, nameIndex) = Find(name, value);
            if (exact > 0)
            {
                Integer(o, 0x80, 7, exact);
                continue;
            }

            bool index = !Volatile.Contains(name);
            if (index)
            {
                Integer(o, 0x40, 6, nameIndex);
            }
            else
            {
                Integer(o, 0x00, 4, nameIndex);
            }

            if (nameIndex == 0)
            {
                String(o, name);
            }

            String(o, value);
            if (index)
            {
                Add(name, value);
            }
        }

        return o.ToArray();
    }

    private (int Exact, int Name) Find(string name, string value)
    {
        int nameIndex = 0;
        for (int i = 1; i <= HpackStaticTable.Count; i++)
        {
            var (n, v) = HpackStaticTable.Get(i);
            if (n == name)
            {
                if (v == value)
                {
                    return (i, i);
                }

                if (nameIndex == 0)
                {
                    nameIndex = i;
                }
            }
        }

        for (int i = 0; i < _dynamic.Count; i++)
        {
            var (n, v) = _dynamic[i];
            if (n == name)
            {
                if (v == value)
                {
                    return (HpackStaticTable.Count + 1 + i, nameIndex);
                }

                if (nameIndex == 0)
                {
                    nameIndex = HpackStaticTable.Count + 1 + i;
                }
            }
        }

        return (0, nameIndex);
    }

    private void Add(string name, string value)
    {
        int size = name.Length + value.Length + HpackDecoder.EntryOverhead;
        _dynamic.Insert(0, (name, value));
        _size += size;
        while (_size > MaxSize && _dynamic.Count > 0)
        {
            var (n, v) = _dynamic[^1];
            _dynamic.RemoveAt(_dynamic.Count - 1);
            _size -= n.Length + v.Length + HpackDecoder.EntryOverhead;
        }
    }

    /// <summary>An integer with an N-bit prefix (RFC 7541 Section 5.1), the prefix byte's high bits set to <paramref name="flags"/>.</summary>
    private static void Integer(List<byte> o, byte flags, int prefixBits, int value)
    {
        int max = (1 << prefixBits) - 1;
        if (value < max)
        {
            o.Add((byte)(flags | value));
            return;
        }

        o.Add((byte)(flags | max));
        value -= max;
        while (value >= 128)
        {
            o.Add((byte)(value % 128 + 128));
            value /= 128;
        }

        o.Add((byte)value);
    }

    private static void String(List<byte> o, string s)
    {
        var raw = Encoding.ASCII.GetBytes(s);
        long bits = 0;
        foreach (byte b in raw)
        {
            bits += HpackHuffman.CodeLength(b);
        }

        int huffmanLength = (int)((bits + 7) / 8);
        if (huffmanLength >= raw.Length)
        {
            Integer(o, 0x00, 7, raw.Length);
            o.AddRange(raw);
            return;
        }

        Integer(o, 0x80, 7, huffmanLength);
        ulong acc = 0;
        int pending = 0;
        foreach (byte b in raw)
        {
            int len = HpackHuffman.CodeLength(b);
            acc = (acc << len) | HpackHuffman.Code(b);
            pending += len;
            while (pending >= 8)
            {
                pending -= 8;
                o.Add((byte)(acc >> pending));
            }
        }

        if (pending > 0)
        {
            // Pad with the most significant bits of EOS (all ones).
            o.Add((byte)((acc << (8 - pending)) | (0xFFu >> pending)));
        }
    }
}
