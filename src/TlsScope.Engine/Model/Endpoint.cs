using System.Net;

namespace TlsScope.Engine.Model;

/// <summary>A connection's two ends as the kernel saw them; <see cref="Unknown"/> when the fd
/// could not be tied to an IP socket (Unix socket, or a memory BIO before its first send).
/// <see cref="Inferred"/>: the library does its own socket I/O (memory BIO), and the socket was
/// bound to the connection by the send that followed a write, not seen during a call.</summary>
public readonly record struct ConnectionAddress(IPEndPoint? Local, IPEndPoint? Remote, bool Inferred = false)
{
    public static readonly ConnectionAddress Unknown = new(null, null);

    public bool IsKnown => Local is not null && Remote is not null;

    /// <summary>"ip:port", IPv6 as "[ip]:port"; null when unknown.</summary>
    public static string? Format(IPEndPoint? endpoint) => endpoint?.ToString();
}
