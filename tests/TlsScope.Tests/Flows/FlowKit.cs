using System.Net;
using System.Text;
using TlsScope.Flows;
using TlsScope.Engine.Model;

namespace TlsScope.Tests.Flows;

/// <summary>
/// Records every <see cref="IHttpSink"/> call, in order. Messages are recorded as
/// <see cref="HttpMessage.Keep"/> gives them (their bodies outlive the exchange), one copy per
/// message; at the exchange, each delivered message must still hold the body it had.
/// </summary>
internal sealed class RecordingHttpSink : IHttpSink
{
    private readonly Dictionary<HttpMessage, HttpMessage> _kept = new(ReferenceEqualityComparer.Instance);

    public List<(string Kind, HttpFlow Flow, long Sequence, HttpMessage? Message, HttpExchange? Exchange)> Events { get; } = new();

    public List<HttpExchange> Exchanges { get; } = new();

    public List<(long Sequence, HttpMessage Message)> Requests { get; } = new();

    public List<(long Sequence, HttpMessage Message)> Responses { get; } = new();

    public void OnRequest(HttpFlow flow, long sequence, HttpMessage request)
    {
        Assert.True(request.IsRequest);
        request = Kept(request);
        Requests.Add((sequence, request));
        Events.Add(("request", flow, sequence, request, null));
    }

    public void OnResponse(HttpFlow flow, long sequence, HttpMessage response)
    {
        Assert.False(response.IsRequest);
        response = Kept(response);
        Responses.Add((sequence, response));
        Events.Add(("response", flow, sequence, response, null));
    }

    public void OnExchange(HttpExchange exchange)
    {
        Assert.True(exchange.Request is not null || exchange.Response is not null);
        StillHolds(exchange.Request);
        StillHolds(exchange.Response);
        exchange = new HttpExchange
        {
            Flow = exchange.Flow,
            Sequence = exchange.Sequence,
            Request = exchange.Request is null ? null : Kept(exchange.Request),
            Response = exchange.Response is null ? null : Kept(exchange.Response),
        };
        Exchanges.Add(exchange);
        Events.Add(("exchange", exchange.Flow, exchange.Sequence, null, exchange));
    }

    public List<WebSocketEvent> WebSockets { get; } = new();

    public void OnWebSocket(WebSocketEvent frame)
    {
        WebSockets.Add(frame);
        Events.Add(("websocket", frame.Flow, frame.Sequence, null, null));
    }

    /// <summary>A message's body is valid until its exchange is delivered: still what it was when first seen.</summary>
    private void StillHolds(HttpMessage? message)
    {
        if (message is not null && _kept.TryGetValue(message, out var kept))
        {
            Assert.True(message.Body.Span.SequenceEqual(kept.Body.Span), "a body changed before its exchange was delivered");
        }
    }

    private HttpMessage Kept(HttpMessage message)
    {
        if (!_kept.TryGetValue(message, out var kept))
        {
            kept = message.Keep();
            _kept.Add(message, kept);
        }

        return kept;
    }

    /// <summary>The kinds and sequences of the events, e.g. "request#1 response#1 exchange#1".</summary>
    public string Trace => string.Join(" ", Events.Select(e => e.Kind + "#" + e.Sequence));
}

/// <summary>Records every <see cref="ICaptureSink"/> call, copying chunk data (it is only valid during the call).</summary>
internal sealed class RecordingCaptureSink : ICaptureSink
{
    public List<object> Events { get; } = new();

    public int Flushes { get; private set; }

    public int Disposals { get; private set; }

    public IEnumerable<DataChunk> Chunks => Events.OfType<DataChunk>();

    public IEnumerable<StreamGap> Gaps => Events.OfType<StreamGap>();

    public IEnumerable<ConnectionClosed> Closes => Events.OfType<ConnectionClosed>();

    public void OnData(DataChunk chunk) => Events.Add(chunk with { Data = chunk.Data.ToArray() });

    public void OnGap(StreamGap gap) => Events.Add(gap);

    public void OnClose(ConnectionClosed closed) => Events.Add(closed);

    public void Flush() => Flushes++;

    public void Dispose() => Disposals++;

    /// <summary>The concatenated bytes of the forwarded chunks of one direction.</summary>
    public byte[] BytesOf(ulong connection, Direction direction) =>
        Chunks.Where(c => c.Connection == connection && c.Direction == direction).SelectMany(c => c.Data.ToArray()).ToArray();
}

