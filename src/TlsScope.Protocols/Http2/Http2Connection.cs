using TlsScope.Protocols.Hpack;

namespace TlsScope.Protocols.Http2;

/// <summary>
/// One HTTP/2 connection as seen by an observer: two <see cref="Http2DirectionParser"/>s with their HPACK
/// decoders, SETTINGS_HEADER_TABLE_SIZE wired from each direction to the decoder of the other, and the
/// per-stream assembly of requests and responses. Never throws on input; the number of streams tracked at
/// once is capped at <see cref="MaxTrackedStreams"/> and bodies at the cap given to the constructor.
/// </summary>
public sealed class Http2Connection
{
    /// <summary>Streams tracked at once; frames of further new streams are ignored (and reported once).</summary>
    public const int MaxTrackedStreams = 4096;

    /// <summary>Default cap on the body bytes kept per message.</summary>
    public const long DefaultMaxBodyBytes = 64L * 1024 * 1024;

    private readonly Dictionary<int, StreamPair> _streams = new();
    private readonly HashSet<int> _closed = new();
    private readonly Queue<int> _closedOrder = new();
    private readonly long _maxBodyBytes;
    private bool _capReported;
    private long _opened;

    /// <summary>Creates a connection with fresh parsers and decoders.</summary>
    public Http2Connection(long maxBodyBytes = DefaultMaxBodyBytes)
    {
        _maxBodyBytes = Math.Max(0, maxBodyBytes);
        ClientToServer = new Http2DirectionParser(Http2Role.ClientToServer, new HpackDecoder());
        ServerToClient = new Http2DirectionParser(Http2Role.ServerToClient, new HpackDecoder());
        Wire(ClientToServer, ServerToClient);
        Wire(ServerToClient, ClientToServer);
    }

    /// <summary>Raised when a request ends: END_STREAM, reset, or the connection's end (then incomplete).</summary>
    public event Action<Http2Message>? RequestCompleted;

    /// <summary>Raised when a response ends: END_STREAM, reset, or the connection's end (then incomplete).</summary>
    public event Action<Http2Message>? ResponseCompleted;

    /// <summary>
    /// Raised once per stream after its request and response were delivered (both ended, the stream was
    /// reset, or the connection ended): the stream's messages, either possibly null.
    /// </summary>
    public event Action<Http2Message?, Http2Message?>? StreamClosed;

    /// <summary>Raised for a protocol error in either direction.</summary>
    public event Action<Http2Role, string>? ProtocolError;

    /// <summary>Raised for GOAWAY: the direction that sent it, last stream id, error code.</summary>
    public event Action<Http2Role, int, uint>? GoAwayReceived;

    /// <summary>The client to server parser (its decoder decodes request headers).</summary>
    public Http2DirectionParser ClientToServer { get; }

    /// <summary>The server to client parser (its decoder decodes response headers).</summary>
    public Http2DirectionParser ServerToClient { get; }

    /// <summary>
    /// The caller's clock (any unit, e.g. Unix ns) for the bytes about to be fed: messages record it as
    /// their first and last frame times.
    /// </summary>
    public long Clock { get; set; }

    /// <summary>Streams currently tracked (not yet finished in both directions).</summary>
    public int ActiveStreams => _streams.Count;

    /// <summary>Feeds bytes of one direction.</summary>
    public void Feed(Http2Role direction, ReadOnlySpan<byte> data) => Parser(direction).Feed(data);

    /// <summary>Reports lost bytes in one direction.</summary>
    public void Gap(Http2Role direction, long length) => Parser(direction).Gap(length);

    /// <summary>Ends both directions and delivers every unfinished message as incomplete.</summary>
    public void End()
    {
        ClientToServer.End();
        ServerToClient.End();
        foreach (int id in _streams.Keys.Order().ToList())
        {
            var pair = _streams[id];
            Deliver(pair.Request);
            Deliver(pair.Response);
            Close(id);
        }
    }

    private Http2DirectionParser Parser(Http2Role direction) =>
        direction == Http2Role.ClientToServer ? ClientToServer : ServerToClient;

