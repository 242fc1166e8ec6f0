using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using TlsScope.Flows;
using TlsScope.Outputs.Json;
using TlsScope.Outputs.Text;

namespace TlsScope.Outputs.Har;

/// <summary>
/// Writes one <see cref="HttpExchange"/> as a HAR 1.2 entry object. Field choices:
/// <list type="bullet">
/// <item>startedDateTime: the exchange's first byte, UTC with microseconds (more digits than
/// Python's fromisoformat before 3.11 reads; the timings carry the finer detail).</item>
/// <item>timings: blocked/dns/connect/ssl are -1 (before the capture saw the connection);
/// send, wait and receive come from the exchange, 0 when a side is missing; time is their sum.</item>
/// <item>httpVersion: the message's own "HTTP/1.1"/"HTTP/1.0"; HTTP/2 is written "http/2.0",
/// what Chrome DevTools exports (NetworkRequest.filteredProtocolName maps ALPN "h2" to it), so
/// HAR viewers that special-case Chrome's string recognise it.</item>
/// <item>Missing response: status 0, statusText "", empty headers, sizes -1 and
/// _note "no response" (Chrome's exporter also writes status 0 for requests that got none).</item>
/// <item>Missing request (its bytes went by before the capture started): method "" and url
/// "about:blank": har-validator accepts both, and neither pretends to know what was asked;
/// _note "request not captured".</item>
/// <item>Bodies: text when the bytes are UTF-8 without control characters other than white
/// space; otherwise base64 (content.encoding "base64"; postData has no encoding field in HAR 1.2,
/// so it gets comment "base64" and the custom _encoding "base64").</item>
/// <item>content.compression is the bytes saved (decoded size minus wire size) when the body was
/// decoded from its Content-Encoding, complete and got smaller on the wire.</item>
/// <item>Custom fields (underscore-prefixed, as HAR requires): _pid, _tid, _comm (the process of
/// the request's last byte, else the response's), _side ("client"/"server": which end the traced
/// process is), _stream (HTTP/2), _complete, _note, and _truncated on a body cut by the store cap.</item>
/// </list>
/// Never throws on odd data: null strings become "", lone surrogates U+FFFD.
/// </summary>
internal static class HarEntryWriter
{
    /// <summary>
    /// Largest body written: Utf8JsonWriter refuses string values beyond about 166 M chars, and the
    /// capture's own cap is far below; a body beyond it is cut and marked _truncated.
    /// </summary>
    private const int MaxBodyBytes = 64 * 1024 * 1024;

    private const double NsPerMs = 1_000_000.0;

    public static void Write(Utf8JsonWriter json, HttpExchange exchange)
    {
        HttpMessage? request = exchange.Request;
        HttpMessage? response = exchange.Response;
        HttpFlow flow = exchange.Flow;

        long send = exchange.SendNs ?? 0;
        long wait = exchange.TimeToFirstByteNs ?? 0;
        long receive = exchange.ReceiveNs ?? 0;

        json.WriteStartObject();
        json.WriteString("startedDateTime", StartedDateTime(exchange.StartNs));
        json.WriteNumber("time", (send + wait + receive) / NsPerMs);

        WriteRequest(json, request, exchange.Version);
        WriteResponse(json, response, exchange.Version);

        json.WriteStartObject("cache");
        json.WriteEndObject();

        json.WriteStartObject("timings");
        json.WriteNumber("blocked", -1);
        json.WriteNumber("dns", -1);
        json.WriteNumber("connect", -1);
        json.WriteNumber("ssl", -1);
        json.WriteNumber("send", send / NsPerMs);
        json.WriteNumber("wait", wait / NsPerMs);
        json.WriteNumber("receive", receive / NsPerMs);
        json.WriteEndObject();

        if (flow.Server is { } server)
        {
            json.WriteString("serverIPAddress", IpAddress(server.Address));
        }

        json.WriteString("connection", flow.Connection.ToString(CultureInfo.InvariantCulture));

        json.WriteNumber("_pid", exchange.Process.Pid);
        json.WriteNumber("_tid", exchange.Process.Tid);
        json.WriteString("_comm", Clean(exchange.Process.Comm));
        if (exchange.Process.Cgroup != 0)
        {
            json.WriteNumber("_cgroup", exchange.Process.Cgroup);
        }

        if (exchange.Process.Container is { } container)
        {
            json.WriteString("_container", container);
        }

        json.WriteString("_side", flow.SideName);
        if (exchange.Stream is { } stream)
        {
            json.WriteNumber("_stream", stream);
        }

        json.WriteBoolean("_complete", exchange.Complete);
        if (Note(request, response) is { } note)
        {
            json.WriteString("_note", note);
        }

        json.WriteEndObject();
    }

