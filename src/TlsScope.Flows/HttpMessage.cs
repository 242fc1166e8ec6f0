using TlsScope.Protocols;
using TlsScope.Engine.Model;

namespace TlsScope.Flows;

/// <summary>
/// One HTTP request or response, HTTP/1.x and HTTP/2 alike, as every sink sees it: headers in wire
/// order (redacted when asked), the body decoded from its Content-Encoding when possible, sizes and
/// the times of its first and last bytes (Unix ns).
/// </summary>
public sealed class HttpMessage
{
    /// <summary>True for a request, false for a response.</summary>
    public required bool IsRequest { get; init; }

    /// <summary>"HTTP/1.1", "HTTP/1.0" or "HTTP/2".</summary>
    public required string Version { get; init; }

    /// <summary>The HTTP/2 stream id; null on HTTP/1.</summary>
    public int? Stream { get; init; }

    /// <summary>The process that made the call carrying the message's last byte.</summary>
    public required ProcessInfo Process { get; init; }

    /// <summary>Request method (requests only).</summary>
    public string? Method { get; init; }

    /// <summary>scheme://authority/path?query (requests only).</summary>
    public string? Url { get; init; }

    /// <summary>Status code (responses only; 0 when it could not be decoded).</summary>
    public int Status { get; init; }

    /// <summary>Reason phrase (HTTP/1 responses only).</summary>
    public string? Reason { get; init; }

    /// <summary>Header fields in wire order (HTTP/2 pseudo-headers included).</summary>
    public required IReadOnlyList<(string Name, string Value)> Headers { get; init; }

    /// <summary>Trailer fields in wire order; empty when none.</summary>
    public IReadOnlyList<(string Name, string Value)> Trailers { get; init; } = [];

    private ReadOnlyMemory<byte> _body;
    private BodyLease _lease;

    /// <summary>
    /// The body: decoded when <see cref="BodyDecoded"/>, else as it stood after de-chunking. Valid
    /// until the exchange has been delivered (<see cref="IHttpSink.OnExchange"/> returned): a sink
    /// that keeps the message longer keeps <see cref="Keep"/>'s copy.
    /// </summary>
    public ReadOnlyMemory<byte> Body { get => _body; init => _body = value; }

    /// <summary>The pooled array behind <see cref="Body"/>, when there is one; <see cref="ReturnBody"/> gives it back.</summary>
    internal BodyLease Lease { init => _lease = value; }

    /// <summary>The Content-Encoding that was removed from <see cref="Body"/>; null when none was.</summary>
    public string? BodyDecoded { get; init; }

    /// <summary>Body bytes on the wire after de-chunking, before decoding (bytes beyond the store cap included).</summary>
    public long BodyWireBytes { get; init; }

    /// <summary>True when the body was larger than the store cap and <see cref="Body"/> holds only its start.</summary>
    public bool BodyTruncated { get; init; }

    /// <summary>Header section bytes on the wire (HTTP/2: HPACK-compressed frame bytes are in <see cref="WireBytes"/> only).</summary>
    public long HeaderBytes { get; init; }

    /// <summary>All bytes of the message on the wire (framing included).</summary>
    public long WireBytes { get; init; }

    /// <summary>False when bytes were lost, the stream was reset or the connection ended early.</summary>
    public bool Complete { get; init; }

    /// <summary>Why the message is incomplete or odd ("reset: error 8", "headers lost with HPACK state"); null when fine.</summary>
    public string? Note { get; init; }

    /// <summary>gRPC messages (compressed flag, length) when the body is gRPC; null otherwise.</summary>
    public IReadOnlyList<(bool Compressed, int Length)>? Grpc { get; init; }

    /// <summary>The protocol the connection switched to after this message (e.g. "websocket").</summary>
    public string? UpgradedTo { get; init; }

    /// <summary>Unix ns of the message's first byte (send: the write call began; receive: the read returned).</summary>
    public long FirstByteNs { get; init; }

    /// <summary>Unix ns of the message's last byte.</summary>
    public long LastByteNs { get; init; }

    /// <summary>The first header field with this name (case-insensitive), or null.</summary>
    public string? GetHeader(string name) => Headers.Get(name);

    /// <summary>This message with a body of its own, for a sink that keeps it after its exchange was delivered.</summary>
    public HttpMessage Keep()
    {
        if (!_lease.IsRented)
        {
            return this; // nothing pooled: the body is the message's own already
        }

        var copy = (HttpMessage)MemberwiseClone();
        copy._body = _body.ToArray();
        copy._lease = default;
        return copy;
    }

    /// <summary>Gives a pooled body back once every sink has seen the exchange; the body reads empty after.</summary>
    internal void ReturnBody()
    {
        var lease = _lease;
        _lease = default;
        if (lease.IsRented)
        {
            _body = default;
            lease.Return();
        }
    }
}
