namespace TlsScope.Outputs.Pcapng;

/// <summary>The direction bits of epb_flags (bits 0-1).</summary>
public enum PacketDirection
{
    Unknown = 0,
    Inbound = 1,
    Outbound = 2,
}