    private void Wire(Http2DirectionParser from, Http2DirectionParser other)
    {
        bool isRequest = from.Role == Http2Role.ClientToServer;
        from.SettingsReceived += (settings, ack) =>
        {
            if (ack)
            {
                return;
            }

            // The sender of SETTINGS is the receiver of the other direction's header blocks.
            foreach (var (id, value) in settings)
            {
                if (id == Http2SettingId.HeaderTableSize)
                {
                    other.Decoder.SetMaxTableSizeLimit((int)Math.Min(value, int.MaxValue));
                }
            }
        };
        from.FrameReceived += (stream, type, length) =>
        {
            if (stream > 0 && type is Http2FrameType.Headers or Http2FrameType.Continuation or Http2FrameType.Data)
            {
                var msg = Get(stream, isRequest);
                if (msg is not null)
                {
                    msg.WireBytes += length;
                    msg.LastFrameClock = Clock;
                }
            }
        };
        from.HeadersDecoded += (stream, headers, endStream) => OnHeaders(stream, isRequest, headers, endStream, undecodable: false);
        from.HeadersUndecodable += (stream, endStream, _) => OnHeaders(stream, isRequest, null, endStream, undecodable: true);
        from.Data += (stream, data, endStream) =>
        {
            var msg = Get(stream, isRequest);
            if (msg is null)
            {
                return;
            }

            msg.AppendBody(data.Span);
            if (endStream)
            {
                Finish(stream, msg);
            }
        };
        from.DataLost += (stream, endStream) =>
        {
            var msg = Get(stream, isRequest);
            if (msg is null)
            {
                return;
            }

            msg.DataLost = true;
            if (endStream)
            {
                Finish(stream, msg);
            }
        };
        from.StreamReset += (stream, code) =>
        {
            if (!_streams.TryGetValue(stream, out var pair))
            {
                return;
            }

            foreach (var msg in new[] { pair.Request, pair.Response })
            {
                if (msg is not null && !msg.Complete)
                {
                    msg.Reset = true;
                    msg.ResetErrorCode = code;
                }
            }

            Deliver(pair.Request);
            Deliver(pair.Response);
            Close(stream);
        };
        from.PushPromise += (stream, promised, headers) =>
        {
            // A pushed request travels server to client but is a request on the promised stream.
            var msg = promised > 0 ? Get(promised, isRequest: true) : null;
            if (msg is null)
            {
                return;
            }

            msg.IsPushed = true;
            msg.HeadersSeen = true;
            if (headers is null)
            {
                msg.HeadersUndecodable = true;
            }
            else
            {
                msg.Headers.AddRange(headers);
            }

            Finish(promised, msg);
        };
        from.GoAway += (last, code) => GoAwayReceived?.Invoke(from.Role, last, code);
        from.ProtocolError += message => ProtocolError?.Invoke(from.Role, message);
    }

    private void OnHeaders(int stream, bool isRequest, List<(string Name, string Value)>? headers, bool endStream, bool undecodable)
    {
        var msg = Get(stream, isRequest);
        if (msg is null)
        {
            return;
        }

        if (undecodable)
        {
            msg.HeadersUndecodable = true;
            msg.HeadersSeen = true;
        }
        else if (!msg.HeadersSeen)
        {
            if (!isRequest && IsInformational(headers!) && !endStream)
            {
                msg.InformationalHeaders.Add(headers!);
            }
            else
            {
                msg.Headers.AddRange(headers!);
                msg.HeadersSeen = true;
            }
        }
        else
        {
            (msg.Trailers ??= new List<(string Name, string Value)>()).AddRange(headers!);
        }

        if (endStream)
        {
            Finish(stream, msg);
        }
    }

    private static bool IsInformational(List<(string Name, string Value)> headers)
    {
        foreach (var (n, v) in headers)
        {
            if (n == ":status")
            {
                return v.Length == 3 && v[0] == '1';
            }
        }

        return false;
    }

    private Http2Message? Get(int stream, bool isRequest)
    {
        if (!_streams.TryGetValue(stream, out var pair))
        {
            if (stream <= 0 || _closed.Contains(stream))
            {
                // Late frames of a finished or reset stream belong to no message.
                return null;
            }

            if (_streams.Count >= MaxTrackedStreams)
            {
                if (!_capReported)
                {
                    _capReported = true;
                    ProtocolError?.Invoke(isRequest ? Http2Role.ClientToServer : Http2Role.ServerToClient,
                        $"more than {MaxTrackedStreams} streams open at once; further streams are ignored");
                }

                return null;
            }

            // Numbered when the stream's first frame arrives: exchanges count in the order they started.
            pair = new StreamPair(++_opened);
            _streams[stream] = pair;
        }

        var msg = isRequest
            ? pair.Request ??= new Http2Message(stream, true, _maxBodyBytes) { FirstFrameClock = Clock, Sequence = pair.Sequence }
            : pair.Response ??= new Http2Message(stream, false, _maxBodyBytes) { FirstFrameClock = Clock, Sequence = pair.Sequence };

        // Frames after a half's END_STREAM (a protocol error) belong to no message either: the
        // delivered one was handed over, its body with it, and is not changed again.
        return msg.Delivered ? null : msg;
    }

    private void Finish(int stream, Http2Message msg)
    {
        msg.Complete = true;
        Deliver(msg);
        if (_streams.TryGetValue(stream, out var pair) &&
            pair.Request is { Delivered: true } && pair.Response is { Delivered: true })
        {
            Close(stream);
        }
    }

    private void Close(int stream)
    {
        if (_streams.Remove(stream, out var pair))
        {
            StreamClosed?.Invoke(pair.Request, pair.Response);
        }

        if (_closed.Add(stream))
        {
            _closedOrder.Enqueue(stream);
            if (_closedOrder.Count > MaxTrackedStreams)
            {
                _closed.Remove(_closedOrder.Dequeue());
            }
        }
    }

    private void Deliver(Http2Message? msg)
    {
        if (msg is null || msg.Delivered)
        {
            return;
        }

        msg.Delivered = true;
        if (msg.IsRequest)
        {
            RequestCompleted?.Invoke(msg);
        }
        else
        {
            ResponseCompleted?.Invoke(msg);
        }
    }

    private sealed class StreamPair(long sequence)
    {
        public long Sequence { get; } = sequence;

        public Http2Message? Request { get; set; }

        public Http2Message? Response { get; set; }
    }
}