/// <summary>
/// Feeds one connection's events to a tracker, keeping each direction's stream offset and a clock.
/// Writes carry StartUnixNs = clock and TimeUnixNs = clock + <see cref="WriteDuration"/>; reads the
/// opposite (StartUnixNs = clock - <see cref="ReadWait"/>), so a test can tell which one was used.
/// </summary>
internal sealed class ConnectionFeeder
{
    public const long WriteDuration = 700;
    public const long ReadWait = 300;

    public static readonly ProcessInfo Client = new(4242, 4243, 1000, "client");

    public static readonly ConnectionAddress Address = new(
        new IPEndPoint(IPAddress.Loopback, 50000),
        new IPEndPoint(IPAddress.Parse("10.0.0.2"), 443));

    private readonly long[] _offset = new long[2];

    public ConnectionFeeder(ICaptureSink target, ulong connection = 7)
    {
        Target = target;
        Connection = connection;
    }

    public ICaptureSink Target { get; }

    public ulong Connection { get; }

    public ProcessInfo Process { get; set; } = Client;

    public ConnectionAddress ChunkAddress { get; set; } = Address;

    public int Fd { get; set; } = 9;

    /// <summary>The clock of the next event, in Unix ns.</summary>
    public long Clock { get; set; } = 1_800_000_000_000_000_000;

    /// <summary>How much the clock advances after each event.</summary>
    public long Step { get; set; } = 1_000_000;

    public List<object> Fed { get; } = new();

    public long OffsetOf(Direction direction) => _offset[(int)direction];

    public DataChunk Make(Direction direction, byte[] data, bool truncated = false, long dropped = 0)
    {
        long time = direction == Direction.Write ? Clock + WriteDuration : Clock;
        long start = direction == Direction.Write ? Clock : Clock - ReadWait;
        var chunk = new DataChunk(
            time, start, Connection, direction, Process, Fd, ChunkAddress, "libssl.so.3",
            _offset[(int)direction], data, truncated, dropped);
        _offset[(int)direction] += data.Length + dropped;
        Clock += Step;
        return chunk;
    }

    public DataChunk Write(string text) => Send(Direction.Write, Latin1(text));

    public DataChunk Read(string text) => Send(Direction.Read, Latin1(text));

    public DataChunk Write(byte[] data) => Send(Direction.Write, data);

    public DataChunk Read(byte[] data) => Send(Direction.Read, data);

    public DataChunk Send(Direction direction, byte[] data, bool truncated = false, long dropped = 0)
    {
        var chunk = Make(direction, data, truncated, dropped);
        Fed.Add(chunk);
        Target.OnData(chunk);
        return chunk;
    }

    /// <summary>Feeds the bytes as chunks of the given sizes (the last one takes the rest).</summary>
    public void SendInPieces(Direction direction, byte[] data, params int[] sizes)
    {
        int pos = 0;
        foreach (int size in sizes)
        {
            int n = Math.Min(size, data.Length - pos);
            Send(direction, data[pos..(pos + n)]);
            pos += n;
        }

        if (pos < data.Length)
        {
            Send(direction, data[pos..]);
        }
    }

    public StreamGap Gap(Direction direction, long length)
    {
        var gap = new StreamGap(Clock, Connection, direction, Process, _offset[(int)direction], length, "test loss");
        _offset[(int)direction] += length;
        Clock += Step;
        Fed.Add(gap);
        Target.OnGap(gap);
        return gap;
    }

    public ConnectionClosed Close()
    {
        var closed = new ConnectionClosed(Clock, Connection, Process.Pid, _offset[(int)Direction.Read], _offset[(int)Direction.Write]);
        Fed.Add(closed);
        Target.OnClose(closed);
        return closed;
    }

    public static byte[] Latin1(string text) => Encoding.Latin1.GetBytes(text);
}