    private static void WriteRequest(Utf8JsonWriter json, HttpMessage? request, string version)
    {
        json.WriteStartObject("request");
        if (request is null)
        {
            json.WriteString("method", "");
            json.WriteString("url", HarUrl.Unknown);
            json.WriteString("httpVersion", HttpVersion(version));
            json.WriteStartArray("cookies");
            json.WriteEndArray();
            json.WriteStartArray("headers");
            json.WriteEndArray();
            json.WriteStartArray("queryString");
            json.WriteEndArray();
            json.WriteNumber("headersSize", -1);
            json.WriteNumber("bodySize", -1);
            json.WriteEndObject();
            return;
        }

        IReadOnlyList<(string Name, string Value)> headers = request.Headers ?? [];
        string url = HarUrl.ToUri(request.Url, utf8OnWire: IsHttp2(request.Version));

        json.WriteString("method", Clean(request.Method));
        json.WriteString("url", url);
        json.WriteString("httpVersion", HttpVersion(request.Version));
        WriteCookies(json, HarCookie.FromRequest(headers));
        WriteHeaders(json, "headers", headers);

        json.WriteStartArray("queryString");
        foreach (var (name, value) in HarUrl.ParseQuery(url))
        {
            json.WriteStartObject();
            json.WriteString("name", Clean(name));
            json.WriteString("value", Clean(value));
            json.WriteEndObject();
        }

        json.WriteEndArray();

        if (request.Body.Length > 0 || request.BodyWireBytes > 0)
        {
            json.WriteStartObject("postData");
            json.WriteString("mimeType", Clean(request.GetHeader("content-type")));
            if (!WriteBody(json, request))
            {
                json.WriteString("comment", "base64");
                json.WriteString("_encoding", "base64");
            }

            json.WriteEndObject();
        }

        json.WriteNumber("headersSize", HeadersSize(request));
        json.WriteNumber("bodySize", request.BodyWireBytes);
        WriteTrailers(json, request);
        json.WriteEndObject();
    }

    private static void WriteResponse(Utf8JsonWriter json, HttpMessage? response, string version)
    {
        json.WriteStartObject("response");
        if (response is null)
        {
            json.WriteNumber("status", 0);
            json.WriteString("statusText", "");
            json.WriteString("httpVersion", HttpVersion(version));
            json.WriteStartArray("cookies");
            json.WriteEndArray();
            json.WriteStartArray("headers");
            json.WriteEndArray();
            json.WriteStartObject("content");
            json.WriteNumber("size", 0);
            json.WriteString("mimeType", "x-unknown");
            json.WriteEndObject();
            json.WriteString("redirectURL", "");
            json.WriteNumber("headersSize", -1);
            json.WriteNumber("bodySize", -1);
            json.WriteEndObject();
            return;
        }

        IReadOnlyList<(string Name, string Value)> headers = response.Headers ?? [];
        json.WriteNumber("status", response.Status);
        json.WriteString("statusText", Clean(response.Reason));
        json.WriteString("httpVersion", HttpVersion(response.Version));
        WriteCookies(json, HarCookie.FromResponse(headers));
        WriteHeaders(json, "headers", headers);

        // size: the decoded body; without decoding it is the wire size (which counts bytes beyond the store cap).
        long size = response.BodyDecoded is null
            ? Math.Max(response.BodyWireBytes, response.Body.Length)
            : response.Body.Length;
        json.WriteStartObject("content");
        json.WriteNumber("size", size);
        if (response.BodyDecoded is not null && !response.BodyTruncated && size > response.BodyWireBytes)
        {
            json.WriteNumber("compression", size - response.BodyWireBytes);
        }

        string? contentType = response.GetHeader("content-type");
        json.WriteString("mimeType", string.IsNullOrEmpty(contentType) ? "x-unknown" : Clean(contentType));
        if (!WriteBody(json, response))
        {
            json.WriteString("encoding", "base64");
        }

        json.WriteEndObject();

        json.WriteString("redirectURL", Clean(response.GetHeader("location")));
        json.WriteNumber("headersSize", HeadersSize(response));
        json.WriteNumber("bodySize", response.BodyWireBytes);
        WriteTrailers(json, response);
        json.WriteEndObject();
    }

