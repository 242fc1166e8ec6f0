using System.Text;

namespace TlsScope.Protocols.Http1;

/// <summary>
/// Incremental HTTP/1.x parser for one direction of one connection. Accepts any split of the byte stream,
/// survives lost bytes (<see cref="Gap"/>) by resynchronising on the next start line, never throws on input
/// and keeps bounded state: header sections are capped at <see cref="MaxHeaderBytes"/> and stored bodies at
/// the body cap given to the constructor.
/// </summary>
public sealed class Http1StreamParser
{
    /// <summary>Largest accepted header (or trailer) section, start line included.</summary>
    public const int MaxHeaderBytes = 64 * 1024;

    /// <summary>Default cap on the body bytes kept per message.</summary>
    public const long DefaultMaxBodyBytes = 64L * 1024 * 1024;

    /// <summary>How many request methods <see cref="ExpectResponseTo"/> remembers before dropping the oldest.</summary>
    public const int MaxPendingMethods = 4096;

    private const int ResyncTailBytes = 8 * 1024;

    /// <summary>Largest buffer allocated up front from a Content-Length (a lying header costs no more).</summary>
    private const int MaxPresizedBody = 1024 * 1024;

    /// <summary>The most header fields a new message's list is sized for up front.</summary>
    private const int MaxExpectedHeaders = 64;

    private static readonly string[] MethodNames =
        ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE"];

    private static readonly string[] KnownVersions = ["HTTP/1.1", "HTTP/1.0"];

    private enum State
    {
        StartLine,
        Headers,
        BodyLength,
        ChunkSize,
        ChunkData,
        ChunkDataEnd,
        Trailers,
        BodyClose,
        Opaque,
        Closed,
    }

    private readonly Http1Role _role;
    private readonly long _maxBodyBytes;
    private readonly Queue<string> _methods = new();
    private readonly FieldStrings _fieldStrings;
    private State _state;
    private bool _resync;
    private byte[] _line = new byte[256];
    private int _lineLen;
    private int _lastHeaderCount;
    private int _sectionBytes;
    private Http1Message? _msg;
    private BodyBuffer _body;
    private long _remaining;
    private bool _lost;
    private long _offset;
    private long _startClock;

    /// <summary>Creates a parser for one stream direction.</summary>
    /// <param name="role">Whether the stream carries requests or responses.</param>
    /// <param name="onMessage">Optional callback, equivalent to subscribing to <see cref="MessageParsed"/>.</param>
    /// <param name="maxBodyBytes">Body bytes kept per message; the rest is counted but not stored.</param>
    /// <param name="strings">Where repeated field strings are kept; shared by a tracker's parsers (one thread), else the parser's own.</param>
    public Http1StreamParser(Http1Role role, Action<Http1Message>? onMessage = null, long maxBodyBytes = DefaultMaxBodyBytes, FieldStrings? strings = null)
    {
        _role = role;
        _fieldStrings = strings ?? new FieldStrings();
        _maxBodyBytes = Math.Max(0, maxBodyBytes);
        if (onMessage is not null)
        {
            MessageParsed += onMessage;
        }
    }

    /// <summary>Raised for each message, complete or not, in stream order.</summary>
    public event Action<Http1Message>? MessageParsed;

    /// <summary>Raised when a message's header section is complete, before its body (e.g. to learn a request's method early).</summary>
    public event Action<Http1Message>? HeadersParsed;

    /// <summary>
    /// The caller's clock (any unit, e.g. Unix ns) for the bytes about to be fed: messages record it as their
    /// first and last byte times.
    /// </summary>
    public long Clock { get; set; }

    /// <summary>Raised for each protocol error; the parser then resynchronises.</summary>
    public event Action<Http1ProtocolError>? ProtocolError;

    /// <summary>Raised with a copy of bytes seen after the stream stopped being HTTP/1 (upgrade or tunnel).</summary>
    public event Action<byte[]>? OpaqueData;

