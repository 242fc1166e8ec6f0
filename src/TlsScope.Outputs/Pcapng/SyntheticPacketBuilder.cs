using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace TlsScope.Outputs.Pcapng;

/// <summary>
/// Builds TCP segments over IPv4 or IPv6, raw or in an Ethernet frame, with correct IPv4
/// header and TCP checksums. Both ends must be of one address family.
/// </summary>
internal sealed class SyntheticPacketBuilder
{
    private const int EthernetHeaderLength = 14;
    private const int IPv4HeaderLength = 20;
    private const int IPv6HeaderLength = 40;
    private const int TcpHeaderLength = 20;

    // SYNs carry window scale 14 so that Wireshark sees a window far larger than any run of
    // data one side sends before the other answers (no "window full" warnings).
    private const byte WindowScaleShift = 14;
    private const int SynOptionsLength = 4;

    private static readonly byte[] LocalMac = [0x02, 0, 0, 0, 0, 0x01];
    private static readonly byte[] RemoteMac = [0x02, 0, 0, 0, 0, 0x02];

    private readonly byte[] _buffer = new byte[EthernetHeaderLength + IPv6HeaderLength + TcpHeaderLength + SynOptionsLength + ushort.MaxValue];
    private readonly bool _ethernet;
    private ushort _ipv4Identification;

    public SyntheticPacketBuilder(int linkType)
    {
        if (linkType is not (LinkType.RawIp or LinkType.Ethernet))
        {
            throw new ArgumentOutOfRangeException(nameof(linkType), linkType, "only raw IP and Ethernet");
        }

        _ethernet = linkType == LinkType.Ethernet;
    }

    /// <summary>The most payload one segment between ends of this family can carry.</summary>
    public static int MaxPayload(AddressFamily family) =>
        family == AddressFamily.InterNetwork
            ? ushort.MaxValue - IPv4HeaderLength - TcpHeaderLength
            : ushort.MaxValue - TcpHeaderLength;

    /// <summary>Builds one segment; the bytes are valid until the next call.</summary>
    /// <param name="fromLocal">Picks the Ethernet addresses: local end sends or receives.</param>
    public ReadOnlySpan<byte> Build(
        IPEndPoint source, IPEndPoint destination, bool fromLocal, uint sequence, uint acknowledgment, byte flags, ReadOnlySpan<byte> payload)
    {
        bool ipv4 = source.AddressFamily == AddressFamily.InterNetwork;
        int linkLength = _ethernet ? EthernetHeaderLength : 0;
        int ipLength = ipv4 ? IPv4HeaderLength : IPv6HeaderLength;
        int tcpHeaderLength = TcpHeaderLength + ((flags & TcpFlags.Syn) != 0 ? SynOptionsLength : 0);
        int tcpLength = tcpHeaderLength + payload.Length;
        Span<byte> packet = _buffer.AsSpan(0, linkLength + ipLength + tcpLength);

        if (linkLength > 0)
        {
            (fromLocal ? RemoteMac : LocalMac).CopyTo(packet);
            (fromLocal ? LocalMac : RemoteMac).CopyTo(packet[6..]);
            BinaryPrimitives.WriteUInt16BigEndian(packet[12..], ipv4 ? (ushort)0x0800 : (ushort)0x86DD);
        }

        Span<byte> ip = packet[linkLength..];
        Span<byte> tcp = ip[ipLength..];
        WriteTcp(tcp, source, destination, sequence, acknowledgment, flags, tcpHeaderLength, payload);

        ulong pseudoHeader;
        if (ipv4)
        {
            WriteIPv4(ip, source, destination, ipLength + tcpLength);
            pseudoHeader = InternetChecksum.Add(0, ip.Slice(12, 8)) + 6 + (ulong)tcpLength;
        }
        else
        {
            WriteIPv6(ip, source, destination, tcpLength);
            pseudoHeader = InternetChecksum.Add(0, ip.Slice(8, 32)) + 6 + (ulong)tcpLength;
        }

        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], InternetChecksum.Finish(InternetChecksum.Add(pseudoHeader, tcp[..tcpLength])));
        return packet;
    }

    private static void WriteTcp(
        Span<byte> tcp, IPEndPoint source, IPEndPoint destination, uint sequence, uint acknowledgment, byte flags, int headerLength, ReadOnlySpan<byte> payload)
    {
        BinaryPrimitives.WriteUInt16BigEndian(tcp, (ushort)source.Port);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], (ushort)destination.Port);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], sequence);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], (flags & TcpFlags.Ack) != 0 ? acknowledgment : 0);
        tcp[12] = (byte)(headerLength / 4 << 4);
        tcp[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], ushort.MaxValue); // window
        BinaryPrimitives.WriteUInt32BigEndian(tcp[16..], 0); // checksum (filled in last), urgent pointer
        if (headerLength > TcpHeaderLength)
        {
            tcp[20] = 1; // NOP
            tcp[21] = 3; // window scale, length 3
            tcp[22] = 3;
            tcp[23] = WindowScaleShift;
        }

        payload.CopyTo(tcp[headerLength..]);
    }

    private void WriteIPv4(Span<byte> ip, IPEndPoint source, IPEndPoint destination, int totalLength)
    {
        ip[0] = 0x45; // version 4, 20-byte header
        ip[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)totalLength);
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], _ipv4Identification++);
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], 0x4000); // don't fragment
        ip[8] = 64; // TTL
        ip[9] = 6; // TCP
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], 0);
        source.Address.TryWriteBytes(ip[12..16], out _);
        destination.Address.TryWriteBytes(ip[16..20], out _);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], InternetChecksum.Finish(InternetChecksum.Add(0, ip[..IPv4HeaderLength])));
    }

    private static void WriteIPv6(Span<byte> ip, IPEndPoint source, IPEndPoint destination, int payloadLength)
    {
        BinaryPrimitives.WriteUInt32BigEndian(ip, 0x6000_0000); // version 6, no class or flow label
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)payloadLength);
        ip[6] = 6; // TCP
        ip[7] = 64; // hop limit
        source.Address.TryWriteBytes(ip[8..24], out _);
        destination.Address.TryWriteBytes(ip[24..40], out _);
    }
}
