using TlsScope.Protocols;
namespace TlsScope.Protocols.Http1;

/// <summary>Which side of an HTTP/1.x exchange a byte stream carries.</summary>
public enum Http1Role
{
    /// <summary>Client to server: requests.</summary>
    Request,

    /// <summary>Server to client: responses.</summary>
    Response,
}

/// <summary>A protocol error seen by <see cref="Http1StreamParser"/>; parsing resynchronises after it.</summary>
/// <param name="StreamOffset">Offset in the direction's stream (counting gap bytes) where the error was noticed.</param>
/// <param name="Message">Human-readable description.</param>
public sealed record Http1ProtocolError(long StreamOffset, string Message);

/// <summary>One HTTP/1.x request or response as parsed from a byte stream.</summary>
public sealed class Http1Message
{
    private List<(string Name, string Value)>? _trailers;

    /// <param name="role">Request or response.</param>
    /// <param name="expectedHeaders">Room for this many header fields (the previous message's count):
    /// a list that never regrows.</param>
    internal Http1Message(Http1Role role, int expectedHeaders = 0)
    {
        Role = role;
        Headers = new List<(string Name, string Value)>(expectedHeaders);
    }

    /// <summary>Request or response.</summary>
    public Http1Role Role { get; }

    /// <summary>Request method (requests only).</summary>
    public string? Method { get; internal set; }

    /// <summary>Request target (requests only).</summary>
    public string? Target { get; internal set; }

    /// <summary>"HTTP/1.0" or "HTTP/1.1" (or another HTTP/1.x).</summary>
    public string Version { get; internal set; } = "";

    /// <summary>Status code (responses only; 0 for requests).</summary>
    public int StatusCode { get; internal set; }

    /// <summary>Reason phrase (responses only; may be empty).</summary>
    public string? Reason { get; internal set; }

    /// <summary>For responses: the request method this response answers, when the parser was told it.</summary>
    public string? RequestMethod { get; internal set; }

    /// <summary>Header fields in wire order (obsolete line folding joined with a single space).</summary>
    public List<(string Name, string Value)> Headers { get; }

    /// <summary>Trailer fields of a chunked body, in wire order (empty when none).</summary>
    public IReadOnlyList<(string Name, string Value)> Trailers => _trailers ?? (IReadOnlyList<(string Name, string Value)>)[];

    /// <summary>The trailer list the parser fills, made on the first trailer field.</summary>
    internal List<(string Name, string Value)> TrailersToFill => _trailers ??= [];

    /// <summary>The body after de-chunking, not content-decoded. Empty when there is none.</summary>
    public ReadOnlyMemory<byte> Body => BodyLease.Bytes;

    /// <summary>The pooled array behind <see cref="Body"/> (see <see cref="TakeBodyLease"/>).</summary>
    internal BodyLease BodyLease { private get; set; }

    /// <summary>
    /// Hands the body over: <see cref="Body"/> reads empty after. The taker may return the lease
    /// once its last reader is done, so the next message reuses the array; a lease never returned
    /// is only garbage (the parser never reuses it).
    /// </summary>
    public BodyLease TakeBodyLease()
    {
        var lease = BodyLease;
        BodyLease = default;
        return lease;
    }

    /// <summary>True when the body exceeded the parser's body cap and <see cref="Body"/> holds only its start.</summary>
    public bool BodyTruncated { get; internal set; }

    /// <summary>Body length after de-chunking as seen on the wire (includes bytes beyond the cap, excludes lost bytes).</summary>
    public long BodyLength { get; internal set; }

    /// <summary>False when bytes were lost, the connection ended early, or a protocol error cut the message short.</summary>
    public bool Complete { get; internal set; }

    /// <summary>Header plus body bytes as they stood on the wire (chunk framing included, lost bytes of a still-framed body included).</summary>
    public long WireBytes { get; internal set; }

    /// <summary>Header section bytes on the wire (start line and the empty line included).</summary>
    public long HeaderBytes { get; internal set; }

    /// <summary><see cref="Http1StreamParser.Clock"/> when the message's first byte was fed.</summary>
    public long FirstByteClock { get; internal set; }

    /// <summary><see cref="Http1StreamParser.Clock"/> when the message's last byte was fed.</summary>
    public long LastByteClock { get; internal set; }

    /// <summary>True when the body used the chunked transfer coding.</summary>
    public bool Chunked { get; internal set; }

    /// <summary>
    /// Set when the stream stops being HTTP/1 after this message: the Upgrade protocol of a 101 response
    /// (e.g. "websocket"), or "tunnel" for a successful CONNECT.
    /// </summary>
    public string? UpgradedTo { get; internal set; }

    /// <summary>True for a request.</summary>
    public bool IsRequest => Role == Http1Role.Request;

    /// <summary>First value of a header, case-insensitively, or null.</summary>
    public string? GetHeader(string name) => Headers.Get(name);

    /// <inheritdoc />
    public override string ToString() => Role == Http1Role.Request
        ? $"{Method} {Target} {Version}"
        : $"{Version} {StatusCode} {Reason}";
}