/// <summary>
/// A minimal HPACK encoder for tests: indexed fields from a few static entries or the dynamic table,
/// otherwise literals with incremental indexing and a new (raw, non-Huffman) name. Tracks the
/// dynamic table (4096 octets, evicting oldest) the way the peer's decoder will.
/// </summary>
internal sealed class HpackWriter
{
    private static readonly (string Name, string Value)[] Static =
    [
        (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"), (":path", "/index.html"),
        (":scheme", "http"), (":scheme", "https"), (":status", "200"), (":status", "204"), (":status", "206"),
        (":status", "304"), (":status", "400"), (":status", "404"), (":status", "500"),
    ];

    private readonly List<(string Name, string Value)> _table = new(); // newest first
    private int _size;

    public int IndexedCount { get; private set; }

    public int LiteralCount { get; private set; }

    /// <summary>Fields sent as an index into the dynamic table.</summary>
    public int DynamicHits { get; private set; }

    public IReadOnlyList<(string Name, string Value)> Table => _table;

    public byte[] Encode(params (string Name, string Value)[] fields) => Encode(fields, indexNew: true);

    /// <param name="indexNew">Add literals to the dynamic table (incremental indexing) or not (without indexing).</param>
    public byte[] Encode(IEnumerable<(string Name, string Value)> fields, bool indexNew)
    {
        var b = new List<byte>();
        foreach (var field in fields)
        {
            int index = Array.IndexOf(Static, field) + 1;
            if (index == 0)
            {
                int dynamic = _table.IndexOf(field);
                index = dynamic < 0 ? 0 : 62 + dynamic;
                DynamicHits += dynamic < 0 ? 0 : 1;
            }

            if (index > 0)
            {
                WriteInteger(b, 0x80, 7, index);
                IndexedCount++;
                continue;
            }

            LiteralCount++;
            b.Add(indexNew ? (byte)0x40 : (byte)0x00);
            WriteString(b, field.Name);
            WriteString(b, field.Value);
            if (indexNew)
            {
                _table.Insert(0, field);
                _size += field.Name.Length + field.Value.Length + 32;
                while (_size > 4096)
                {
                    var last = _table[^1];
                    _table.RemoveAt(_table.Count - 1);
                    _size -= last.Name.Length + last.Value.Length + 32;
                }
            }
        }

        return b.ToArray();
    }

    private static void WriteString(List<byte> b, string s)
    {
        byte[] raw = Encoding.ASCII.GetBytes(s);
        WriteInteger(b, 0x00, 7, raw.Length);
        b.AddRange(raw);
    }

    private static void WriteInteger(List<byte> b, byte first, int prefixBits, int value)
    {
        int max = (1 << prefixBits) - 1;
        if (value < max)
        {
            b.Add((byte)(first | value));
            return;
        }

        b.Add((byte)(first | max));
        value -= max;
        while (value >= 128)
        {
            b.Add((byte)((value % 128) + 128));
            value /= 128;
        }

        b.Add((byte)value);
    }
}

/// <summary>Stable renderings of HTTP events, to compare runs.</summary>
internal static class Describe
{
    public static string Exchange(HttpExchange e, bool timing = false) =>
        $"#{e.Sequence} v={e.Version} s={e.Stream}\n  req: {Message(e.Request, timing)}\n  resp: {Message(e.Response, timing)}" +
        (timing ? $"\n  ttfb={e.TimeToFirstByteNs} total={e.TotalNs}" : "");

    public static string Message(HttpMessage? m, bool timing = false)
    {
        if (m is null)
        {
            return "null";
        }

        var sb = new StringBuilder();
        sb.Append(m.IsRequest ? "REQ " : "RESP ").Append(m.Version).Append(' ').Append(m.Method).Append(' ').Append(m.Url)
            .Append(' ').Append(m.Status).Append(' ').Append(m.Reason)
            .Append(" complete=").Append(m.Complete).Append(" note=").Append(m.Note)
            .Append(" wire=").Append(m.WireBytes).Append(" hdr=").Append(m.HeaderBytes)
            .Append(" bodywire=").Append(m.BodyWireBytes).Append(" dec=").Append(m.BodyDecoded)
            .Append(" trunc=").Append(m.BodyTruncated).Append(" up=").Append(m.UpgradedTo)
            .Append(" body=").Append(Convert.ToHexString(m.Body.Span));
        if (m.Grpc is { } grpc)
        {
            sb.Append(" grpc=").Append(string.Join(",", grpc.Select(g => $"{g.Compressed}:{g.Length}")));
        }

        foreach (var (n, v) in m.Headers)
        {
            sb.Append(" |h ").Append(n).Append('=').Append(v);
        }

        foreach (var (n, v) in m.Trailers)
        {
            sb.Append(" |t ").Append(n).Append('=').Append(v);
        }

        if (timing)
        {
            sb.Append(" first=").Append(m.FirstByteNs).Append(" last=").Append(m.LastByteNs);
        }

        return sb.ToString();
    }
}