    /// <summary>Writes "text" (and "_truncated"); false when the text is base64 of binary bytes.</summary>
    private static bool WriteBody(Utf8JsonWriter json, HttpMessage message)
    {
        ReadOnlySpan<byte> body = message.Body.Span;
        bool truncated = message.BodyTruncated;
        if (body.Length > MaxBodyBytes)
        {
            body = body[..MaxBodyBytes];
            truncated = true;
        }

        bool isText = true;
        if (!body.IsEmpty)
        {
            // The text output's rule: printable UTF-8 is text, anything else goes as base64.
            isText = TextSink.LooksLikeText(body);
            if (isText)
            {
                json.WriteString("text", body);
            }
            else
            {
                json.WriteBase64String("text", body);
            }
        }

        if (truncated)
        {
            json.WriteBoolean("_truncated", true);
        }

        return isText;
    }


    private static void WriteCookies(Utf8JsonWriter json, List<HarCookie> cookies)
    {
        json.WriteStartArray("cookies");
        foreach (HarCookie cookie in cookies)
        {
            json.WriteStartObject();
            json.WriteString("name", Clean(cookie.Name));
            json.WriteString("value", Clean(cookie.Value));
            if (cookie.Path is not null)
            {
                json.WriteString("path", Clean(cookie.Path));
            }

            if (cookie.Domain is not null)
            {
                json.WriteString("domain", Clean(cookie.Domain));
            }

            if (cookie.Expires is not null)
            {
                json.WriteString("expires", cookie.Expires);
            }

            if (cookie.HttpOnly)
            {
                json.WriteBoolean("httpOnly", true);
            }

            if (cookie.Secure)
            {
                json.WriteBoolean("secure", true);
            }

            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    private static void WriteHeaders(Utf8JsonWriter json, string property, IReadOnlyList<(string Name, string Value)> headers)
    {
        json.WriteStartArray(property);
        foreach (var (name, value) in headers)
        {
            json.WriteStartObject();
            json.WriteString("name", Clean(name));
            json.WriteString("value", Clean(value));
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    /// <summary>HAR has no trailers: they go to a custom _trailers array, in the headers' shape.</summary>
    private static void WriteTrailers(Utf8JsonWriter json, HttpMessage message)
    {
        if (message.Trailers is { Count: > 0 } trailers)
        {
            WriteHeaders(json, "_trailers", trailers);
        }
    }

    /// <summary>HeaderBytes on HTTP/1; -1 (unknown, as HAR says) on HTTP/2, whose header block is HPACK-compressed.</summary>
    private static long HeadersSize(HttpMessage message) =>
        IsHttp2(message.Version) || message.HeaderBytes <= 0 ? -1 : message.HeaderBytes;

    private static string HttpVersion(string? version) => IsHttp2(version) ? "http/2.0" : Clean(version);

    private static bool IsHttp2(string? version) =>
        version is not null && version.StartsWith("HTTP/2", StringComparison.OrdinalIgnoreCase);

    private static string? Note(HttpMessage? request, HttpMessage? response)
    {
        var notes = new List<string>(2);
        if (request is null)
        {
            notes.Add("request not captured");
        }
        else if (!string.IsNullOrEmpty(request.Note))
        {
            notes.Add("request: " + request.Note);
        }

        if (response is null)
        {
            notes.Add("no response");
        }
        else if (!string.IsNullOrEmpty(response.Note))
        {
            notes.Add("response: " + response.Note);
        }

        return notes.Count == 0 ? null : Clean(string.Join("; ", notes));
    }

    /// <summary>UTC with microseconds, e.g. 2026-11-22T15:04:05.123456Z.</summary>
    private static string StartedDateTime(long unixNs)
    {
        string full = Rfc3339.FormatUnixNs(unixNs); // ...05.123456789Z
        return string.Concat(full.AsSpan(0, Rfc3339.Length - 4), "Z");
    }

    /// <summary>The address alone (HAR has no port here): IPv4-mapped IPv6 as IPv4, no zone suffix.</summary>
    private static string IpAddress(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4().ToString();
        }

        return address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0
            ? new IPAddress(address.GetAddressBytes()).ToString()
            : address.ToString();
    }

    /// <summary>"" for null; lone surrogates (which Utf8JsonWriter refuses) replaced by U+FFFD.</summary>
    private static string Clean(string? text)
    {
        if (text is null)
        {
            return "";
        }

        if (text.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') < 0)
        {
            return text;
        }

        return Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text));
    }
}
