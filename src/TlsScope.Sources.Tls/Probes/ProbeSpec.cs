namespace TlsScope.Sources.Tls.Probes;

/// <summary>One probe as data: attach <paramref name="Program"/> at <paramref name="Symbol"/>,
/// at its entry or (<paramref name="IsReturn"/>) its return. A library qualifies when it defines
/// every required symbol; optional ones are attached when present. <paramref name="ForKeys"/>
/// probes serve only key capture (--keylog, --pcapng) and are attached only then.</summary>
public sealed record ProbeSpec(string Symbol, string Program, bool IsReturn, bool Optional, bool ForKeys = false);

/// <summary>A TLS library family: the symbols that identify it and the probes it gets.</summary>
public sealed record LibraryFamily(string Name, IReadOnlyList<ProbeSpec> Probes)
{
    public IEnumerable<string> RequiredSymbols => Probes.Where(p => !p.Optional).Select(p => p.Symbol).Distinct();
}

public static class ProbeTable
{
    /// <summary>The one return probe: the saved entry tells it how to read the byte count.</summary>
    private const string Return = "tls_return";

    public static readonly LibraryFamily OpenSsl = new("openssl",
    [
        new("SSL_read", "ssl_read_enter", false, false),
        new("SSL_read", Return, true, false),
        new("SSL_write", "ssl_write_enter", false, false),
        new("SSL_write", Return, true, false),
        new("SSL_read_ex", "ssl_read_ex_enter", false, true),
        new("SSL_read_ex", Return, true, true),
        new("SSL_write_ex", "ssl_write_ex_enter", false, true),
        new("SSL_write_ex", Return, true, true),
        new("SSL_free", "ssl_free_enter", false, true),
        new("SSL_do_handshake", "ssl_handshake_enter", false, true, ForKeys: true),
        new("SSL_do_handshake", "ssl_handshake_return", true, true, ForKeys: true),
    ]);

    /// <summary>Syscalls whose fd, made during a TLS call, names the call's socket.</summary>
    public static readonly IReadOnlyList<string> FdSyscalls =
        ["read", "write", "readv", "writev", "recvfrom", "sendto", "recvmsg", "sendmsg"];
}
