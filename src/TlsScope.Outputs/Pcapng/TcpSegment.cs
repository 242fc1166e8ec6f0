using System.Buffers.Binary;

namespace TlsScope.Outputs.Pcapng;

/// <summary>What the packet sink needs of a TCP segment; <see cref="Payload"/> points into the
/// packet.</summary>
internal readonly ref struct TcpSegment
{
    public TcpSegment(TcpEndpoint source, TcpEndpoint destination, uint sequence, byte flags, ReadOnlySpan<byte> payload)
    {
        Source = source;
        Destination = destination;
        Sequence = sequence;
        Flags = flags;
        Payload = payload;
    }

    public TcpEndpoint Source { get; }

    public TcpEndpoint Destination { get; }

    public uint Sequence { get; }

    public byte Flags { get; }

    public ReadOnlySpan<byte> Payload { get; }

    public ConnectionKey Connection => ConnectionKey.Of(Source, Destination);

    public bool Has(byte flag) => (Flags & flag) != 0;

    /// <summary>Finds the TCP segment in a packet that starts at the link-layer header.</summary>
    public static bool TryParse(int linkType, ReadOnlySpan<byte> packet, out TcpSegment segment)
    {
        segment = default;
        ReadOnlySpan<byte> ip;
        switch (linkType)
        {
            case LinkType.Ethernet:
                if (!TrySkipEthernet(packet, out ip))
                {
                    return false;
                }

                break;
            case LinkType.RawIp:
                ip = packet;
                break;
            default:
                return false;
        }

        return ip.Length > 0 && (ip[0] >> 4) switch
        {
            4 => TryParseIPv4(ip, out segment),
            6 => TryParseIPv6(ip, out segment),
            _ => false,
        };
    }

    private static bool TrySkipEthernet(ReadOnlySpan<byte> frame, out ReadOnlySpan<byte> ip)
    {
        ip = default;
        int offset = 12;
        while (frame.Length >= offset + 2)
        {
            ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[offset..]);
            if (etherType is 0x8100 or 0x88A8)
            {
                offset += 4; // VLAN tag
                continue;
            }

            if (etherType is not (0x0800 or 0x86DD))
            {
                return false;
            }

            ip = frame[(offset + 2)..];
            return true;
        }

        return false;
    }

    private static bool TryParseIPv4(ReadOnlySpan<byte> ip, out TcpSegment segment)
    {
        segment = default;
        int headerLength = (ip[0] & 0x0F) * 4;
        if (ip.Length < 20 || headerLength < 20 || ip[9] != 6)
        {
            return false;
        }

        // A later fragment carries no TCP header.
        if ((BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x1FFF) != 0)
        {
            return false;
        }

        int totalLength = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(ip[2..]), ip.Length);
        if (totalLength < headerLength)
        {
            return false;
        }

        UInt128 source = MappedIPv4(BinaryPrimitives.ReadUInt32BigEndian(ip[12..]));
        UInt128 destination = MappedIPv4(BinaryPrimitives.ReadUInt32BigEndian(ip[16..]));
        return TryParseTcp(ip[headerLength..totalLength], source, destination, out segment);
    }

    private static bool TryParseIPv6(ReadOnlySpan<byte> ip, out TcpSegment segment)
    {
        segment = default;
        if (ip.Length < 40)
        {
            return false;
        }

        int end = Math.Min(40 + BinaryPrimitives.ReadUInt16BigEndian(ip[4..]), ip.Length);
        byte next = ip[6];
        int offset = 40;
        // Hop-by-hop, routing and destination options may precede TCP; fragments are not followed.
        while (next is 0 or 43 or 60)
        {
            if (end < offset + 8)
            {
                return false;
            }

            next = ip[offset];
            offset += (ip[offset + 1] + 1) * 8;
        }

        if (next != 6 || offset > end)
        {
            return false;
        }

        UInt128 source = BinaryPrimitives.ReadUInt128BigEndian(ip[8..]);
        UInt128 destination = BinaryPrimitives.ReadUInt128BigEndian(ip[24..]);
        return TryParseTcp(ip[offset..end], source, destination, out segment);
    }

    private static bool TryParseTcp(ReadOnlySpan<byte> tcp, UInt128 source, UInt128 destination, out TcpSegment segment)
    {
        segment = default;
        if (tcp.Length < 20)
        {
            return false;
        }

        int headerLength = (tcp[12] >> 4) * 4;
        if (headerLength < 20 || headerLength > tcp.Length)
        {
            return false;
        }

        segment = new TcpSegment(
            new TcpEndpoint(source, BinaryPrimitives.ReadUInt16BigEndian(tcp)),
            new TcpEndpoint(destination, BinaryPrimitives.ReadUInt16BigEndian(tcp[2..])),
            BinaryPrimitives.ReadUInt32BigEndian(tcp[4..]),
            tcp[13],
            tcp[headerLength..]);
        return true;
    }

    private static UInt128 MappedIPv4(uint address) => new(0, 0xFFFF_0000_0000UL | address);
}