    /// <summary>The role given at construction.</summary>
    public Http1Role Role => _role;

    /// <summary>True once the stream switched protocols and is no longer parsed.</summary>
    public bool IsOpaque => _state == State.Opaque;

    /// <summary>The protocol the stream switched to, once <see cref="IsOpaque"/>.</summary>
    public string? UpgradedTo { get; private set; }

    /// <summary>Bytes (gaps included) seen after the switch to an opaque protocol.</summary>
    public long OpaqueBytes { get; private set; }

    /// <summary>Stream offset reached, gap bytes included.</summary>
    public long StreamOffset => _offset;



    /// <summary>
    /// Response parsers only: records the method of the next request on this connection, so that responses
    /// to HEAD (and CONNECT) are framed correctly. Call once per request, in order.
    /// </summary>
    public void ExpectResponseTo(string method)
    {
        if (_methods.Count >= MaxPendingMethods)
        {
            _methods.Dequeue();
        }

        _methods.Enqueue(method ?? "");
    }

    /// <summary>Stops HTTP/1 parsing: later bytes are reported as opaque (e.g. the request side after a 101).</summary>
    public void SwitchToOpaque(string protocol)
    {
        if (_state is State.Closed or State.Opaque)
        {
            return;
        }

        if (_msg is not null)
        {
            Finish(false);
        }

        UpgradedTo = protocol;
        _state = State.Opaque;
    }

