using TlsScope.Protocols.Http1;
using TlsScope.Protocols.WebSocket;
using TlsScope.Engine.Model;

namespace TlsScope.Flows;

/// <summary>
/// HTTP/1.x: responses answer requests in order (pipelining included). A request is queued as soon
/// as its headers are parsed, so the response parser knows the method (HEAD, CONNECT) and an early
/// response (before the request body ended) still finds its request. After a 101 to "websocket"
/// the bytes go to two WebSocket frame parsers; after any other switch (a CONNECT tunnel, h2c, ...)
/// the connection is <see cref="Conversation.Upgraded"/> and shown raw.
/// A response may come before its request: the chunks come in the order the calls returned, and a
/// program that reads on another thread (Go's client reads on a goroutine of its own) can have
/// the response back before the writing call returns. Such a response is held, and answers the
/// next request if that request's header section was handed over before the response was read;
/// otherwise (its request was sent before the capture started) it is shown alone.
/// </summary>
internal sealed class Http1Conversation : Conversation
{
    private readonly Http1StreamParser _requests;
    private readonly Http1StreamParser _responses;
    private readonly Queue<Pending> _awaitingResponse = new();
    private readonly Queue<HttpMessage> _early = new(); // responses that came before any request
    private readonly UrlMemo _urls = new();
    private Pending? _requestInProgress;
    private DataChunk? _current;
    private Action<DataChunk>? _raw;
    private WebSocketFrameParser? _wsFromClient;
    private WebSocketFrameParser? _wsFromServer;
    private long _upgradeSequence;
    private long _nextSequence = 1;

    /// <param name="strings">The tracker's field strings, shared by all its connections.</param>
    public Http1Conversation(HttpFlow flow, IHttpSink sink, FlowOptions options, FieldStrings strings)
        : base(flow, sink, options)
    {
        _requests = new Http1StreamParser(Http1Role.Request, maxBodyBytes: options.MaxBodyBytes, strings: strings);
        _responses = new Http1StreamParser(Http1Role.Response, maxBodyBytes: options.MaxBodyBytes, strings: strings);
        _requests.HeadersParsed += OnRequestHeaders;
        _requests.MessageParsed += OnRequest;
        _responses.MessageParsed += OnResponse;
        _requests.OpaqueData += bytes => ForwardOpaque(bytes, fromClient: true);
        _responses.OpaqueData += bytes => ForwardOpaque(bytes, fromClient: false);
    }

    public override void Feed(DataChunk chunk, bool clientToServer, Action<DataChunk> raw)
    {
        _current = chunk;
        _raw = raw;
        if (_wsFromClient is not null)
        {
            FeedWebSocket(chunk.Data.Span, clientToServer);
            _current = null;
            return;
        }

        var parser = clientToServer ? _requests : _responses;
        parser.Clock = ClockOf(chunk);
        parser.Feed(chunk.Data.Span);
        _current = null;
    }

    public override void Gap(bool clientToServer, long length)
    {
        if (_wsFromClient is not null)
        {
            (clientToServer ? _wsFromClient : _wsFromServer)!.Gap(length);
            return;
        }

        (clientToServer ? _requests : _responses).Gap(length);
    }

    public override void End()
    {
        _requests.End();
        _responses.End();
        _wsFromClient?.End();
        _wsFromServer?.End();
        while (_early.TryDequeue(out var early))
        {
            EmitAlone(early);
        }

        foreach (var pending in _awaitingResponse)
        {
            if (pending.Request is not null)
            {
                Emit(pending.Sequence, pending.Request, null);
            }
        }

        _awaitingResponse.Clear();
    }

    private void OnRequestHeaders(Http1Message m)
    {
        // A held response read before this request's header section was handed over (the chunk
        // that completed it) cannot be its answer: a server answers whole request heads.
        while (_early.TryPeek(out var early) && early.LastByteNs < _requests.Clock)
        {
            EmitAlone(_early.Dequeue());
        }

        _requestInProgress = new Pending(m, _nextSequence++);
        if (_early.TryDequeue(out var answer))
        {
            _requestInProgress.Response = answer;
            _requestInProgress.ResponseHeld = true;
            return;
        }

        _awaitingResponse.Enqueue(_requestInProgress);
        _responses.ExpectResponseTo(m.Method ?? "");
    }

