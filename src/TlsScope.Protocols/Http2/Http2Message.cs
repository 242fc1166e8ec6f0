using TlsScope.Protocols;
namespace TlsScope.Protocols.Http2;

/// <summary>One HTTP/2 request or response: the messages of one stream in one direction.</summary>
public sealed class Http2Message
{
    private readonly long _maxBodyBytes;
    private BodyBuffer _body;

    internal Http2Message(int streamId, bool isRequest, long maxBodyBytes)
    {
        StreamId = streamId;
        IsRequest = isRequest;
        _maxBodyBytes = maxBodyBytes;
    }

    /// <summary>1, 2, ...: the order in which the connection's streams started (request and response share it).</summary>
    public long Sequence { get; internal init; }

    /// <summary>The stream carrying the message.</summary>
    public int StreamId { get; }

    /// <summary>True for a request (client to server, or a server push's promised request).</summary>
    public bool IsRequest { get; }

    /// <summary>True for a request promised by the server with PUSH_PROMISE.</summary>
    public bool IsPushed { get; internal set; }

    /// <summary>Header fields in wire order, pseudo-headers (:method, :path, :scheme, :authority, :status) included.</summary>
    public List<(string Name, string Value)> Headers { get; } = new();

    /// <summary>Informational (1xx) response header sections that preceded the final one.</summary>
    public List<List<(string Name, string Value)>> InformationalHeaders { get; } = new();

    /// <summary>Trailer fields (a HEADERS block after the header section), or null when there were none.</summary>
    public List<(string Name, string Value)>? Trailers { get; internal set; }

    /// <summary>The concatenated DATA payloads (padding removed), up to the body cap.</summary>
    public ReadOnlyMemory<byte> Body => _body.Bytes;

    /// <summary>
    /// Hands the body over (once the message is delivered): <see cref="Body"/> reads empty after.
    /// The taker may return the lease once its last reader is done, so another message reuses the
    /// array; a lease never returned is only garbage.
    /// </summary>
    public BodyLease TakeBodyLease() => _body.Detach();

    /// <summary>Body octets seen on the wire, including those beyond the cap.</summary>
    public long BodyLength { get; private set; }

    /// <summary>True when the body exceeded the cap and <see cref="Body"/> holds only its start.</summary>
    public bool BodyTruncated { get; private set; }

    /// <summary>True when END_STREAM was seen.</summary>
    public bool Complete { get; internal set; }

    /// <summary>True when the stream was reset (RST_STREAM in either direction).</summary>
    public bool Reset { get; internal set; }

    /// <summary>The RST_STREAM error code, when <see cref="Reset"/>.</summary>
    public uint? ResetErrorCode { get; internal set; }

    /// <summary>True when a header block of this message could not be decoded (lost HPACK state).</summary>
    public bool HeadersUndecodable { get; internal set; }

    /// <summary>True when DATA of this message was lost to a capture gap.</summary>
    public bool DataLost { get; internal set; }

    /// <summary>Frame bytes of this message on the wire (HEADERS, CONTINUATION and DATA frames, 9-byte headers included).</summary>
    public long WireBytes { get; internal set; }

    /// <summary><see cref="Http2Connection.Clock"/> when the message's first frame arrived.</summary>
    public long FirstFrameClock { get; internal set; }

    /// <summary><see cref="Http2Connection.Clock"/> when the message's last frame arrived.</summary>
    public long LastFrameClock { get; internal set; }

    internal bool HeadersSeen { get; set; }

    internal bool Delivered { get; set; }

    /// <summary>The :method pseudo-header.</summary>
    public string? Method => GetHeader(":method");

    /// <summary>The :path pseudo-header.</summary>
    public string? Path => GetHeader(":path");

    /// <summary>The :authority pseudo-header.</summary>
    public string? Authority => GetHeader(":authority");

    /// <summary>The :scheme pseudo-header.</summary>
    public string? Scheme => GetHeader(":scheme");

    /// <summary>The :status pseudo-header.</summary>
    public string? Status => GetHeader(":status");

    /// <summary>The content-type header.</summary>
    public string? ContentType => GetHeader("content-type");

    /// <summary>True when the content-type names gRPC.</summary>
    public bool IsGrpc => GrpcMessages.IsGrpcContentType(ContentType);

    /// <summary>The first header field with this name (case-insensitive), or null.</summary>
    public string? GetHeader(string name) => Headers.Get(name);

    /// <summary>gRPC messages of the body, when <see cref="IsGrpc"/> and the (untruncated) body parses.</summary>
    public bool TryGetGrpcMessages(out List<(bool Compressed, int Length)> messages)
    {
        if (!IsGrpc || BodyTruncated)
        {
            messages = new List<(bool Compressed, int Length)>();
            return false;
        }

        return GrpcMessages.TryParse(Body.Span, out messages);
    }

    internal void AppendBody(ReadOnlySpan<byte> data)
    {
        BodyLength += data.Length;
        long stored = _body.Length;
        long room = Math.Min(_maxBodyBytes, int.MaxValue) - stored;
        if (data.Length > room)
        {
            BodyTruncated = true;
            data = data[..(int)Math.Max(0, room)];
        }

        _body.Append(data);
    }

    /// <inheritdoc/>
    public override string ToString() => IsRequest
        ? $"stream {StreamId} {Method} {Path}"
        : $"stream {StreamId} {Status}";
}
