namespace TlsScope.Protocols.WebSocket;

/// <summary>WebSocket frame opcodes (RFC 6455 Section 5.2). Reserved values may appear as <c>(WebSocketOpcode)n</c>.</summary>
public enum WebSocketOpcode : byte
{
    /// <summary>Continues a fragmented message.</summary>
    Continuation = 0,

    /// <summary>First frame of a UTF-8 text message.</summary>
    Text = 1,

    /// <summary>First frame of a binary message.</summary>
    Binary = 2,

    /// <summary>Connection close (control).</summary>
    Close = 8,

    /// <summary>Ping (control).</summary>
    Ping = 9,

    /// <summary>Pong (control).</summary>
    Pong = 10,
}

/// <summary>One WebSocket frame as parsed by <see cref="WebSocketFrameParser"/>.</summary>
public sealed class WebSocketFrame
{
    /// <summary>FIN bit: this is the last frame of its message.</summary>
    public bool Fin { get; init; }

    /// <summary>The frame's opcode (low four bits of the first octet).</summary>
    public WebSocketOpcode Opcode { get; init; }

    /// <summary>RSV1 (permessage-deflate, RFC 7692) is set on this frame: the message payload is compressed.</summary>
    public bool Compressed { get; init; }

    /// <summary>The payload was masked on the wire (client-to-server frames).</summary>
    public bool Masked { get; init; }

    /// <summary>Payload length as announced in the header.</summary>
    public long PayloadLength { get; init; }

    /// <summary>
    /// The unmasked payload bytes received, at most the parser's cap. Bytes lost to a gap are left out (see
    /// <see cref="PayloadLost"/>), so the array is then shorter than <see cref="PayloadLength"/>.
    /// </summary>
    public byte[] Payload { get; init; } = [];

    /// <summary>The received payload exceeded the parser's cap: <see cref="Payload"/> holds its start.</summary>
    public bool PayloadTruncated { get; init; }

    /// <summary>Bytes of the payload were lost to a gap (framing was kept).</summary>
    public bool PayloadLost { get; init; }

    /// <summary>Header plus payload bytes on the wire (lost payload bytes included).</summary>
    public long WireBytes { get; init; }

    /// <summary><see cref="WebSocketFrameParser.Clock"/> when the frame's first header byte was fed.</summary>
    public long FirstByteClock { get; init; }

    /// <summary><see cref="WebSocketFrameParser.Clock"/> when the frame was completed.</summary>
    public long LastByteClock { get; init; }

    /// <summary>Close frames with a payload of two bytes or more: the status code.</summary>
    public ushort? CloseCode { get; init; }

    /// <summary>Close frames: the UTF-8 reason after the status code (empty when there is none); null for other frames.</summary>
    public string? CloseReason { get; init; }


    /// <summary>"continuation", "text", "binary", "close", "ping", "pong", else "opcode-N".</summary>
    public string OpcodeName => NameOf(Opcode);

    /// <summary>The name used by <see cref="OpcodeName"/> for <paramref name="opcode"/>.</summary>
    public static string NameOf(WebSocketOpcode opcode) => opcode switch
    {
        WebSocketOpcode.Continuation => "continuation",
        WebSocketOpcode.Text => "text",
        WebSocketOpcode.Binary => "binary",
        WebSocketOpcode.Close => "close",
        WebSocketOpcode.Ping => "ping",
        WebSocketOpcode.Pong => "pong",
        _ => $"opcode-{(byte)opcode}",
    };
}
