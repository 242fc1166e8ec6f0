namespace TlsScope.Outputs.Pcapng;

/// <summary>The TCP header's flag bits that TlsScope reads or writes.</summary>
internal static class TcpFlags
{
    public const byte Fin = 0x01;
    public const byte Syn = 0x02;
    public const byte Rst = 0x04;
    public const byte Push = 0x08;
    public const byte Ack = 0x10;
}
