namespace TlsScope.Protocols.Http2;

/// <summary>Which direction of an HTTP/2 connection a byte stream carries.</summary>
public enum Http2Role
{
    /// <summary>Client to server: starts with the connection preface, carries requests.</summary>
    ClientToServer,

    /// <summary>Server to client: carries responses and server pushes.</summary>
    ServerToClient,
}

/// <summary>Frame type codes (RFC 9113 Section 6).</summary>
public static class Http2FrameType
{
    /// <summary>DATA (0x0).</summary>
    public const byte Data = 0x0;

    /// <summary>HEADERS (0x1).</summary>
    public const byte Headers = 0x1;

    /// <summary>PRIORITY (0x2), deprecated by RFC 9113 but still parsed.</summary>
    public const byte Priority = 0x2;

    /// <summary>RST_STREAM (0x3).</summary>
    public const byte RstStream = 0x3;

    /// <summary>SETTINGS (0x4).</summary>
    public const byte Settings = 0x4;

    /// <summary>PUSH_PROMISE (0x5).</summary>
    public const byte PushPromise = 0x5;

    /// <summary>PING (0x6).</summary>
    public const byte Ping = 0x6;

    /// <summary>GOAWAY (0x7).</summary>
    public const byte GoAway = 0x7;

    /// <summary>WINDOW_UPDATE (0x8).</summary>
    public const byte WindowUpdate = 0x8;

    /// <summary>CONTINUATION (0x9).</summary>
    public const byte Continuation = 0x9;
}

/// <summary>Frame flag bits (RFC 9113 Section 6).</summary>
public static class Http2Flags
{
    /// <summary>END_STREAM (DATA, HEADERS).</summary>
    public const byte EndStream = 0x1;

    /// <summary>ACK (SETTINGS, PING).</summary>
    public const byte Ack = 0x1;

    /// <summary>END_HEADERS (HEADERS, PUSH_PROMISE, CONTINUATION).</summary>
    public const byte EndHeaders = 0x4;

    /// <summary>PADDED (DATA, HEADERS, PUSH_PROMISE).</summary>
    public const byte Padded = 0x8;

    /// <summary>PRIORITY (HEADERS).</summary>
    public const byte Priority = 0x20;
}

/// <summary>SETTINGS identifiers (RFC 9113 Section 6.5.2).</summary>
public static class Http2SettingId
{
    /// <summary>SETTINGS_HEADER_TABLE_SIZE (0x1).</summary>
    public const ushort HeaderTableSize = 0x1;

    /// <summary>SETTINGS_ENABLE_PUSH (0x2).</summary>
    public const ushort EnablePush = 0x2;

    /// <summary>SETTINGS_MAX_CONCURRENT_STREAMS (0x3).</summary>
    public const ushort MaxConcurrentStreams = 0x3;

    /// <summary>SETTINGS_INITIAL_WINDOW_SIZE (0x4).</summary>
    public const ushort InitialWindowSize = 0x4;

    /// <summary>SETTINGS_MAX_FRAME_SIZE (0x5).</summary>
    public const ushort MaxFrameSize = 0x5;

    /// <summary>SETTINGS_MAX_HEADER_LIST_SIZE (0x6).</summary>
    public const ushort MaxHeaderListSize = 0x6;
}
