using TlsScope.Protocols;
using TlsScope.Protocols.Http1;
using TlsScope.Protocols.Http2;

namespace TlsScope.Flows;

/// <summary>Turns a parser's message into the sinks' <see cref="HttpMessage"/>: URL, decoded body, redaction.</summary>
internal static class MessageBuilder
{
    /// <param name="urls">The connection's last URL, reused when host and target repeat.</param>
    public static HttpMessage FromHttp1(Http1Message m, HttpFlow flow, FlowOptions options, UrlMemo urls)
    {
        var (body, lease, decodedFrom, note) = TakeBody(m.TakeBodyLease(), m.GetHeader("Content-Encoding"), m.BodyTruncated, options);

        if (!m.Complete)
        {
            note = Join(note, "incomplete: bytes lost or the connection ended first");
        }

        return new HttpMessage
        {
            IsRequest = m.IsRequest,
            Version = m.Version,
            Process = flow.Process,
            Method = m.Method,
            Url = m.IsRequest ? Http1Url(m, flow, urls) : null,
            Status = m.StatusCode,
            Reason = m.Reason,
            Headers = Redact(m.Headers, options),
            Trailers = Redact(m.Trailers, options),
            Body = body,
            Lease = lease,
            BodyDecoded = decodedFrom,
            BodyWireBytes = m.BodyLength,
            BodyTruncated = m.BodyTruncated,
            HeaderBytes = m.HeaderBytes,
            WireBytes = m.WireBytes,
            Complete = m.Complete,
            Note = note,
            UpgradedTo = m.UpgradedTo,
            FirstByteNs = m.FirstByteClock,
            LastByteNs = m.LastByteClock,
        };
    }

    public static HttpMessage FromHttp2(Http2Message m, HttpFlow flow, FlowOptions options)
    {
        IReadOnlyList<(bool, int)>? grpc = m.TryGetGrpcMessages(out var frames) ? frames : null;
        var (body, lease, decodedFrom, note) = TakeBody(m.TakeBodyLease(), m.GetHeader("content-encoding"), m.BodyTruncated, options);

        if (m.HeadersUndecodable)
        {
            note = Join(note, "headers not decodable: HPACK state lost to a capture gap");
        }

        if (m.Reset)
        {
            note = Join(note, $"stream reset (error {m.ResetErrorCode})");
        }
        else if (m.DataLost)
        {
            note = Join(note, "body bytes lost to a capture gap");
        }
        else if (!m.Complete)
        {
            note = Join(note, "incomplete: the connection ended first");
        }

        _ = int.TryParse(m.Status, out int status);
        return new HttpMessage
        {
            IsRequest = m.IsRequest,
            Version = "HTTP/2",
            Stream = m.StreamId,
            Process = flow.Process,
            Method = m.Method,
            Url = m.IsRequest ? Http2Url(m, flow) : null,
            Status = status,
            Headers = Redact(m.Headers, options),
            Trailers = m.Trailers is null ? [] : Redact(m.Trailers, options),
            Body = body,
            Lease = lease,
            BodyDecoded = decodedFrom,
            BodyWireBytes = m.BodyLength,
            BodyTruncated = m.BodyTruncated,
            WireBytes = m.WireBytes,
            Complete = m.Complete && !m.Reset && !m.DataLost && !m.HeadersUndecodable,
            Note = note,
            Grpc = grpc,
            FirstByteNs = m.FirstFrameClock,
            LastByteNs = m.LastFrameClock,
        };
    }

    /// <summary>The host a request names when it has no Host header: the server's end of the connection.</summary>
    private static string ServerAuthority(HttpFlow flow)
    {
        return flow.Server?.ToString() ?? "unknown";
    }

    private static string Http1Url(Http1Message m, HttpFlow flow, UrlMemo urls)
    {
        string target = m.Target ?? "";
        if (target.StartsWith("http://", StringComparison.OrdinalIgnoreCase) ||
            target.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            return target; // absolute-form (a proxy request)
        }

        if (string.Equals(m.Method, "CONNECT", StringComparison.Ordinal))
        {
            return "https://" + target; // authority-form
        }

        string host = m.GetHeader("Host") ?? ServerAuthority(flow);
        return urls.Https(host, target);
    }

    private static string Http2Url(Http2Message m, HttpFlow flow)
    {
        string scheme = m.Scheme ?? "https";
        string authority = m.Authority ?? m.GetHeader("host") ?? ServerAuthority(flow);
        return scheme + "://" + authority + (m.Path ?? "");
    }

    /// <summary>The body as sinks see it, and the pooled array that stays behind it (none once decoded).</summary>
    private static (ReadOnlyMemory<byte> Body, BodyLease Lease, string? DecodedFrom, string? Note) TakeBody(
        BodyLease lease, string? contentEncoding, bool truncated, FlowOptions options)
    {
        var (body, decodedFrom, note) = Decode(lease.Bytes, contentEncoding, truncated, options);
        if (decodedFrom is null || lease.Backs(body))
        {
            return (body, lease, decodedFrom, note); // e.g. "identity, identity": decoded to itself
        }

        lease.Return(); // the decoded copy replaced it
        return (body, default, decodedFrom, note);
    }

    /// <summary>The body as sinks see it; the parser's buffer is passed on, not copied, unless decoded.</summary>
    private static (ReadOnlyMemory<byte> Body, string? DecodedFrom, string? Note) Decode(
        ReadOnlyMemory<byte> body, string? contentEncoding, bool truncated, FlowOptions options)
    {
        if (string.IsNullOrWhiteSpace(contentEncoding) || body.Length == 0 ||
            contentEncoding.Trim().Equals("identity", StringComparison.OrdinalIgnoreCase))
        {
            return (body, null, null);
        }

        if (truncated)
        {
            return (body, null, $"body kept encoded ({contentEncoding}): larger than the body cap");
        }

        return ContentDecoding.TryDecode(body, contentEncoding, options.MaxBodyBytes, out var decoded)
            ? (decoded, contentEncoding, null)
            : (body, null, $"body kept encoded: {contentEncoding} could not be decoded within the body cap");
    }

    /// <summary>The parser's lists are handed over (a message is never touched after delivery); copied only to mask.</summary>
    private static IReadOnlyList<(string Name, string Value)> Redact(
        IReadOnlyList<(string Name, string Value)> fields, FlowOptions options) =>
        options.Redactor is null ? fields : options.Redactor.Apply(fields);

    private static string Join(string? a, string b) => a is null ? b : a + "; " + b;
}