    /// <summary>A response with no request: sent before the capture started.</summary>
    private void EmitAlone(HttpMessage response)
    {
        long sequence = _nextSequence++;
        Sink.OnResponse(Flow, sequence, response);
        Emit(sequence, null, response);
    }

    private void OnRequest(Http1Message m)
    {
        var view = MessageBuilder.FromHttp1(m, Flow, Options, _urls);
        var pending = _requestInProgress;
        _requestInProgress = null;
        if (pending is null || !ReferenceEquals(pending.Parsed, m))
        {
            // Cut short inside its header section: no response can be matched to it.
            long sequence = _nextSequence++;
            Sink.OnRequest(Flow, sequence, view);
            Emit(sequence, view, null);
            return;
        }

        pending.Request = view;
        Sink.OnRequest(Flow, pending.Sequence, view);
        if (pending.Response is not null)
        {
            if (pending.ResponseHeld)
            {
                Sink.OnResponse(Flow, pending.Sequence, pending.Response);
            }

            Emit(pending.Sequence, view, pending.Response);
        }
    }

    private void OnResponse(Http1Message m)
    {
        if (m.StatusCode is >= 100 and < 200 && m.StatusCode != 101)
        {
            return; // interim (100 Continue, 103 Early Hints): the final response follows
        }

        var view = MessageBuilder.FromHttp1(m, Flow, Options, _urls);
        if (!_awaitingResponse.TryDequeue(out var pending))
        {
            if (m.UpgradedTo is null)
            {
                _early.Enqueue(view); // its request may still come (see the class summary)
                return;
            }

            // An upgrade switches the parsers now: shown alone at once.
            EmitAlone(view);
        }
        else
        {
            Sink.OnResponse(Flow, pending.Sequence, view);
            if (pending.Request is not null)
            {
                Emit(pending.Sequence, pending.Request, view);
            }
            else
            {
                pending.Response = view; // the request's body is still being sent
            }
        }

        if (m.UpgradedTo is not null)
        {
            _requests.SwitchToOpaque(m.UpgradedTo);
            if (m.StatusCode == 101 && m.UpgradedTo.Equals("websocket", StringComparison.OrdinalIgnoreCase))
            {
                _upgradeSequence = pending?.Sequence ?? _nextSequence - 1;
                _wsFromClient = NewWebSocketParser(fromClient: true);
                _wsFromServer = NewWebSocketParser(fromClient: false);
            }
            else
            {
                Upgraded = true;
            }
        }
    }

    private WebSocketFrameParser NewWebSocketParser(bool fromClient)
    {
        var parser = new WebSocketFrameParser(Options.MaxBodyBytes);
        parser.FrameParsed += frame => Sink.OnWebSocket(new WebSocketEvent(Flow, _upgradeSequence, fromClient, Flow.Process, frame));
        return parser;
    }

    private void FeedWebSocket(ReadOnlySpan<byte> bytes, bool fromClient)
    {
        var parser = (fromClient ? _wsFromClient : _wsFromServer)!;
        parser.Clock = _current is { } chunk ? ClockOf(chunk) : parser.Clock;
        parser.Feed(bytes);
    }

    private void ForwardOpaque(byte[] bytes, bool fromClient)
    {
        if (_wsFromClient is not null)
        {
            FeedWebSocket(bytes, fromClient); // frames in the same chunk as the 101 (or the upgrade request)
            return;
        }

        if (_current is { } chunk && _raw is not null)
        {
            _raw(chunk with
            {
                Data = bytes,
                StreamOffset = chunk.StreamOffset + chunk.Data.Length - bytes.Length,
            });
        }
    }

    private sealed class Pending(Http1Message parsed, long sequence)
    {
        public Http1Message Parsed { get; } = parsed;

        public long Sequence { get; } = sequence;

        public HttpMessage? Request { get; set; }

        public HttpMessage? Response { get; set; }

        /// <summary>The response came first and was held: the sink has not seen it yet.</summary>
        public bool ResponseHeld { get; set; }
    }
}
