using System.Globalization;

namespace TlsScope.Outputs.Har;

/// <summary>One HAR cookie: name and value, plus the Set-Cookie attributes HAR knows.</summary>
internal sealed record HarCookie(string Name, string Value)
{
    // The forms RFC 6265 section 5.1.1 sees in the wild: RFC 1123, RFC 850 with dashes, asctime.
    private static readonly string[] CookieDateFormats =
    [
        "ddd, dd MMM yyyy HH:mm:ss 'GMT'",
        "ddd, d MMM yyyy HH:mm:ss 'GMT'",
        "ddd, dd-MMM-yyyy HH:mm:ss 'GMT'",
        "ddd, d-MMM-yyyy HH:mm:ss 'GMT'",
        "dddd, dd-MMM-yy HH:mm:ss 'GMT'",
        "ddd, dd-MMM-yy HH:mm:ss 'GMT'",
        "ddd MMM d HH:mm:ss yyyy",
        "ddd MMM dd HH:mm:ss yyyy",
    ];

    public string? Path { get; init; }

    public string? Domain { get; init; }

    /// <summary>ISO 8601 UTC; null when absent or not a date we can read (HAR wants a date-time there).</summary>
    public string? Expires { get; init; }

    public bool HttpOnly { get; init; }

    public bool Secure { get; init; }

    /// <summary>
    /// The cookies of Cookie request headers ("a=1; b=2"), every such field in order (HTTP/2
    /// sends one field per cookie). A piece without '=' is a nameless cookie (RFC 6265bis).
    /// </summary>
    public static List<HarCookie> FromRequest(IReadOnlyList<(string Name, string Value)> headers)
    {
        var cookies = new List<HarCookie>();
        foreach (var (name, value) in headers)
        {
            if (!string.Equals(name, "cookie", StringComparison.OrdinalIgnoreCase) || value is null)
            {
                continue;
            }

            foreach (string piece in value.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                cookies.Add(Pair(piece));
            }
        }

        return cookies;
    }

    /// <summary>One cookie per Set-Cookie response field, with Path, Domain, Expires, HttpOnly and Secure.</summary>
    public static List<HarCookie> FromResponse(IReadOnlyList<(string Name, string Value)> headers)
    {
        var cookies = new List<HarCookie>();
        foreach (var (name, value) in headers)
        {
            if (!string.Equals(name, "set-cookie", StringComparison.OrdinalIgnoreCase) || value is null)
            {
                continue;
            }

            string[] parts = value.Split(';', StringSplitOptions.TrimEntries);
            HarCookie cookie = Pair(parts[0]);
            foreach (string attribute in parts.AsSpan(1))
            {
                int equals = attribute.IndexOf('=');
                string key = (equals < 0 ? attribute : attribute[..equals]).Trim();
                string argument = equals < 0 ? "" : attribute[(equals + 1)..].Trim();
                if (key.Equals("path", StringComparison.OrdinalIgnoreCase))
                {
                    cookie = cookie with { Path = argument };
                }
                else if (key.Equals("domain", StringComparison.OrdinalIgnoreCase))
                {
                    cookie = cookie with { Domain = argument };
                }
                else if (key.Equals("expires", StringComparison.OrdinalIgnoreCase))
                {
                    cookie = cookie with { Expires = ParseExpires(argument) };
                }
                else if (key.Equals("httponly", StringComparison.OrdinalIgnoreCase))
                {
                    cookie = cookie with { HttpOnly = true };
                }
                else if (key.Equals("secure", StringComparison.OrdinalIgnoreCase))
                {
                    cookie = cookie with { Secure = true };
                }
            }

            cookies.Add(cookie);
        }

        return cookies;
    }

    private static HarCookie Pair(string piece)
    {
        int equals = piece.IndexOf('=');
        return equals < 0
            ? new HarCookie("", piece.Trim())
            : new HarCookie(piece[..equals].Trim(), piece[(equals + 1)..].Trim());
    }

    private static string? ParseExpires(string text)
    {
        if (DateTime.TryParseExact(text, CookieDateFormats, CultureInfo.InvariantCulture,
                DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal | DateTimeStyles.AllowWhiteSpaces,
                out DateTime expires))
        {
            return expires.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        }

        return null;
    }
}
