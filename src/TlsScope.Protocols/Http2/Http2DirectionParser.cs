using System.Buffers.Binary;
using TlsScope.Protocols.Hpack;

namespace TlsScope.Protocols.Http2;

/// <summary>
/// Incremental HTTP/2 frame parser for one direction of one connection (RFC 9113). Accepts any split of
/// the byte stream (events do not depend on it), never throws on input and keeps bounded state: a frame
/// payload is buffered up to <see cref="MaxFramePayload"/> and a header block up to <see cref="MaxHeaderBlockBytes"/>.
/// <para>
/// Header blocks are decoded with this direction's <see cref="HpackDecoder"/>. Once bytes are lost
/// (<see cref="Gap"/>) or a block cannot be decoded, the HPACK state is gone for good: the direction is
/// <see cref="Desynchronised"/> and later blocks are reported through <see cref="HeadersUndecodable"/>, while
/// framing (and so DATA) continues when it can be kept or found again.
/// </para>
/// </summary>
public sealed class Http2DirectionParser
{
    /// <summary>The client connection preface (RFC 9113 Section 3.4).</summary>
    public static ReadOnlySpan<byte> ClientPreface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    /// <summary>Largest frame payload the protocol allows (2^24-1, the maximum SETTINGS_MAX_FRAME_SIZE).</summary>
    public const int MaxFramePayload = (1 << 24) - 1;

    /// <summary>Largest header block (HEADERS or PUSH_PROMISE plus CONTINUATION) that is buffered.</summary>
    public const int MaxHeaderBlockBytes = 1024 * 1024;

    /// <summary>Largest frame accepted as a resynchronisation point after framing was lost (the default SETTINGS_MAX_FRAME_SIZE).</summary>
    public const int ResyncMaxFrameLength = 16384;

    private const int FrameHeaderLength = 9;

    private const int ShrinkAbove = 64 * 1024;

    private enum State
    {
        Preface,
        FrameHeader,
        Payload,
        Resync,
        Failed,
        Ended,
    }

    private readonly byte[] _hdr = new byte[FrameHeaderLength];
    private readonly int _maxFrameSize;
    private State _state;
    private int _hdrLen;
    private int _prefaceLen;

    // Current frame.
    private int _frameLen;
    private byte _frameType;
    private byte _frameFlags;
    private int _frameStream;
    private byte[] _payload = new byte[256];
    private int _payloadLen;
    private bool _frameDamaged;

    // Header block in progress (HEADERS/PUSH_PROMISE followed by CONTINUATION).
    private bool _inBlock;
    private byte[] _block = new byte[256];
    private int _blockLen;
    private int _blockStream;
    private bool _blockEndStream;
    private bool _blockIsPush;
    private int _blockPromised;
    private bool _blockDamaged;

    /// <summary>Creates a parser for one direction.</summary>
    /// <param name="role">Which direction the stream carries; the client direction must start with the preface.</param>
    /// <param name="decoder">HPACK decoder for this direction's header blocks; a new default one when null.</param>
    /// <param name="maxFrameSize">Frames with a longer payload are a protocol error that stops parsing (at most <see cref="MaxFramePayload"/>).</param>
    public Http2DirectionParser(Http2Role role, HpackDecoder? decoder = null, int maxFrameSize = MaxFramePayload)
    {
        Role = role;
        Decoder = decoder ?? new HpackDecoder();
        _maxFrameSize = Math.Clamp(maxFrameSize, 0, MaxFramePayload);
        _state = role == Http2Role.ClientToServer ? State.Preface : State.FrameHeader;
    }

    /// <summary>Raised for each decoded HEADERS block: stream id, fields in wire order (pseudo-headers included), END_STREAM.</summary>
    public event Action<int, List<(string Name, string Value)>, bool>? HeadersDecoded;

    /// <summary>Raised for a HEADERS block that cannot be decoded (desynchronised HPACK state): stream id, END_STREAM, reason.</summary>
    public event Action<int, bool, string>? HeadersUndecodable;

