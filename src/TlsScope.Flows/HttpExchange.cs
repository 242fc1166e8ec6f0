namespace TlsScope.Flows;

/// <summary>
/// A request paired with its response (by order on HTTP/1, by stream on HTTP/2). Either side may be
/// missing: a request the connection's end left unanswered, or a response whose request was sent
/// before the capture started.
/// </summary>
public sealed class HttpExchange
{
    public required HttpFlow Flow { get; init; }

    /// <summary>1, 2, ... per connection, in the order requests started; the same on the exchange's request and response events.</summary>
    public required long Sequence { get; init; }

    public HttpMessage? Request { get; init; }

    public HttpMessage? Response { get; init; }

    /// <summary>The process of whichever side is present (the request's when both are).</summary>
    public TlsScope.Engine.Model.ProcessInfo Process => (Request ?? Response)!.Process;

    /// <summary>True when both sides are present and complete.</summary>
    public bool Complete => Request is { Complete: true } && Response is { Complete: true };

    /// <summary>The version of whichever side is present.</summary>
    public string Version => Request?.Version ?? Response!.Version;

    public int? Stream => Request?.Stream ?? Response?.Stream;

    /// <summary>Unix ns of the exchange's first byte.</summary>
    public long StartNs => Request?.FirstByteNs ?? Response!.FirstByteNs;

    /// <summary>Unix ns of the exchange's last byte.</summary>
    public long EndNs => Response?.LastByteNs ?? Request!.LastByteNs;

    /// <summary>Request sent (last byte) to the response's first byte, in ns; null without both sides.</summary>
    public long? TimeToFirstByteNs => Request is null || Response is null
        ? null
        : Math.Max(0, Response.FirstByteNs - Request.LastByteNs);

    /// <summary>Request's first byte to the response's last, in ns; null without both sides.</summary>
    public long? TotalNs => Request is null || Response is null
        ? null
        : Math.Max(0, Response.LastByteNs - Request.FirstByteNs);

    /// <summary>Time to send the request (first to last byte), in ns.</summary>
    public long? SendNs => Request is null ? null : Math.Max(0, Request.LastByteNs - Request.FirstByteNs);

    /// <summary>Time to receive the response (first to last byte), in ns.</summary>
    public long? ReceiveNs => Response is null ? null : Math.Max(0, Response.LastByteNs - Response.FirstByteNs);
}
