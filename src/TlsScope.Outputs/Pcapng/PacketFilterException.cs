namespace TlsScope.Outputs.Pcapng;

/// <summary>A filter expression cannot be used; the message is one line for the user, e.g.
/// <c>--filter 'tcp prot 443': syntax error</c>.</summary>
public sealed class PacketFilterException : Exception
{
    public PacketFilterException(string message)
        : base(message)
    {
    }

    public PacketFilterException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
