namespace TlsScope.Outputs.Pcapng;

/// <summary>
/// Collects the start of a client's TLS stream until the ClientHello's random is in it. Only
/// the first 43 bytes matter (record header 5, handshake header 4, version 2, random 32); they
/// may come in several segments, which are taken in sequence order as they arrive (an
/// out-of-order one is skipped and its retransmission used).
/// </summary>
internal sealed class ClientHelloReader
{
    private const byte HandshakeRecord = 0x16;
    private const byte ClientHelloType = 0x01;
    private const int RandomOffset = 11;
    private const int RandomLength = 32;
    private const int PrefixLength = RandomOffset + RandomLength;

    private readonly byte[] _prefix = new byte[PrefixLength];
    private int _have;
    private uint _nextSequence;

    private ClientHelloReader(TcpEndpoint client)
    {
        Client = client;
    }

    /// <summary>The end that sent the ClientHello.</summary>
    public TcpEndpoint Client { get; }

    /// <summary>The 32-byte client random once it was seen whole.</summary>
    public byte[]? Random { get; private set; }

    /// <summary>The bytes turned out not to be a ClientHello.</summary>
    public bool Failed { get; private set; }

    /// <summary>A reader when <paramref name="segment"/>'s payload can be the start of a
    /// ClientHello record; null otherwise.</summary>
    public static ClientHelloReader? TryStart(in TcpSegment segment)
    {
        ReadOnlySpan<byte> payload = segment.Payload;
        if (payload.IsEmpty || !CanStartClientHello(payload))
        {
            return null;
        }

        var reader = new ClientHelloReader(segment.Source) { _nextSequence = segment.Sequence };
        reader.Add(segment);
        return reader;
    }

    /// <summary>Takes the next bytes of the client's stream from <paramref name="segment"/>.</summary>
    public void Add(in TcpSegment segment)
    {
        if (Random is not null || Failed || segment.Source != Client || segment.Sequence != _nextSequence)
        {
            return;
        }

        ReadOnlySpan<byte> payload = segment.Payload;
        int take = Math.Min(payload.Length, PrefixLength - _have);
        payload[..take].CopyTo(_prefix.AsSpan(_have));
        _have += take;
        _nextSequence += (uint)payload.Length;
        if (!CanStartClientHello(_prefix.AsSpan(0, _have)))
        {
            Failed = true;
        }
        else if (_have == PrefixLength)
        {
            Random = _prefix.AsSpan(RandomOffset, RandomLength).ToArray();
        }
    }

    // Record type 22 with a TLS 1.x version (3,1..4 or the 3,0 some clients put in the first
    // record), then handshake type 1, with room for at least version and random.
    private static bool CanStartClientHello(ReadOnlySpan<byte> bytes)
    {
        if (bytes[0] != HandshakeRecord)
        {
            return false;
        }

        if (bytes.Length > 1 && bytes[1] != 3)
        {
            return false;
        }

        if (bytes.Length > 2 && bytes[2] > 4)
        {
            return false;
        }

        if (bytes.Length > 4 && ((bytes[3] << 8) | bytes[4]) < 4 + 2 + RandomLength)
        {
            return false;
        }

        return bytes.Length <= 5 || bytes[5] == ClientHelloType;
    }
}
