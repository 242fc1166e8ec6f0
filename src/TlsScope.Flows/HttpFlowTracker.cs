using TlsScope.Protocols.Http1;
using TlsScope.Engine.Model;


namespace TlsScope.Flows;

/// <summary>
/// Sits between the capture and the sinks. Each connection is recognised from its first bytes:
/// HTTP/1.x and HTTP/2 connections become <see cref="IHttpSink"/> events, anything else passes
/// through as chunks. Gaps and closes always pass through, so loss stays visible. Bounded: a
/// connection is sniffed on at most <see cref="ProtocolSniffer.MaxBytes"/> bytes per direction,
/// and at most <see cref="MaxConnections"/> connections are tracked (the idlest are ended first).
/// </summary>
public sealed class HttpFlowTracker : ICaptureSink
{
    public const int MaxConnections = 16384;

    /// <summary>Events held per connection while its protocol is unknown (data is held for at most 24 bytes per direction).</summary>
    public const int MaxHeldWhileSniffing = 64;

    private readonly ICaptureSink _chunks;
    private readonly IHttpSink _http;
    private readonly FlowOptions _options;
    private readonly Dictionary<ulong, Tracked> _connections = new();
    private readonly Action<DataChunk> _forwardRaw;

    /// <summary>HTTP/1 field strings shared by every connection: connections to one service repeat each other's fields.</summary>
    private readonly FieldStrings _fieldStrings = new(4096);
    private long _tick;

    public HttpFlowTracker(ICaptureSink chunks, IHttpSink http, FlowOptions options)
    {
        _chunks = chunks;
        _http = new CountingSink(http, this);
        _options = options;
        _forwardRaw = chunks.OnData;
    }

    /// <summary>Connections recognised as HTTP so far.</summary>
    public long HttpConnections { get; private set; }

    /// <summary>Exchanges delivered so far.</summary>
    public long Exchanges { get; private set; }

    public void OnData(DataChunk chunk)
    {
        var tracked = Get(chunk.Connection);
        switch (tracked.Mode)
        {
            case Mode.Raw:
                _chunks.OnData(chunk);
                return;
            case Mode.Http:
                FeedHttp(tracked, chunk);
                return;
        }

        var sniff = tracked.Sniff(chunk);
        if (sniff == SniffResult.NeedMore)
        {
            tracked.Pending.Add(chunk with { Data = chunk.Data.ToArray() });
            return;
        }

        if (sniff == SniffResult.Other)
        {
            tracked.Mode = Mode.Raw;
            Replay(tracked);
            _chunks.OnData(chunk);
            return;
        }

        StartHttp(tracked, chunk, sniff);
        Replay(tracked);
        if (tracked.Mode == Mode.Http)
        {
            FeedHttp(tracked, chunk);
        }
        else
        {
            _chunks.OnData(chunk); // upgraded inside the held bytes
        }
    }

    public void OnGap(StreamGap gap)
    {
        if (!_connections.TryGetValue(gap.Connection, out var tracked))
        {
            _chunks.OnGap(gap);
            return;
        }

        tracked.LastTick = ++_tick;
        switch (tracked.Mode)
        {
            case Mode.Sniffing when tracked.Pending.Count < MaxHeldWhileSniffing:
                tracked.Pending.Add(gap);
                return;
            case Mode.Sniffing:
                // Only gaps, no bytes to recognise: give up on HTTP for this connection.
                tracked.Mode = Mode.Raw;
                Replay(tracked);
                _chunks.OnGap(gap);
                return;
            case Mode.Http:
                _chunks.OnGap(gap);
                tracked.Conversation!.Gap(gap.Direction == tracked.ClientToServer, gap.Length);
                return;
            default:
                _chunks.OnGap(gap);
                return;
        }
    }

    public void OnClose(ConnectionClosed closed)
    {
        if (_connections.Remove(closed.Connection, out var tracked))
        {
            Finish(tracked);
        }

        _chunks.OnClose(closed);
    }

    public void Flush() => _chunks.Flush();

    /// <summary>
    /// Ends every connection still open, delivering its unfinished exchanges, and flushes. The sinks
    /// stay open: they belong to whoever created them.
    /// </summary>
    public void Dispose()
    {
        foreach (var tracked in _connections.Values.OrderBy(t => t.LastTick))
        {
            Finish(tracked);
        }

        _connections.Clear();
        _chunks.Flush();
    }

    private Tracked Get(ulong connection)
    {
        if (!_connections.TryGetValue(connection, out var tracked))
        {
            if (_connections.Count >= MaxConnections)
            {
                EvictIdlest();
            }

            tracked = new Tracked();
            _connections[connection] = tracked;
        }

        tracked.LastTick = ++_tick;
        return tracked;
    }

    private void EvictIdlest()
    {
        // Connections whose close was never seen (the process died): end the idlest quarter at once,
        // so eviction costs O(n log n) per n/4 new connections rather than per connection.
        foreach (var (id, tracked) in _connections.OrderBy(kv => kv.Value.LastTick).Take(MaxConnections / 4).ToList())
        {
            _connections.Remove(id);
            Finish(tracked);
        }
    }

