namespace TlsScope.Sources.Tls.Go;

/// <summary>
/// What the kernel needs to know of a Go release, by version: the only Go-version-specific data
/// TlsScope has. Each row is checked against the DWARF of a real binary of that release by a test
/// (tests/TlsScope.Tests/Go/GoLayoutTableTests.cs, for every release from 1.15 to 1.27 but 1.16-1.18 and 1.20); a release past the newest row uses the newest.
/// </summary>
public static class GoLayoutTable
{
    /// <summary>The oldest Go whose crypto/tls and runtime this table describes.</summary>
    public static readonly Version Oldest = new(1, 15);

    /// <summary>The newest Go whose runtime a test has checked (runtime.g has changed twice since
    /// 1.22): a newer release is refused rather than read with offsets that may be wrong.</summary>
    public static readonly Version Newest = new(1, 27);

    // runtime.g.goid: Go 1.23 added g.syscallbp before it, Go 1.25 took gobuf.ret out of g.sched.
    private const uint Goid = 0x98;
    private const uint GoidIn123To124 = 0xa0;

    /// <summary>runtime.itab (abi.ITab from 1.22): inter, _type, then the type's hash.</summary>
    private const uint ItabHash = 0x10;

    /// <summary>internal/poll.FD: fdmu (a 16-byte fdMutex), then Sysfd.</summary>
    private const uint Sysfd = 0x10;

    /// <summary>The layout for a Go version, or null (with the reason) when it is older than the
    /// table knows.</summary>
    /// <param name="tcpConnHash">The hash of *net.TCPConn in the binary (<see cref="TypeHashes"/>).</param>
    public static KernelGoLayout? For(Version go, uint tcpConnHash, out string? problem)
    {
        problem = null;
        if (go < Oldest)
        {
            problem = $"Go {go.Major}.{go.Minor} is older than the oldest supported ({Oldest.Major}.{Oldest.Minor})";
            return null;
        }

        if (new Version(go.Major, go.Minor) > Newest)
        {
            problem = $"Go {go.Major}.{go.Minor} is newer than the releases this TlsScope has checked (up to {Newest.Major}.{Newest.Minor}); not probed rather than read with offsets that may have moved";
            return null;
        }

        return new KernelGoLayout
        {
            Abi = go >= new Version(1, 17) ? GoAbi.Registers : GoAbi.Stack,
            GoidOffset = go >= new Version(1, 23) && go < new Version(1, 25) ? GoidIn123To124 : Goid,
            ConnOffset = 0, // crypto/tls.Conn starts with its conn net.Conn
            ItabHashOffset = ItabHash,
            TcpConnHash = tcpConnHash,
            NetFdOffset = 0, // net.TCPConn is a conn, whose only field is fd *netFD
            SysfdOffset = Sysfd, // net.netFD starts with pfd poll.FD
            StackLoOffset = 0, // runtime.g starts with stack {lo, hi}
        };
    }
}
