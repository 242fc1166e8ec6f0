using System.Buffers.Binary;
using System.Text;
using System.Text.Unicode;

namespace TlsScope.Protocols.WebSocket;

/// <summary>
/// Incremental WebSocket frame parser (RFC 6455 Section 5) for one direction of an upgraded connection.
/// Accepts any split of the byte stream (events do not depend on it), never throws on input and keeps bounded
/// state: a frame payload is buffered up to the cap given to the constructor, the rest is counted only.
/// <para>
/// A gap inside a payload whose remaining length covers it keeps framing (the frame is marked
/// <see cref="WebSocketFrame.PayloadLost"/>). Any other gap loses framing for good, since WebSocket has no
/// resynchronisation marker: the parser reports it once, becomes <see cref="Lost"/> and only counts later bytes.
/// </para>
/// </summary>
public sealed class WebSocketFrameParser
{
    /// <summary>Default cap on the payload bytes kept per frame.</summary>
    public const long DefaultMaxPayloadBytes = 16L * 1024 * 1024;

    /// <summary>Largest control frame payload the protocol allows.</summary>
    public const int MaxControlPayload = 125;

    private const int MaxHeaderLength = 14;
    private const int InitialPayloadBuffer = 256;
    private const int ShrinkAbove = 64 * 1024;

    private enum State
    {
        Header,
        Payload,
        Lost,
        Ended,
    }

    private readonly byte[] _hdr = new byte[MaxHeaderLength];
    private readonly byte[] _mask = new byte[4];
    private readonly int _maxPayload;
    private State _state;
    private int _hdrLen;
    private int _hdrNeed = 2;
    private bool _inMessage;

    // Current frame.
    private bool _fin;
    private bool _rsv1;
    private bool _masked;
    private WebSocketOpcode _opcode;
    private int _headerLength;
    private long _frameLen;
    private long _pos;
    private byte[] _payload = new byte[InitialPayloadBuffer];
    private int _stored;
    private int _storedBeforeGap;
    private bool _truncated;
    private bool _payloadLost;
    private long _firstClock;

    /// <summary>Creates a parser for one direction.</summary>
    /// <param name="maxPayloadBytes">Payload bytes kept per frame (clamped to 0..<see cref="Array.MaxLength"/>); the rest is counted but not stored.</param>
    public WebSocketFrameParser(long maxPayloadBytes = DefaultMaxPayloadBytes)
    {
        _maxPayload = (int)Math.Clamp(maxPayloadBytes, 0, Array.MaxLength);
    }

    /// <summary>Raised for each complete frame, in stream order (frames with protocol errors included).</summary>
    public event Action<WebSocketFrame>? FrameParsed;

    /// <summary>Raised for each protocol error, as one line.</summary>
    public event Action<string>? ProtocolError;

    /// <summary>
    /// The caller's clock (any unit, e.g. Unix ns) for the bytes about to be fed: frames record it as their
    /// first and last byte times.
    /// </summary>
    public long Clock { get; set; }

    /// <summary>True once framing was lost (a gap outside a payload, or an invalid length): later bytes are only counted.</summary>
    public bool Lost { get; private set; }

    /// <summary>Stream offset reached, gap bytes included.</summary>
    public long StreamOffset { get; private set; }

    /// <summary>Complete frames delivered so far.</summary>
    public long FrameCount { get; private set; }