    /// <summary>
    /// Raised for each DATA frame with padding removed: stream id, the data, END_STREAM. The data points
    /// into the parser's frame buffer: it is valid only during the call (copy what you keep).
    /// </summary>
    public event Action<int, ReadOnlyMemory<byte>, bool>? Data;

    /// <summary>Raised for a DATA frame partly lost to a gap: stream id, END_STREAM. Its data is not reported.</summary>
    public event Action<int, bool>? DataLost;

    /// <summary>Raised for RST_STREAM: stream id, error code.</summary>
    public event Action<int, uint>? StreamReset;

    /// <summary>Raised for GOAWAY: last stream id, error code.</summary>
    public event Action<int, uint>? GoAway;

    /// <summary>Raised for SETTINGS: the (identifier, value) pairs in wire order, and whether it is an ACK (then empty).</summary>
    public event Action<IReadOnlyList<(ushort Id, uint Value)>, bool>? SettingsReceived;

    /// <summary>Raised for PUSH_PROMISE: associated stream id, promised stream id, request fields (null when undecodable).</summary>
    public event Action<int, int, List<(string Name, string Value)>?>? PushPromise;

    /// <summary>Raised for PING: ACK flag and the 8 opaque octets as a big-endian number.</summary>
    public event Action<bool, ulong>? Ping;

    /// <summary>Raised for WINDOW_UPDATE: stream id (0 for the connection), increment.</summary>
    public event Action<int, uint>? WindowUpdate;

    /// <summary>Raised for PRIORITY frames and HEADERS priority fields: stream id, dependency, weight (1-256), exclusive.</summary>
    public event Action<int, int, int, bool>? Priority;

    /// <summary>Raised for each complete frame before it is dispatched: stream, type, frame length (9-byte header included).</summary>
    public event Action<int, byte, int>? FrameReceived;

    /// <summary>Raised for each protocol error, as one line.</summary>
    public event Action<string>? ProtocolError;

    /// <summary>The role given at construction.</summary>
    public Http2Role Role { get; }

    /// <summary>The HPACK decoder of this direction's header blocks.</summary>
    public HpackDecoder Decoder { get; }

    /// <summary>True once HPACK state was lost (gap, oversized or malformed block): header blocks are no longer decoded.</summary>
    public bool Desynchronised { get; private set; }

    /// <summary>True after an error that made framing impossible (bad preface, oversized frame); later bytes are ignored.</summary>
    public bool Failed => _state == State.Failed;

    /// <summary>True while framing is lost after a gap and a plausible frame header is being searched for.</summary>
    public bool Resynchronising => _state == State.Resync;

    /// <summary>Complete frames parsed so far (damaged ones included).</summary>
    public long FrameCount { get; private set; }


    /// <summary>Stream offset reached, gap bytes included.</summary>
    public long StreamOffset { get; private set; }