    /// <summary>Feeds the next bytes of the stream.</summary>
    public void Feed(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            if (_state == State.StartLine && _lineLen == 0)
            {
                _startClock = Clock;
            }

            int used;
            switch (_state)
            {
                case State.Closed:
                    return;
                case State.Opaque:
                    OpaqueBytes += data.Length;
                    _offset += data.Length;
                    OpaqueData?.Invoke(data.ToArray());
                    return;
                case State.BodyLength:
                case State.ChunkData:
                    used = (int)Math.Min(_remaining, data.Length);
                    AppendBody(data[..used]);
                    _remaining -= used;
                    if (_remaining == 0)
                    {
                        if (_state == State.BodyLength)
                        {
                            Finish(true);
                        }
                        else
                        {
                            _state = State.ChunkDataEnd;
                        }
                    }

                    break;
                case State.BodyClose:
                    used = data.Length;
                    AppendBody(data);
                    break;
                default:
                    used = FeedLine(data);
                    break;
            }

            _offset += used;
            data = data[used..];
        }
    }

    /// <summary>Tells the parser that <paramref name="length"/> bytes of the stream were lost.</summary>
    public void Gap(long length)
    {
        if (length <= 0 || _state == State.Closed)
        {
            return;
        }

        _offset += length;
        switch (_state)
        {
            case State.Opaque:
                OpaqueBytes += length;
                return;
            case State.BodyLength when length <= _remaining:
                // The framing survives: skip the lost bytes and keep going, the message is incomplete.
                _remaining -= length;
                _lost = true;
                _msg!.WireBytes += length;
                if (_remaining == 0)
                {
                    Finish(true);
                }

                return;
            case State.ChunkData when length <= _remaining:
                _remaining -= length;
                _lost = true;
                _msg!.WireBytes += length;
                if (_remaining == 0)
                {
                    _state = State.ChunkDataEnd;
                }

                return;
            case State.BodyClose:
                _lost = true;
                _msg!.WireBytes += length;
                return;
            default:
                Abort(null);
                return;
        }
    }

    /// <summary>Connection closed: completes a close-delimited body, reports any message in progress as incomplete.</summary>
    public void End()
    {
        if (_state == State.Closed)
        {
            return;
        }

        if (_state == State.BodyClose)
        {
            Finish(true);
        }
        else if (_state != State.Opaque && _msg is not null)
        {
            Finish(false);
        }

        _state = State.Closed;
    }

    private int FeedLine(ReadOnlySpan<byte> data)
    {
        int lf = data.IndexOf((byte)'\n');
        var part = lf < 0 ? data : data[..lf];
        if (lf >= 0 && _lineLen == 0 && part.Length <= LineCap())
        {
            // The whole line is in this chunk (the usual case): read it where it is.
            ProcessLine(part.Length > 0 && part[^1] == (byte)'\r' ? part[..^1] : part, lf + 1);
            return lf + 1;
        }

        if (!AppendLine(part) || lf < 0)
        {
            return part.Length;
        }

        int raw = _lineLen + 1;
        var line = _line.AsSpan(0, _lineLen);
        if (line.Length > 0 && line[^1] == (byte)'\r')
        {
            line = line[..^1];
        }

        _lineLen = 0;
        ProcessLine(line, raw);
        return lf + 1;
    }

    /// <summary>How long the line being read may grow: a header section has 64 KiB in all.</summary>
    private long LineCap() => _state is State.Headers or State.Trailers ? MaxHeaderBytes - _sectionBytes : MaxHeaderBytes;

    /// <summary>Appends to the line buffer; false when the line overflowed and the parser aborted.</summary>
    private bool AppendLine(ReadOnlySpan<byte> part)
    {
        if ((long)_lineLen + part.Length > LineCap())
        {
            if (_state != State.StartLine)
            {
                Abort(_state is State.Headers or State.Trailers
                    ? "header section exceeds 64 KiB"
                    : "chunk framing line exceeds 64 KiB");
                return false;
            }

            if (!_resync)
            {
                Error("start line exceeds 64 KiB");
                _resync = true;
            }

            // While resynchronising keep only the tail of an overlong line: a start line may end it.
            if (part.Length >= ResyncTailBytes)
            {
                if (_line.Length < ResyncTailBytes)
                {
                    Array.Resize(ref _line, ResyncTailBytes);
                }

                part[^ResyncTailBytes..].CopyTo(_line);
                _lineLen = ResyncTailBytes;
                return true;
            }

            int keep = Math.Min(_lineLen, ResyncTailBytes - part.Length);
            Buffer.BlockCopy(_line, _lineLen - keep, _line, 0, keep);
            _lineLen = keep;
        }

        if (_lineLen + part.Length > _line.Length)
        {
            int size = _line.Length;
            while (size < _lineLen + part.Length)
            {
                size *= 2;
            }

            Array.Resize(ref _line, size);
        }

        part.CopyTo(_line.AsSpan(_lineLen));
        _lineLen += part.Length;
        return true;
    }

    private void ProcessLine(ReadOnlySpan<byte> line, int raw)
    {
        switch (_state)
        {
            case State.StartLine:
                ProcessStartLine(line, raw);
                break;
            case State.Headers:
                _sectionBytes += raw;
                _msg!.WireBytes += raw;
                if (line.IsEmpty)
                {
                    DecideFraming();
                }
                else
                {
                    AddField(_msg.Headers, line);
                }

                break;
            case State.Trailers:
                _sectionBytes += raw;
                _msg!.WireBytes += raw;
                if (line.IsEmpty)
                {
                    Finish(true);
                }
                else
                {
                    AddField(_msg.TrailersToFill, line);
                }

                break;
            case State.ChunkSize:
                _msg!.WireBytes += raw;
                ProcessChunkSize(line);
                break;
            case State.ChunkDataEnd:
                _msg!.WireBytes += raw;
                if (line.IsEmpty)
                {
                    _state = State.ChunkSize;
                }
                else
                {
                    Abort("chunk data not followed by CRLF");
                }

                break;
        }
    }

    private void ProcessStartLine(ReadOnlySpan<byte> line, int raw)
    {
        if (line.IsEmpty)
        {
            return; // RFC 9112 §2.2: empty lines before a start line are ignored.
        }

        // In sync, any token is a valid method. While resynchronising, a well-known method or "HTTP/1." glued
        // after garbage (the tail of a lost message) is preferred: "xyzGET / HTTP/1.1" is a GET, not "xyzGET".
        if (!_resync && TryStart(line, raw))
        {
            return;
        }

        for (int i = 0; i < line.Length; i++)
        {
            if (IsCandidate(line[i..]) && TryStart(line[i..], raw - i))
            {
                return;
            }
        }

        if (_resync && TryStart(line, raw))
        {
            return;
        }

        if (!_resync)
        {
            Error(_role == Http1Role.Request ? "invalid request line" : "invalid status line");
            _resync = true;
        }
    }

    private bool IsCandidate(ReadOnlySpan<byte> s)
    {
        if (_role == Http1Role.Response)
        {
            return s.StartsWith("HTTP/1."u8);
        }

        foreach (var m in MethodNames)
        {
            if (StartsWithAscii(s, m) && s.Length > m.Length && s[m.Length] == (byte)' ')
            {
                return true;
            }
        }

        return false;
    }

    private static bool StartsWithAscii(ReadOnlySpan<byte> s, string prefix)
    {
        if (s.Length < prefix.Length)
        {
            return false;
        }

        for (int i = 0; i < prefix.Length; i++)
        {
            if (s[i] != prefix[i])
            {
                return false;
            }
        }

        return true;
    }

    private bool TryStart(ReadOnlySpan<byte> line, int raw)
    {
        var msg = _role == Http1Role.Request ? ParseRequestLine(line) : ParseStatusLine(line);
        if (msg is null)
        {
            return false;
        }

        if (_role == Http1Role.Response)
        {
            bool final = msg.StatusCode >= 200 || msg.StatusCode == 101;
            if (_methods.Count > 0)
            {
                msg.RequestMethod = final ? _methods.Dequeue() : _methods.Peek();
            }
        }

        _resync = false;
        msg.FirstByteClock = _startClock;
        _msg = msg;
        _lost = false;
        _body.Reset();
        _sectionBytes = raw;
        msg.WireBytes = raw;
        _state = State.Headers;
        return true;
    }

    private Http1Message? ParseRequestLine(ReadOnlySpan<byte> line)
    {
        int sp1 = line.IndexOf((byte)' ');
        if (sp1 <= 0)
        {
            return null;
        }

        var method = line[..sp1];
        foreach (var b in method)
        {
            if (!IsTChar(b))
            {
                return null;
            }
        }

        var rest = line[(sp1 + 1)..];
        int sp2 = rest.IndexOf((byte)' ');
        if (sp2 <= 0)
        {
            return null;
        }

        var target = rest[..sp2];
        foreach (var b in target)
        {
            if (b <= 0x20 || b == 0x7F)
            {
                return null;
            }
        }

        var version = rest[(sp2 + 1)..];
        if (!IsVersion(version) || version.Length != 8)
        {
            return null;
        }

        return new Http1Message(Http1Role.Request, _lastHeaderCount)
        {
            Method = KnownText(method, MethodNames) ?? Encoding.ASCII.GetString(method),
            Target = _fieldStrings.Get(target),
            Version = KnownText(version, KnownVersions) ?? Encoding.ASCII.GetString(version),
        };
    }

    private Http1Message? ParseStatusLine(ReadOnlySpan<byte> line)
    {
        if (line.Length < 12 || !IsVersion(line[..8]) || line[8] != (byte)' ')
        {
            return null;
        }

        int code = 0;
        for (int i = 9; i < 12; i++)
        {
            if (!char.IsAsciiDigit((char)line[i]))
            {
                return null;
            }

            code = (code * 10) + (line[i] - '0');
        }

        string reason;
        if (line.Length == 12)
        {
            reason = "";
        }
        else if (line[12] == (byte)' ')
        {
            reason = _fieldStrings.Get(line[13..]);
        }
        else
        {
            return null;
        }

        if (code < 100)
        {
            return null;
        }

        return new Http1Message(Http1Role.Response, _lastHeaderCount)
        {
            Version = KnownText(line[..8], KnownVersions) ?? Encoding.ASCII.GetString(line[..8]),
            StatusCode = code,
            Reason = reason,
        };
    }

    /// <summary>The string of <paramref name="known"/> equal to <paramref name="text"/> (one string per
    /// method and version for the whole run, not one per message), or null.</summary>
    private static string? KnownText(ReadOnlySpan<byte> text, string[] known)
    {
        foreach (var k in known)
        {
            if (Ascii.Equals(text, k))
            {
                return k;
            }
        }

        return null;
    }

    private static bool IsVersion(ReadOnlySpan<byte> s) =>
        s.Length >= 8 && s.StartsWith("HTTP/1."u8) && char.IsAsciiDigit((char)s[7]);

    private static bool IsTChar(byte b) =>
        char.IsAsciiLetterOrDigit((char)b) || (b < 0x80 && "!#$%&'*+-.^_`|~".Contains((char)b));

    private void AddField(List<(string Name, string Value)> fields, ReadOnlySpan<byte> line)
    {
        if (line[0] is (byte)' ' or (byte)'\t')
        {
            // Obsolete line folding: continue the previous field value.
            if (fields.Count > 0)
            {
                var (n, v) = fields[^1];
                string more = Encoding.Latin1.GetString(TrimOws(line));
                fields[^1] = (n, v.Length == 0 ? more : more.Length == 0 ? v : v + " " + more);
            }
            else
            {
                Error("continuation line without a field");
            }

            return;
        }

        int colon = line.IndexOf((byte)':');
        var name = colon < 0 ? default : TrimOws(line[..colon]);
        if (colon < 0 || name.IsEmpty)
        {
            Error("malformed field line ignored");
            return;
        }

        fields.Add((_fieldStrings.Get(name), _fieldStrings.Get(TrimOws(line[(colon + 1)..]))));
    }

    private static ReadOnlySpan<byte> TrimOws(ReadOnlySpan<byte> s) => s.Trim(" \t"u8);

    private void DecideFraming()
    {
        var msg = _msg!;
        _sectionBytes = 0;
        msg.HeaderBytes = msg.WireBytes;
        _lastHeaderCount = Math.Min(msg.Headers.Count, MaxExpectedHeaders);
        HeadersParsed?.Invoke(msg);
        string? te = JoinedHeader(msg, "Transfer-Encoding");
        string? cl = JoinedHeader(msg, "Content-Length");

        if (msg.Role == Http1Role.Response)
        {
            int code = msg.StatusCode;
            if (code == 101)
            {
                string protocol = msg.GetHeader("Upgrade")?.Trim() ?? "";
                msg.UpgradedTo = protocol.Length == 0 ? "unknown" : protocol;
                Finish(true);
                UpgradedTo = msg.UpgradedTo;
                _state = State.Opaque;
                return;
            }

            if (code < 200 || code == 204 || code == 304 || string.Equals(msg.RequestMethod, "HEAD", StringComparison.Ordinal))
            {
                Finish(true);
                return;
            }

            if (code < 300 && string.Equals(msg.RequestMethod, "CONNECT", StringComparison.Ordinal))
            {
                msg.UpgradedTo = "tunnel";
                Finish(true);
                UpgradedTo = "tunnel";
                _state = State.Opaque;
                return;
            }
        }

        if (te is not null)
        {
            if (LastCodingIsChunked(te))
            {
                msg.Chunked = true;
                _state = State.ChunkSize;
                return;
            }

            if (msg.Role == Http1Role.Response)
            {
                _state = State.BodyClose;
                return;
            }

            Abort("request transfer coding does not end in chunked");
            return;
        }

        if (cl is not null)
        {
            if (!TryParseContentLength(cl, out long length))
            {
                Abort("invalid Content-Length");
                return;
            }

            if (length == 0)
            {
                Finish(true);
                return;
            }

            _remaining = length;
            // Sized from Content-Length: no regrowth (a lying header costs no more than the cap).
            _body.Start((int)Math.Min(Math.Min(length, _maxBodyBytes), MaxPresizedBody));
            _state = State.BodyLength;
            return;
        }

        if (msg.Role == Http1Role.Response)
        {
            _state = State.BodyClose;
        }
        else
        {
            Finish(true);
        }
    }

    private static string? JoinedHeader(Http1Message msg, string name)
    {
        string? result = null;
        foreach (var (n, v) in msg.Headers)
        {
            if (string.Equals(n, name, StringComparison.OrdinalIgnoreCase))
            {
                result = result is null ? v : result + "," + v;
            }
        }

        return result;
    }

    private static bool LastCodingIsChunked(string te)
    {
        string last = "";
        foreach (var part in te.Split(','))
        {
            var t = part.Trim();
            if (t.Length > 0)
            {
                last = t;
            }
        }

        int semi = last.IndexOf(';');
        if (semi >= 0)
        {
            last = last[..semi].Trim();
        }

        return string.Equals(last, "chunked", StringComparison.OrdinalIgnoreCase);
    }

    private static bool TryParseContentLength(string value, out long length)
    {
        length = -1;
        foreach (var part in value.Split(','))
        {
            var t = part.Trim();
            if (t.Length == 0 || t.Length > 18)
            {
                return false;
            }

            long v = 0;
            foreach (char c in t)
            {
                if (!char.IsAsciiDigit(c))
                {
                    return false;
                }

                v = (v * 10) + (c - '0');
            }

            if (length >= 0 && v != length)
            {
                return false;
            }

            length = v;
        }

        return length >= 0;
    }

    private void ProcessChunkSize(ReadOnlySpan<byte> line)
    {
        long size = 0;
        int i = 0;
        while (i < line.Length && char.IsAsciiHexDigit((char)line[i]))
        {
            if (i >= 15)
            {
                Abort("chunk size too large");
                return;
            }

            size = (size << 4) | (long)HexValue(line[i]);
            i++;
        }

        var rest = TrimOws(line[i..]);
        if (i == 0 || (!rest.IsEmpty && rest[0] != (byte)';'))
        {
            Abort("invalid chunk size line");
            return;
        }

        if (size == 0)
        {
            _sectionBytes = 0;
            _state = State.Trailers;
            return;
        }

        _remaining = size;
        _state = State.ChunkData;
    }

    private static int HexValue(byte b) => b <= '9' ? b - '0' : (b | 0x20) - 'a' + 10;

    private void AppendBody(ReadOnlySpan<byte> data)
    {
        var msg = _msg!;
        msg.WireBytes += data.Length;
        msg.BodyLength += data.Length;
        long room = _maxBodyBytes - _body.Length;
        if (room >= data.Length)
        {
            _body.Append(data);
            return;
        }

        if (room > 0)
        {
            _body.Append(data[..(int)room]);
        }

        msg.BodyTruncated = true;
    }

    private void Finish(bool complete)
    {
        var msg = _msg!;
        msg.Complete = complete && !_lost;
        msg.LastByteClock = Clock;
        msg.BodyLease = _body.Detach();
        _msg = null;
        _lost = false;
        _remaining = 0;
        _sectionBytes = 0;
        _state = State.StartLine;
        MessageParsed?.Invoke(msg);
    }

    /// <summary>Drops the message in progress (reported incomplete) and resynchronises on the next start line.</summary>
    private void Abort(string? error)
    {
        if (error is not null)
        {
            Error(error);
        }

        if (_msg is not null)
        {
            Finish(false);
        }

        _state = State.StartLine;
        _lineLen = 0;
        _resync = true;
    }

    private void Error(string message)
    {
        ProtocolError?.Invoke(new Http1ProtocolError(_offset, message));
    }
}