    /// <summary>Feeds the next bytes of the direction.</summary>
    public void Feed(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            int used;
            switch (_state)
            {
                case State.Header:
                    if (_hdrLen == 0)
                    {
                        _firstClock = Clock;
                    }

                    used = Math.Min(_hdrNeed - _hdrLen, data.Length);
                    data[..used].CopyTo(_hdr.AsSpan(_hdrLen));
                    _hdrLen += used;
                    StreamOffset += used;
                    if (_hdrLen == _hdrNeed)
                    {
                        HeaderComplete();
                    }

                    break;
                case State.Payload:
                    used = (int)Math.Min(_frameLen - _pos, data.Length);
                    StorePayload(data[..used]);
                    _pos += used;
                    StreamOffset += used;
                    if (_pos == _frameLen)
                    {
                        FinishFrame();
                    }

                    break;
                default:
                    StreamOffset += data.Length;
                    return;
            }

            data = data[used..];
        }
    }

    /// <summary>
    /// Tells the parser that <paramref name="length"/> bytes were lost. Inside a payload whose remaining length
    /// covers the gap the bytes are skipped and the frame is marked <see cref="WebSocketFrame.PayloadLost"/>;
    /// otherwise framing is lost for good (reported once, then <see cref="Lost"/>).
    /// </summary>
    public void Gap(long length)
    {
        if (length <= 0)
        {
            return;
        }

        StreamOffset += length;
        switch (_state)
        {
            case State.Payload when length <= _frameLen - _pos:
                if (!_payloadLost)
                {
                    _payloadLost = true;
                    _storedBeforeGap = _stored;
                }

                _pos += length;
                if (_pos == _frameLen)
                {
                    FinishFrame();
                }

                return;
            case State.Payload:
                LoseFraming($"gap of {length} bytes runs past the end of a {NameOf(_opcode)} frame payload ({_frameLen - _pos} bytes left): framing lost");
                return;
            case State.Header:
                LoseFraming(_hdrLen == 0
                    ? $"gap of {length} bytes at a frame boundary: framing lost"
                    : $"gap of {length} bytes inside a frame header: framing lost");
                return;
            default:
                return;
        }
    }

    /// <summary>Ends the direction: a frame cut short is reported as a protocol error (and not delivered); later input is only counted.</summary>
    public void End()
    {
        if (_state == State.Header && _hdrLen > 0)
        {
            Error($"stream ended inside a frame header ({_hdrLen} of {_hdrNeed} bytes)");
        }
        else if (_state == State.Payload)
        {
            Error($"stream ended inside a {NameOf(_opcode)} frame ({_pos} of {_frameLen} payload bytes)");
        }

        _state = State.Ended;
        _hdrLen = 0;
        ReleasePayload();
    }

    private static string NameOf(WebSocketOpcode opcode) => WebSocketFrame.NameOf(opcode);

    private static int HeaderLength(byte second)
    {
        int len7 = second & 0x7F;
        int n = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
        return (second & 0x80) != 0 ? n + 4 : n;
    }

    private void HeaderComplete()
    {
        if (_hdrNeed == 2)
        {
            _hdrNeed = HeaderLength(_hdr[1]);
            if (_hdrNeed > 2)
            {
                return;
            }
        }

        byte b0 = _hdr[0];
        byte b1 = _hdr[1];
        int len7 = b1 & 0x7F;
        int at = 2;
        long len;
        if (len7 == 126)
        {
            len = BinaryPrimitives.ReadUInt16BigEndian(_hdr.AsSpan(2));
            at = 4;
        }
        else if (len7 == 127)
        {
            ulong raw = BinaryPrimitives.ReadUInt64BigEndian(_hdr.AsSpan(2));
            if (raw > long.MaxValue)
            {
                LoseFraming($"64-bit payload length 0x{raw:X16} has its most significant bit set: framing lost");
                return;
            }

            len = (long)raw;
            at = 10;
        }
        else
        {
            len = len7;
        }

        _fin = (b0 & 0x80) != 0;
        _rsv1 = (b0 & 0x40) != 0;
        _opcode = (WebSocketOpcode)(b0 & 0x0F);
        _masked = (b1 & 0x80) != 0;
        if (_masked)
        {
            _hdr.AsSpan(at, 4).CopyTo(_mask);
        }

        _headerLength = _hdrNeed;
        _hdrLen = 0;
        _hdrNeed = 2;
        _frameLen = len;
        _pos = 0;
        _stored = 0;
        _storedBeforeGap = 0;
        _truncated = false;
        _payloadLost = false;
        CheckFrame();

        if (_frameLen == 0)
        {
            FinishFrame();
        }
        else
        {
            _state = State.Payload;
        }
    }

    /// <summary>Reports header-level protocol errors; the frame is still delivered.</summary>
    private void CheckFrame()
    {
        byte op = (byte)_opcode;
        string name = NameOf(_opcode);
        if (op >= 8)
        {
            if (op > 10)
            {
                Error($"reserved control opcode {op}");
            }

            if (!_fin)
            {
                Error($"fragmented control frame ({name})");
            }

            if (_frameLen > MaxControlPayload)
            {
                Error($"{name} frame payload of {_frameLen} bytes exceeds {MaxControlPayload}");
            }

            if (_opcode == WebSocketOpcode.Close && _frameLen == 1)
            {
                Error("close frame with a 1-byte payload (a status code takes 2)");
            }

            return;
        }

        switch (_opcode)
        {
            case WebSocketOpcode.Continuation:
                if (!_inMessage)
                {
                    Error("continuation frame without a fragmented message in progress");
                }

                _inMessage = !_fin;
                break;
            case WebSocketOpcode.Text:
            case WebSocketOpcode.Binary:
                if (_inMessage)
                {
                    Error($"{name} frame while a fragmented message is in progress");
                }

                _inMessage = !_fin;
                break;
            default:
                Error($"reserved data opcode {op}");
                break;
        }
    }

    private void StorePayload(ReadOnlySpan<byte> chunk)
    {
        int keep = Math.Min(_maxPayload - _stored, chunk.Length);
        if (keep < chunk.Length)
        {
            _truncated = true;
        }

        if (keep <= 0)
        {
            return;
        }

        int need = _stored + keep;
        if (_payload.Length < need)
        {
            // Grows with the bytes actually received, never beyond the cap or what the frame can still bring.
            long limit = Math.Min(_maxPayload, _stored + (_frameLen - _pos));
            int size = (int)Math.Max(need, Math.Min(limit, (long)_payload.Length * 2));
            Array.Resize(ref _payload, size);
        }

        var dst = _payload.AsSpan(_stored, keep);
        if (_masked)
        {
            int phase = (int)(_pos & 3);
            for (int i = 0; i < keep; i++)
            {
                dst[i] = (byte)(chunk[i] ^ _mask[(phase + i) & 3]);
            }
        }
        else
        {
            chunk[..keep].CopyTo(dst);
        }

        _stored = need;
    }

    private void FinishFrame()
    {
        _state = State.Header;
        byte[] payload;
        if (_stored == 0)
        {
            payload = [];
        }
        else if (_stored == _payload.Length)
        {
            payload = _payload;
            _payload = new byte[InitialPayloadBuffer];
        }
        else
        {
            payload = _payload.AsSpan(0, _stored).ToArray();
            if (_payload.Length > ShrinkAbove)
            {
                _payload = new byte[InitialPayloadBuffer];
            }
        }

        ushort? closeCode = null;
        string? closeReason = null;
        if (_opcode == WebSocketOpcode.Close)
        {
            (closeCode, closeReason) = ParseClose(payload);
        }

        var frame = new WebSocketFrame
        {
            Fin = _fin,
            Opcode = _opcode,
            Compressed = _rsv1,
            Masked = _masked,
            PayloadLength = _frameLen,
            Payload = payload,
            PayloadTruncated = _truncated,
            PayloadLost = _payloadLost,
            WireBytes = _headerLength + _frameLen,
            FirstByteClock = _firstClock,
            LastByteClock = Clock,
            CloseCode = closeCode,
            CloseReason = closeReason,
        };
        _stored = 0;
        FrameCount++;
        FrameParsed?.Invoke(frame);
    }

    private (ushort? Code, string Reason) ParseClose(byte[] payload)
    {
        // Only the bytes received before any gap are known to sit at their place in the payload.
        int known = _payloadLost ? _storedBeforeGap : payload.Length;
        if (known < 2)
        {
            return (null, "");
        }

        ushort code = BinaryPrimitives.ReadUInt16BigEndian(payload);
        if (!IsValidCloseCode(code))
        {
            Error($"close status code {code} is not allowed on the wire");
        }

        ReadOnlySpan<byte> reason = payload.AsSpan(2, known - 2);
        bool complete = !_payloadLost && !_truncated;
        if (complete && !Utf8.IsValid(reason))
        {
            Error("close reason is not valid UTF-8");
        }

        return (code, Encoding.UTF8.GetString(reason));
    }

    /// <summary>RFC 6455 Section 7.4: 1004-1006 and 1015 are reserved, 0-999 unused, 5000 and up undefined.</summary>
    private static bool IsValidCloseCode(ushort code) =>
        code is >= 1000 and < 5000 and not (1004 or 1005 or 1006 or 1015);

    private void LoseFraming(string message)
    {
        Error(message);
        Lost = true;
        _state = State.Lost;
        _inMessage = false;
        _hdrLen = 0;
        _hdrNeed = 2;
        ReleasePayload();
    }

    private void ReleasePayload()
    {
        _stored = 0;
        if (_payload.Length > InitialPayloadBuffer)
        {
            _payload = new byte[InitialPayloadBuffer];
        }
    }

    private void Error(string message)
    {
        ProtocolError?.Invoke(message);
    }
}
