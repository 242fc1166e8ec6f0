using System.Text;

namespace TlsScope.Outputs.Har;

/// <summary>
/// Request URLs as HAR wants them: an absolute URI (har-validator checks the "uri" format: a
/// scheme, no white space) and the query string split into decoded name/value pairs.
/// </summary>
internal static class HarUrl
{
    /// <summary>The URL of an entry whose request was not captured: a valid URI that names nothing.</summary>
    public const string Unknown = "about:blank";

    /// <summary>
    /// <paramref name="url"/> with white space, control and non-ASCII characters percent-encoded,
    /// so it is a URI. The characters are encoded as the bytes they were on the wire: HTTP/1
    /// targets and Host headers are decoded as Latin-1 (one char per byte), HTTP/2 (HPACK) values
    /// as UTF-8. A URL without a scheme gets "https://" (every capture is TLS), a bare path
    /// "https://unknown".
    /// </summary>
    public static string ToUri(string? url, bool utf8OnWire)
    {
        if (string.IsNullOrEmpty(url))
        {
            return Unknown;
        }

        var result = new StringBuilder(url.Length + 16);
        if (!HasScheme(url))
        {
            // A bare path gets a placeholder host, not an empty one ("https:///path").
            result.Append(url[0] == '/' ? "https://unknown" : "https://");
        }

        Span<byte> bytes = stackalloc byte[4];
        for (int i = 0; i < url.Length; i++)
        {
            char c = url[i];
            if (c > ' ' && c < 0x7F)
            {
                result.Append(c);
                continue;
            }

            int count;
            if (!utf8OnWire && c <= 0xFF)
            {
                bytes[0] = (byte)c;
                count = 1;
            }
            else if (char.IsHighSurrogate(c) && i + 1 < url.Length && char.IsLowSurrogate(url[i + 1]))
            {
                count = Encoding.UTF8.GetBytes(url.AsSpan(i, 2), bytes);
                i++;
            }
            else
            {
                // Encoding.UTF8 turns a lone surrogate into U+FFFD's bytes rather than throwing.
                count = Encoding.UTF8.GetBytes(url.AsSpan(i, 1), bytes);
            }

            foreach (byte b in bytes[..count])
            {
                result.Append('%').Append(HexDigit(b >> 4)).Append(HexDigit(b & 0xF));
            }
        }

        return result.ToString();
    }

    /// <summary>
    /// The query of an ASCII URI (as <see cref="ToUri"/> returns) as name/value pairs in order,
    /// decoded as application/x-www-form-urlencoded: '+' is a space, %XX a byte, the bytes UTF-8.
    /// A '%' not followed by two hex digits stays as it is; empty pairs ("a&amp;&amp;b") are skipped;
    /// a pair without '=' has an empty value.
    /// </summary>
    public static List<(string Name, string Value)> ParseQuery(string uri)
    {
        var pairs = new List<(string, string)>();
        int start = uri.IndexOf('?');
        if (start < 0)
        {
            return pairs;
        }

        int end = uri.IndexOf('#', start);
        ReadOnlySpan<char> query = uri.AsSpan(start + 1, (end < 0 ? uri.Length : end) - start - 1);
        foreach (Range range in query.Split('&'))
        {
            ReadOnlySpan<char> pair = query[range];
            if (pair.IsEmpty)
            {
                continue;
            }

            int equals = pair.IndexOf('=');
            pairs.Add(equals < 0
                ? (Decode(pair), "")
                : (Decode(pair[..equals]), Decode(pair[(equals + 1)..])));
        }

        return pairs;
    }

    /// <summary>Form-decodes one name or value; never throws (bad escapes are kept, bad UTF-8 becomes U+FFFD).</summary>
    public static string Decode(ReadOnlySpan<char> text)
    {
        if (text.IndexOfAny('%', '+') < 0)
        {
            return text.ToString();
        }

        // A char takes at most 3 UTF-8 bytes (a surrogate pair: 4 for 2 chars).
        byte[] bytes = new byte[text.Length * 3];
        int length = 0;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '+')
            {
                bytes[length++] = (byte)' ';
            }
            else if (c == '%' && i + 2 < text.Length && HexValue(text[i + 1]) is >= 0 and int high && HexValue(text[i + 2]) is >= 0 and int low)
            {
                bytes[length++] = (byte)((high << 4) | low);
                i += 2;
            }
            else if (c < 0x80)
            {
                bytes[length++] = (byte)c;
            }
            else
            {
                int chars = char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
                length += Encoding.UTF8.GetBytes(text.Slice(i, chars), bytes.AsSpan(length));
                i += chars - 1;
            }
        }

        return Encoding.UTF8.GetString(bytes, 0, length);
    }

    private static bool HasScheme(string url)
    {
        // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"
        if (url.Length == 0 || !char.IsAsciiLetter(url[0]))
        {
            return false;
        }

        for (int i = 1; i < url.Length; i++)
        {
            char c = url[i];
            if (c == ':')
            {
                return true;
            }

            if (!char.IsAsciiLetterOrDigit(c) && c is not ('+' or '-' or '.'))
            {
                return false;
            }
        }

        return false;
    }

    private static char HexDigit(int value) => (char)(value < 10 ? '0' + value : 'A' + value - 10);

    private static int HexValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };
}
