namespace TlsScope.Outputs.Pcapng;

/// <summary>The pcapng link types TlsScope reads and writes (LINKTYPE_* values).</summary>
public static class LinkType
{
    public const int Ethernet = 1;

    /// <summary>Packets start at the IPv4 or IPv6 header.</summary>
    public const int RawIp = 101;
}