    /// <summary>Feeds the next bytes of the direction.</summary>
    public void Feed(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            int used;
            switch (_state)
            {
                case State.Failed:
                case State.Ended:
                    StreamOffset += data.Length;
                    return;
                case State.Preface:
                    used = FeedPreface(data);
                    break;
                case State.FrameHeader:
                    used = Math.Min(FrameHeaderLength - _hdrLen, data.Length);
                    data[..used].CopyTo(_hdr.AsSpan(_hdrLen));
                    _hdrLen += used;
                    if (_hdrLen == FrameHeaderLength)
                    {
                        _hdrLen = 0;
                        StartFrame();
                    }

                    break;
                case State.Payload:
                    used = Math.Min(_frameLen - _payloadLen, data.Length);
                    if (!_frameDamaged)
                    {
                        if (_payload.Length < _payloadLen + used)
                        {
                            // Grows with the bytes actually received, never beyond the announced length.
                            Array.Resize(ref _payload, Math.Min(_frameLen, Math.Max(_payloadLen + used, _payload.Length * 2)));
                        }

                        data[..used].CopyTo(_payload.AsSpan(_payloadLen));
                    }

                    _payloadLen += used;
                    if (_payloadLen == _frameLen)
                    {
                        FinishFrame();
                    }

                    break;
                default:
                    used = 1;
                    ResyncByte(data[0]);
                    break;
            }

            StreamOffset += used;
            data = data[used..];
        }
    }

    /// <summary>
    /// Tells the parser that <paramref name="length"/> bytes were lost. HPACK state is lost with them. A gap
    /// inside a frame payload keeps framing (that frame is damaged); otherwise a plausible frame header is searched for.
    /// </summary>
    public void Gap(long length)
    {
        if (length <= 0 || _state is State.Failed or State.Ended)
        {
            StreamOffset += Math.Max(0, length);
            return;
        }

        StreamOffset += length;
        Desynchronised = true;
        _blockDamaged = _inBlock;
        if (_state == State.Payload && length <= _frameLen - _payloadLen)
        {
            // The gap lies inside this frame's payload (ending at most at its end): framing survives.
            _frameDamaged = true;
            _payloadLen += (int)length;
            if (_payloadLen == _frameLen)
            {
                FinishFrame();
            }

            return;
        }

        // Framing is lost: drop the frame and any block in progress, look for the next plausible header.
        _inBlock = false;
        _blockDamaged = false;
        _hdrLen = 0;
        _state = State.Resync;
    }

    /// <summary>Ends the direction: reports a truncated frame or header block, ignores later input.</summary>
    public void End()
    {
        if (_state == State.Ended)
        {
            return;
        }

        if (_state == State.Preface && _prefaceLen > 0)
        {
            Error("stream ended inside the connection preface");
        }
        else if ((_state == State.FrameHeader && _hdrLen > 0) || _state == State.Payload)
        {
            Error("stream ended inside a frame");
        }
        else if (_inBlock && _state != State.Failed)
        {
            Error($"stream ended inside a header block of stream {_blockStream}");
        }

        _inBlock = false;
        _state = State.Ended;
    }

    private int FeedPreface(ReadOnlySpan<byte> data)
    {
        ReadOnlySpan<byte> preface = ClientPreface;
        int used = 0;
        while (used < data.Length && _prefaceLen < preface.Length)
        {
            if (data[used] != preface[_prefaceLen])
            {
                Error($"invalid connection preface at octet {_prefaceLen}");
                _state = State.Failed;
                return data.Length;
            }

            used++;
            _prefaceLen++;
        }

        if (_prefaceLen == preface.Length)
        {
            _state = State.FrameHeader;
        }

        return used;
    }

    private void ResyncByte(byte b)
    {
        _hdr[_hdrLen++] = b;
        if (_hdrLen < FrameHeaderLength)
        {
            return;
        }

        if (IsPlausibleHeader(_hdr))
        {
            _hdrLen = 0;
            StartFrame();
            return;
        }

        _hdr.AsSpan(1).CopyTo(_hdr);
        _hdrLen = FrameHeaderLength - 1;
    }

    private static bool IsPlausibleHeader(ReadOnlySpan<byte> h)
    {
        int len = (h[0] << 16) | (h[1] << 8) | h[2];
        byte type = h[3];
        byte flags = h[4];
        uint raw = BinaryPrimitives.ReadUInt32BigEndian(h[5..]);
        if ((raw & 0x8000_0000) != 0 || len > ResyncMaxFrameLength)
        {
            return false;
        }

        int stream = (int)raw;
        return type switch
        {
            Http2FrameType.Data => stream != 0 && (flags & ~(Http2Flags.EndStream | Http2Flags.Padded)) == 0,
            Http2FrameType.Headers => stream != 0 && len > 0 &&
                (flags & ~(Http2Flags.EndStream | Http2Flags.EndHeaders | Http2Flags.Padded | Http2Flags.Priority)) == 0,
            Http2FrameType.Priority => stream != 0 && len == 5 && flags == 0,
            Http2FrameType.RstStream => stream != 0 && len == 4 && flags == 0,
            Http2FrameType.Settings => stream == 0 && (flags == Http2Flags.Ack ? len == 0 : flags == 0 && len % 6 == 0),
            Http2FrameType.Ping => stream == 0 && len == 8 && (flags & ~Http2Flags.Ack) == 0,
            Http2FrameType.GoAway => stream == 0 && len >= 8 && flags == 0,
            Http2FrameType.WindowUpdate => len == 4 && flags == 0,
            _ => false, // PUSH_PROMISE and CONTINUATION need HPACK context; unknown types are too vague.
        };
    }

    private void StartFrame()
    {
        _frameLen = (_hdr[0] << 16) | (_hdr[1] << 8) | _hdr[2];
        _frameType = _hdr[3];
        _frameFlags = _hdr[4];
        _frameStream = (int)(BinaryPrimitives.ReadUInt32BigEndian(_hdr.AsSpan(5)) & 0x7FFF_FFFF);
        _payloadLen = 0;
        _frameDamaged = false;
        if (_frameLen > _maxFrameSize)
        {
            Error($"frame of {_frameLen} octets exceeds the maximum frame size {_maxFrameSize}");
            _state = State.Failed;
            return;
        }

        if (_payload.Length > ShrinkAbove && _frameLen <= ShrinkAbove)
        {
            _payload = new byte[256];
        }

        if (_frameLen == 0)
        {
            FinishFrame();
        }
        else
        {
            _state = State.Payload;
        }
    }

    private void FinishFrame()
    {
        _state = State.FrameHeader;
        FrameCount++;
        // A damaged frame's buffer stopped growing at the gap: it has no payload to slice.
        ReadOnlySpan<byte> p = _frameDamaged ? default : _payload.AsSpan(0, _frameLen);
        int stream = _frameStream;
        byte flags = _frameFlags;
        FrameReceived?.Invoke(stream, _frameType, FrameHeaderLength + _frameLen);

        if (_inBlock && (_frameType != Http2FrameType.Continuation || stream != _blockStream))
        {
            Error($"frame type {_frameType} on stream {stream} interrupts the header block of stream {_blockStream}");
            LoseHpack();
            _inBlock = false;
        }

        if (_frameDamaged)
        {
            FinishDamagedFrame(stream, flags);
            return;
        }

        switch (_frameType)
        {
            case Http2FrameType.Data:
                OnData(p, stream, flags);
                break;
            case Http2FrameType.Headers:
                OnHeaders(p, stream, flags);
                break;
            case Http2FrameType.Priority:
                if (RequireStream(stream, "PRIORITY") && RequireLength(p, 5, "PRIORITY"))
                {
                    RaisePriority(stream, p);
                }

                break;
            case Http2FrameType.RstStream:
                if (RequireStream(stream, "RST_STREAM") && RequireLength(p, 4, "RST_STREAM"))
                {
                    StreamReset?.Invoke(stream, BinaryPrimitives.ReadUInt32BigEndian(p));
                }

                break;
            case Http2FrameType.Settings:
                OnSettings(p, stream, flags);
                break;
            case Http2FrameType.PushPromise:
                OnPushPromise(p, stream, flags);
                break;
            case Http2FrameType.Ping:
                if (RequireConnection(stream, "PING") && RequireLength(p, 8, "PING"))
                {
                    Ping?.Invoke((flags & Http2Flags.Ack) != 0, BinaryPrimitives.ReadUInt64BigEndian(p));
                }

                break;
            case Http2FrameType.GoAway:
                if (!RequireConnection(stream, "GOAWAY"))
                {
                    break;
                }

                if (p.Length < 8)
                {
                    Error($"GOAWAY of {p.Length} octets is shorter than 8");
                    break;
                }

                GoAway?.Invoke((int)(BinaryPrimitives.ReadUInt32BigEndian(p) & 0x7FFF_FFFF), BinaryPrimitives.ReadUInt32BigEndian(p[4..]));
                break;
            case Http2FrameType.WindowUpdate:
                if (RequireLength(p, 4, "WINDOW_UPDATE"))
                {
                    WindowUpdate?.Invoke(stream, BinaryPrimitives.ReadUInt32BigEndian(p) & 0x7FFF_FFFF);
                }

                break;
            case Http2FrameType.Continuation:
                OnContinuation(p, stream, flags);
                break;
            default:
                // Unknown frame types are ignored (RFC 9113 Section 4.1).
                break;
        }
    }

    private void FinishDamagedFrame(int stream, byte flags)
    {
        switch (_frameType)
        {
            case Http2FrameType.Data when stream != 0:
                DataLost?.Invoke(stream, (flags & Http2Flags.EndStream) != 0);
                break;
            case Http2FrameType.Headers when stream != 0:
                BeginBlock(stream, (flags & Http2Flags.EndStream) != 0, false, 0, flags, damaged: true);
                break;
            case Http2FrameType.PushPromise when stream != 0:
                BeginBlock(stream, false, true, 0, flags, damaged: true);
                break;
            case Http2FrameType.Continuation when _inBlock:
                _blockDamaged = true;
                if ((flags & Http2Flags.EndHeaders) != 0)
                {
                    FinishBlock();
                }

                break;
            default:
                break;
        }
    }

    private void OnData(ReadOnlySpan<byte> p, int stream, byte flags)
    {
        if (!RequireStream(stream, "DATA") || !TryStripPadding(ref p, flags, 0, "DATA"))
        {
            return;
        }

        // p is the payload minus its pad-length byte (when PADDED) and its padding: point at it in place.
        int start = (flags & Http2Flags.Padded) != 0 ? 1 : 0;
        Data?.Invoke(stream, _payload.AsMemory(start, p.Length), (flags & Http2Flags.EndStream) != 0);
    }

    private void OnHeaders(ReadOnlySpan<byte> p, int stream, byte flags)
    {
        if (!RequireStream(stream, "HEADERS"))
        {
            LoseHpack();
            return;
        }

        int prefix = (flags & Http2Flags.Priority) != 0 ? 5 : 0;
        if (!TryStripPadding(ref p, flags, prefix, "HEADERS"))
        {
            // The fragment cannot be located, so the dynamic table may have changed unseen.
            LoseHpack();
            HeadersUndecodable?.Invoke(stream, (flags & Http2Flags.EndStream) != 0, "malformed HEADERS frame");
            return;
        }

        if (prefix != 0)
        {
            RaisePriority(stream, p);
            p = p[5..];
        }

        BeginBlock(stream, (flags & Http2Flags.EndStream) != 0, false, 0, flags, damaged: false);
        AppendBlock(p);
        if ((flags & Http2Flags.EndHeaders) != 0)
        {
            FinishBlock();
        }
    }

    private void OnPushPromise(ReadOnlySpan<byte> p, int stream, byte flags)
    {
        if (!RequireStream(stream, "PUSH_PROMISE") || !TryStripPadding(ref p, flags, 4, "PUSH_PROMISE"))
        {
            LoseHpack();
            return;
        }

        if (Role == Http2Role.ClientToServer)
        {
            // Still decoded below: the block changed the dynamic table either way.
            Error($"PUSH_PROMISE sent by the client on stream {stream}");
        }

        int promised = (int)(BinaryPrimitives.ReadUInt32BigEndian(p) & 0x7FFF_FFFF);
        BeginBlock(stream, false, true, promised, flags, damaged: false);
        AppendBlock(p[4..]);
        if ((flags & Http2Flags.EndHeaders) != 0)
        {
            FinishBlock();
        }
    }

    private void OnContinuation(ReadOnlySpan<byte> p, int stream, byte flags)
    {
        if (!_inBlock)
        {
            Error($"CONTINUATION on stream {stream} without a preceding HEADERS or PUSH_PROMISE");
            LoseHpack();
            return;
        }

        AppendBlock(p);
        if ((flags & Http2Flags.EndHeaders) != 0)
        {
            FinishBlock();
        }
    }

    private void OnSettings(ReadOnlySpan<byte> p, int stream, byte flags)
    {
        if (!RequireConnection(stream, "SETTINGS"))
        {
            return;
        }

        bool ack = (flags & Http2Flags.Ack) != 0;
        if (ack && p.Length != 0)
        {
            Error($"SETTINGS ACK with {p.Length} octets of payload");
            return;
        }

        if (p.Length % 6 != 0)
        {
            Error($"SETTINGS of {p.Length} octets is not a multiple of 6");
            return;
        }

        var list = new List<(ushort Id, uint Value)>(p.Length / 6);
        for (int i = 0; i < p.Length; i += 6)
        {
            list.Add((BinaryPrimitives.ReadUInt16BigEndian(p[i..]), BinaryPrimitives.ReadUInt32BigEndian(p[(i + 2)..])));
        }

        SettingsReceived?.Invoke(list, ack);
    }

    private void RaisePriority(int stream, ReadOnlySpan<byte> p)
    {
        uint dep = BinaryPrimitives.ReadUInt32BigEndian(p);
        Priority?.Invoke(stream, (int)(dep & 0x7FFF_FFFF), p[4] + 1, (dep & 0x8000_0000) != 0);
    }

    private bool TryStripPadding(ref ReadOnlySpan<byte> p, byte flags, int fixedPrefix, string name)
    {
        int pad = 0;
        if ((flags & Http2Flags.Padded) != 0)
        {
            if (p.IsEmpty)
            {
                Error($"padded {name} frame on stream {_frameStream} without a pad length");
                return false;
            }

            pad = p[0];
            p = p[1..];
        }

        if (pad + fixedPrefix > p.Length)
        {
            Error($"{name} frame on stream {_frameStream}: padding and fields exceed the payload");
            return false;
        }

        p = p[..^pad];
        return true;
    }

    private void BeginBlock(int stream, bool endStream, bool isPush, int promised, byte flags, bool damaged)
    {
        _inBlock = true;
        _blockLen = 0;
        _blockStream = stream;
        _blockEndStream = endStream;
        _blockIsPush = isPush;
        _blockPromised = promised;
        _blockDamaged = damaged;
        if (damaged && (flags & Http2Flags.EndHeaders) != 0)
        {
            FinishBlock();
        }
    }

    private void AppendBlock(ReadOnlySpan<byte> fragment)
    {
        if (_blockDamaged || Desynchronised)
        {
            return;
        }

        if (fragment.Length > MaxHeaderBlockBytes - _blockLen)
        {
            Error($"header block of stream {_blockStream} exceeds {MaxHeaderBlockBytes} octets");
            LoseHpack();
            _blockDamaged = true;
            return;
        }

        if (_block.Length < _blockLen + fragment.Length)
        {
            Array.Resize(ref _block, Math.Min(MaxHeaderBlockBytes, Math.Max(_blockLen + fragment.Length, _block.Length * 2)));
        }

        fragment.CopyTo(_block.AsSpan(_blockLen));
        _blockLen += fragment.Length;
    }

    private void FinishBlock()
    {
        _inBlock = false;
        List<(string Name, string Value)>? headers = null;
        string reason = "header bytes were lost";
        if (!_blockDamaged && !Desynchronised)
        {
            var list = new List<(string Name, string Value)>();
            if (Decoder.TryDecode(_block.AsSpan(0, _blockLen), list, out string? error))
            {
                headers = list;
            }
            else
            {
                Error($"HPACK error on stream {_blockStream}: {error}");
                LoseHpack();
                reason = "HPACK error: " + error;
            }
        }
        else if (!_blockDamaged)
        {
            reason = "HPACK state is desynchronised";
        }

        if (_blockLen > ShrinkAbove)
        {
            _block = new byte[256];
        }

        _blockLen = 0;
        if (_blockIsPush)
        {
            PushPromise?.Invoke(_blockStream, _blockPromised, headers);
        }
        else if (headers is not null)
        {
            HeadersDecoded?.Invoke(_blockStream, headers, _blockEndStream);
        }
        else
        {
            HeadersUndecodable?.Invoke(_blockStream, _blockEndStream, reason);
        }
    }

    private void LoseHpack() => Desynchronised = true;

    private bool RequireStream(int stream, string name)
    {
        if (stream != 0)
        {
            return true;
        }

        Error($"{name} frame on stream 0");
        return false;
    }

    private bool RequireConnection(int stream, string name)
    {
        if (stream == 0)
        {
            return true;
        }

        Error($"{name} frame on stream {stream} instead of 0");
        return false;
    }

    private bool RequireLength(ReadOnlySpan<byte> p, int length, string name)
    {
        if (p.Length == length)
        {
            return true;
        }

        Error($"{name} frame of {p.Length} octets instead of {length}");
        return false;
    }

    private void Error(string message)
    {
        ProtocolError?.Invoke(message);
    }
}