    private void StartHttp(Tracked tracked, DataChunk chunk, SniffResult sniff)
    {
        // The sniffed direction is client-to-server for a request line or the client preface, the other
        // one for a status line or the server's SETTINGS.
        bool serverToClient = sniff is SniffResult.Http1Response or SniffResult.Http2ServerPreface;
        tracked.ClientToServer = serverToClient
            ? (chunk.Direction == Direction.Read ? Direction.Write : Direction.Read)
            : chunk.Direction;
        bool http2 = sniff is SniffResult.Http2Preface or SniffResult.Http2ServerPreface;
        var flow = new HttpFlow
        {
            Connection = chunk.Connection,
            Side = tracked.ClientToServer == Direction.Write ? FlowSide.Client : FlowSide.Server,
            Library = chunk.Library,
            Fd = chunk.Fd,
            Address = chunk.Address,
            Process = chunk.Process,
        };
        tracked.Conversation = http2
            ? new Http2Conversation(flow, _http, _options)
            : new Http1Conversation(flow, _http, _options, _fieldStrings);
        tracked.Mode = Mode.Http;
        HttpConnections++;
    }

    private void FeedHttp(Tracked tracked, DataChunk chunk)
    {
        var conversation = tracked.Conversation!;
        var flow = conversation.Flow;
        flow.Process = chunk.Process;
        flow.Fd = chunk.Fd;
        if (chunk.Address.IsKnown)
        {
            flow.Address = chunk.Address;
        }

        bool clientToServer = chunk.Direction == tracked.ClientToServer;
        conversation.Feed(chunk, clientToServer, _forwardRaw);
        if (conversation.Upgraded)
        {
            tracked.Mode = Mode.Raw; // a tunnel or an unknown protocol: later bytes are shown as chunks
        }
        else if (chunk.Truncated && chunk.DroppedBytes > 0)
        {
            // --max-payload cut the call: its dropped bytes follow in the stream but no gap says so.
            conversation.Gap(clientToServer, chunk.DroppedBytes);
        }
    }

    /// <summary>Delivers the events held while sniffing, in their order, as the connection's mode now says (an upgrade inside them switches it to raw).</summary>
    private void Replay(Tracked tracked)
    {
        foreach (object held in tracked.Pending)
        {
            switch (held)
            {
                case DataChunk chunk when tracked.Mode == Mode.Http:
                    FeedHttp(tracked, chunk);
                    break;
                case DataChunk chunk:
                    _chunks.OnData(chunk);
                    break;
                case StreamGap gap:
                    _chunks.OnGap(gap);
                    if (tracked.Mode == Mode.Http)
                    {
                        tracked.Conversation!.Gap(gap.Direction == tracked.ClientToServer, gap.Length);
                    }

                    break;
            }
        }

        tracked.Pending.Clear();
    }

    private void Finish(Tracked tracked)
    {
        if (tracked.Mode == Mode.Sniffing)
        {
            Replay(tracked);
        }

        tracked.Conversation?.End();
    }

    /// <summary>Counts exchanges on their way to the sinks.</summary>
    private sealed class CountingSink(IHttpSink inner, HttpFlowTracker owner) : IHttpSink
    {
        public void OnRequest(HttpFlow flow, long sequence, HttpMessage request) => inner.OnRequest(flow, sequence, request);

        public void OnResponse(HttpFlow flow, long sequence, HttpMessage response) => inner.OnResponse(flow, sequence, response);

        public void OnExchange(HttpExchange exchange)
        {
            owner.Exchanges++;
            inner.OnExchange(exchange);
        }

        public void OnWebSocket(WebSocketEvent frame) => inner.OnWebSocket(frame);
    }

    private enum Mode
    {
        Sniffing,
        Http,
        Raw,
    }

    private sealed class Tracked
    {
        private readonly byte[][] _head = [new byte[ProtocolSniffer.MaxBytes], new byte[ProtocolSniffer.MaxBytes]];
        private readonly int[] _headLength = new int[2];

        public Mode Mode { get; set; }

        public Direction ClientToServer { get; set; }

        public Conversation? Conversation { get; set; }

        public List<object> Pending { get; } = new();

        public long LastTick { get; set; }

        /// <summary>Adds the chunk's first bytes to its direction's head and sniffs that head.</summary>
        public SniffResult Sniff(DataChunk chunk)
        {
            int d = (int)chunk.Direction;
            int room = ProtocolSniffer.MaxBytes - _headLength[d];
            var add = chunk.Data.Span[..Math.Min(room, chunk.Data.Length)];
            add.CopyTo(_head[d].AsSpan(_headLength[d]));
            _headLength[d] += add.Length;
            return ProtocolSniffer.Sniff(_head[d].AsSpan(0, _headLength[d]));
        }
    }
}
