using TlsScope.Sources.Tls.Probes;

namespace TlsScope.Sources.Tls.Nss;

/// <summary>
/// NSS (libssl3.so, with NSPR doing its I/O): the SSL layer's own read, write, recv and send,
/// which see plaintext of TLS sockets only. Not ssl_WriteV: it calls ssl_Send, so a writev would
/// be counted twice. The socket comes from the syscalls of the call (NSPR's send/recv run on the
/// calling thread); the connection is keyed by the SSL layer's PRFileDesc, closed by ssl_Close.
/// Keys: NSS holds its secrets as PKCS#11 objects inside softokn, not in the SSL socket, so there
/// is no layout to read them from (README, "Limits").
/// </summary>
public static class NssFamily
{
    private const string Return = "tls_return";

    public static readonly LibraryFamily Family = new("nss", ["libssl3."],
    [
        new(NssMethods.Read, "ssl_read_enter", ProbeSite.Entry, false),
        new(NssMethods.Read, Return, ProbeSite.Return, false),
        new(NssMethods.Recv, "ssl_read_enter", ProbeSite.Entry, false),
        new(NssMethods.Recv, Return, ProbeSite.Return, false),
        new(NssMethods.Write, "ssl_write_enter", ProbeSite.Entry, false),
        new(NssMethods.Write, Return, ProbeSite.Return, false),
        new(NssMethods.Send, "ssl_write_enter", ProbeSite.Entry, false),
        new(NssMethods.Send, Return, ProbeSite.Return, false),
        new(NssMethods.Close, "ssl_free_enter", ProbeSite.Entry, true),
    ],
        Functions: NssMethods.AddTo,
        Explain: NssMethods.Explain,
        KeysFromLayout: false,
        NoKeys: _ => "NSS keeps its secrets as PKCS#11 objects in softokn, not in the TLS connection",
        Screen: ["SSL_ImportFD"]);
}
