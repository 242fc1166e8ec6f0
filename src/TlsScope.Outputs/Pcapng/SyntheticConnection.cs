using System.Net;
using System.Net.Sockets;
using TlsScope.Engine.Model;

namespace TlsScope.Outputs.Pcapng;

/// <summary>
/// One connection of the plaintext pcapng: its two ends (one address family), which end opened
/// it, and how far each direction's stream has got. A byte at stream offset n of a direction
/// has sequence number ISN + 1 + n, so gaps and dropped bytes show as missing sequence space.
/// </summary>
internal sealed class SyntheticConnection
{
    private const uint LocalInitialSequence = 0x1000_0000;
    private const uint RemoteInitialSequence = 0x5000_0000;

    public SyntheticConnection(IPEndPoint local, IPEndPoint remote, bool madeUp, string comment)
    {
        (Local, Remote) = SameFamily(local, remote);
        MadeUp = madeUp;
        Comment = comment;
        // Who opened the connection is not captured; the end on the higher port is most
        // likely the client's ephemeral one.
        LocalIsClient = Local.Port >= Remote.Port;
    }

    public IPEndPoint Local { get; }

    public IPEndPoint Remote { get; }

    public bool MadeUp { get; }

    public bool LocalIsClient { get; }

    public AddressFamily Family => Local.AddressFamily;

    /// <summary>The comment of the packets no chunk belongs to (handshake, FIN).</summary>
    public string Comment { get; set; }

    /// <summary>What <see cref="Comment"/> was built from: the process and whether the address was inferred.</summary>
    public (TlsScope.Engine.Model.ProcessInfo? Process, bool Inferred) DescribedFor { get; set; }

    /// <summary>Stream bytes so far (captured, lost or dropped) that the local end wrote.</summary>
    public long WrittenEnd { get; private set; }

    /// <summary>Stream bytes so far that the local end read.</summary>
    public long ReadEnd { get; private set; }

    public uint InitialSequence(bool fromLocal) => fromLocal ? LocalInitialSequence : RemoteInitialSequence;

    /// <summary>The sequence number of the byte at <paramref name="streamOffset"/>.</summary>
    public uint Sequence(bool fromLocal, long streamOffset) => unchecked(InitialSequence(fromLocal) + 1 + (uint)streamOffset);

    /// <summary>What an end acknowledges: everything the other end sent so far.</summary>
    public uint Acknowledgment(bool fromLocal) => fromLocal ? Sequence(false, ReadEnd) : Sequence(true, WrittenEnd);

    public long End(Direction direction) => direction == Direction.Write ? WrittenEnd : ReadEnd;

    /// <summary>Moves a direction's end forward to <paramref name="end"/> (never back).</summary>
    public void Advance(Direction direction, long end)
    {
        if (direction == Direction.Write)
        {
            WrittenEnd = Math.Max(WrittenEnd, end);
        }
        else
        {
            ReadEnd = Math.Max(ReadEnd, end);
        }
    }

    // A dual-stack socket reports IPv4 peers as IPv4-mapped IPv6; both ends must share a family.
    private static (IPEndPoint Local, IPEndPoint Remote) SameFamily(IPEndPoint local, IPEndPoint remote)
    {
        IPAddress localAddress = local.Address.IsIPv4MappedToIPv6 ? local.Address.MapToIPv4() : local.Address;
        IPAddress remoteAddress = remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address;
        if (localAddress.AddressFamily != remoteAddress.AddressFamily)
        {
            localAddress = localAddress.MapToIPv6();
            remoteAddress = remoteAddress.MapToIPv6();
        }

        return (new IPEndPoint(localAddress, local.Port), new IPEndPoint(remoteAddress, remote.Port));
    }
}
