namespace TlsScope.Outputs.Pcapng;

/// <summary>A packet kept until its connection's keys are known; the bytes are a copy.</summary>
internal sealed record HeldPacket(int InterfaceId, long TimeUnixNs, byte[] Data, int OriginalLength, PacketDirection Direction, string? Comment);

/// <summary>
/// The packets of a TLS connection held from its ClientHello on, in arrival order, until its
/// keys arrive, its time is up, or it ended (FIN both ways, or a RST).
/// </summary>
internal sealed class HeldConnection
{
    private readonly List<HeldPacket> _packets = [];
    private bool _finFromClient;
    private bool _finFromServer;
    private bool _reset;

    public HeldConnection(ConnectionKey key, ClientHelloReader hello, DateTimeOffset deadline)
    {
        Key = key;
        Hello = hello;
        Deadline = deadline;
    }

    public ConnectionKey Key { get; }

    public ClientHelloReader Hello { get; }

    public DateTimeOffset Deadline { get; set; }

    public long HeldBytes { get; private set; }

    /// <summary>The client random is known and registered for its key set.</summary>
    public bool WaitsForKeys { get; set; }

    public IReadOnlyList<HeldPacket> Packets => _packets;

    /// <summary>The connection is over: nothing is left for which keys could still matter.</summary>
    public bool Ended => _reset || (_finFromClient && _finFromServer);

    public void Add(HeldPacket packet, in TcpSegment segment)
    {
        _packets.Add(packet);
        HeldBytes += packet.Data.Length;
        if (segment.Has(TcpFlags.Rst))
        {
            _reset = true;
        }

        if (segment.Has(TcpFlags.Fin))
        {
            if (segment.Source == Hello.Client)
            {
                _finFromClient = true;
            }
            else
            {
                _finFromServer = true;
            }
        }
    }
}
