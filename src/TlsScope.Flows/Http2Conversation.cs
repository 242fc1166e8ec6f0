using TlsScope.Capture.Model;
using TlsScope.Protocols.Http2;

namespace TlsScope.Flows;

/// <summary>
/// HTTP/2: one <see cref="Http2Connection"/> for the connection's whole life (HPACK tables persist
/// across requests); requests and responses pair by stream id, whichever completes first.
/// </summary>
internal sealed class Http2Conversation : Conversation
{
    private readonly Http2Connection _connection;
    private readonly Dictionary<int, Half> _open = new();

    // Sequence numbers taken when a request's first HEADERS frame arrives, so that numbers follow
    // the order requests started rather than the order their first half completed.
    private readonly Dictionary<int, long> _started = new();
    private int _highestClientStream;

    public Http2Conversation(HttpFlow flow, IHttpSink sink, FlowOptions options)
        : base(flow, sink, options)
    {
        _connection = new Http2Connection(options.MaxBodyBytes);
        _connection.RequestCompleted += m => OnMessage(m, MessageBuilder.FromHttp2(m, Flow, Options));
        _connection.ResponseCompleted += m => OnMessage(m, MessageBuilder.FromHttp2(m, Flow, Options));
        _connection.ClientToServer.FrameReceived += OnClientFrame;
        _connection.ClientToServer.StreamReset += (stream, _) => OnReset(stream);
        _connection.ServerToClient.StreamReset += (stream, _) => OnReset(stream);
    }

    public override void Feed(DataChunk chunk, bool clientToServer, Action<DataChunk> raw)
    {
        _connection.Clock = ClockOf(chunk);
        _connection.Feed(clientToServer ? Http2Role.ClientToServer : Http2Role.ServerToClient, chunk.Data.Span);
        if (_connection.ClientToServer.Failed || _connection.ServerToClient.Failed)
        {
            // Not HTTP/2 after all (no client preface, or framing broke): show this chunk and the rest raw.
            Upgraded = true;
            raw(chunk);
        }
    }

    public override void Gap(bool clientToServer, long length) =>
        _connection.Gap(clientToServer ? Http2Role.ClientToServer : Http2Role.ServerToClient, length);

    public override void End()
    {
        _connection.End();
        foreach (var (_, half) in _open.OrderBy(kv => kv.Value.Sequence))
        {
            Emit(half.Sequence, half.Request, half.Response);
        }

        _open.Clear();
    }

    private void OnMessage(Http2Message parsed, HttpMessage view)
    {
        if (!_open.TryGetValue(parsed.StreamId, out var half))
        {
            if (_open.Count >= Http2Connection.MaxTrackedStreams)
            {
                // A half whose other side never came (its frames were lost): report it rather than grow.
                var (oldest, stale) = _open.MinBy(kv => kv.Value.Sequence);
                _open.Remove(oldest);
                Emit(stale.Sequence, stale.Request, stale.Response);
            }

            half = new Half(_started.Remove(parsed.StreamId, out long sequence) ? sequence : NextSequence++);
            _open[parsed.StreamId] = half;
        }

        if (view.IsRequest)
        {
            half.Request = view;
            Sink.OnRequest(Flow, half.Sequence, view);
        }
        else
        {
            half.Response = view;
            Sink.OnResponse(Flow, half.Sequence, view);
        }

        if (half.Request is not null && half.Response is not null)
        {
            _open.Remove(parsed.StreamId);
            Emit(half.Sequence, half.Request, half.Response);
        }
    }

    /// <summary>
    /// Raised before the frame is dispatched. A client opens streams in increasing id order
    /// (RFC 9113 Section 5.1.1): a HEADERS frame on a new highest odd id starts a request.
    /// </summary>
    private void OnClientFrame(int stream, byte type, int length)
    {
        if (type != Http2FrameType.Headers || (stream & 1) == 0 || stream <= _highestClientStream)
        {
            return;
        }

        _highestClientStream = stream;
        if (_open.ContainsKey(stream))
        {
            return;
        }

        if (_started.Count >= Http2Connection.MaxTrackedStreams)
        {
            // Streams the connection ignored (too many open at once): forget the oldest.
            _started.Remove(_started.Keys.Min());
        }

        _started[stream] = NextSequence++;
    }

    /// <summary>
    /// Runs after the connection delivered the reset stream's halves: no other half will come, so
    /// the exchange is reported now rather than when the connection ends.
    /// </summary>
    private void OnReset(int stream)
    {
        _started.Remove(stream);
        if (_open.Remove(stream, out var half))
        {
            Emit(half.Sequence, half.Request, half.Response);
        }
    }

    private sealed class Half(long sequence)
    {
        public long Sequence { get; } = sequence;

        public HttpMessage? Request { get; set; }

        public HttpMessage? Response { get; set; }
    }
}
