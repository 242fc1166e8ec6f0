namespace TlsScope.Flows;

/// <summary>What the first bytes of a connection's direction say it carries.</summary>
public enum SniffResult
{
    /// <summary>Too few bytes to tell.</summary>
    NeedMore,

    /// <summary>Not HTTP: the connection is shown as raw chunks.</summary>
    Other,

    /// <summary>An HTTP/1.x request line: this direction carries requests.</summary>
    Http1Request,

    /// <summary>An HTTP/1.x status line: this direction carries responses (the request came before the capture).</summary>
    Http1Response,

    /// <summary>The HTTP/2 client connection preface: this direction is client to server.</summary>
    Http2Preface,

    /// <summary>
    /// A SETTINGS frame on stream 0, the HTTP/2 server's preface: this direction is server to client
    /// (servers often send it before they read the client's preface).
    /// </summary>
    Http2ServerPreface,
}

/// <summary>Recognises HTTP from the first bytes of a direction, without buffering beyond <see cref="MaxBytes"/>.</summary>
public static class ProtocolSniffer
{
    /// <summary>The most bytes a decision needs: the HTTP/2 preface's length.</summary>
    public const int MaxBytes = 24;

    private const int MaxMethodLength = 20;

    private static ReadOnlySpan<byte> Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    private static ReadOnlySpan<byte> StatusPrefix => "HTTP/1."u8;

    /// <summary>
    /// A SETTINGS frame header: length a multiple of 6 below 64 KiB, type 4, no flags (not an ACK),
    /// stream 0. NeedMore while the bytes so far fit; null once they do not.
    /// </summary>
    private static SniffResult? LooksLikeSettings(ReadOnlySpan<byte> start)
    {
        const int HeaderLength = 9;
        if (start[0] != 0)
        {
            return null;
        }

        for (int i = 3; i < Math.Min(start.Length, HeaderLength); i++)
        {
            if (start[i] != (i == 3 ? 4 : 0))
            {
                return null;
            }
        }

        if (start.Length < HeaderLength)
        {
            return SniffResult.NeedMore;
        }

        return ((start[1] << 8) | start[2]) % 6 == 0 ? SniffResult.Http2ServerPreface : null;
    }

    public static SniffResult Sniff(ReadOnlySpan<byte> start)
    {
        if (start.IsEmpty)
        {
            return SniffResult.NeedMore;
        }

        int n = Math.Min(start.Length, Preface.Length);
        if (start[..n].SequenceEqual(Preface[..n]))
        {
            // "PRI" is also a method token: only the whole preface decides.
            return n == Preface.Length ? SniffResult.Http2Preface : SniffResult.NeedMore;
        }

        if (LooksLikeSettings(start) is { } settings)
        {
            return settings;
        }

        n = Math.Min(start.Length, StatusPrefix.Length);
        if (start[..n].SequenceEqual(StatusPrefix[..n]))
        {
            return n == StatusPrefix.Length ? SniffResult.Http1Response : SniffResult.NeedMore;
        }

        // A request line starts with a method token (upper-case letters in practice) and a space.
        for (int i = 0; i < start.Length && i <= MaxMethodLength; i++)
        {
            byte b = start[i];
            if (b == (byte)' ')
            {
                return i > 0 ? SniffResult.Http1Request : SniffResult.Other;
            }

            if (b is < (byte)'A' or > (byte)'Z' && b != (byte)'-' && b != (byte)'_')
            {
                return SniffResult.Other;
            }
        }

        return start.Length > MaxMethodLength ? SniffResult.Other : SniffResult.NeedMore;
    }
}
