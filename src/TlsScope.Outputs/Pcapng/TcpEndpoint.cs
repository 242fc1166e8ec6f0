namespace TlsScope.Outputs.Pcapng;

/// <summary>One end of a TCP connection; an IPv4 address is kept in its IPv4-mapped IPv6 form
/// so both families share one type.</summary>
internal readonly record struct TcpEndpoint(UInt128 Address, ushort Port) : IComparable<TcpEndpoint>
{
    public static TcpEndpoint Of(System.Net.IPEndPoint endpoint)
    {
        Span<byte> bytes = stackalloc byte[16];
        endpoint.Address.MapToIPv6().TryWriteBytes(bytes, out _);
        return new TcpEndpoint(System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(bytes), (ushort)endpoint.Port);
    }

    public int CompareTo(TcpEndpoint other)
    {
        int byAddress = Address.CompareTo(other.Address);
        return byAddress != 0 ? byAddress : Port.CompareTo(other.Port);
    }
}

/// <summary>A TCP connection whichever way a packet goes: the two ends in a fixed order.</summary>
internal readonly record struct ConnectionKey(TcpEndpoint Low, TcpEndpoint High)
{
    public static ConnectionKey Of(TcpEndpoint a, TcpEndpoint b) =>
        a.CompareTo(b) <= 0 ? new ConnectionKey(a, b) : new ConnectionKey(b, a);
}
