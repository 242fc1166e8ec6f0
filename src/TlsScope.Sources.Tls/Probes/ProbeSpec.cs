using TlsScope.Bpf.Elf;

namespace TlsScope.Sources.Tls.Probes;

/// <summary>Where in a function a probe goes.</summary>
public enum ProbeSite
{
    /// <summary>Its first instruction (a uprobe).</summary>
    Entry,

    /// <summary>Its return (a uretprobe: never for Go, whose stacks move).</summary>
    Return,

    /// <summary>Instructions inside it (a uprobe each), at the offsets <see cref="ProbeSpec.Offsets"/>
    /// finds, e.g. every RET of a Go function.</summary>
    Offsets,
}

/// <summary>How a call learns the socket it reads or writes.</summary>
public enum SocketLearning
{
    /// <summary>The socket syscalls the calling thread makes during the call (bpf/tls/tls_call.h);
    /// a memory-BIO library's next send after a write.</summary>
    SyscallCorrelation,
}

/// <summary>One probe as data: attach <paramref name="Program"/> at <paramref name="Symbol"/>, at
/// its entry, its return, or at offsets inside it. A library qualifies when it defines every
/// required symbol; optional ones are attached when present. <paramref name="ForKeys"/> probes
/// serve only key capture (--keylog, --pcapng) and are attached only then.</summary>
/// <param name="Offsets">For <see cref="ProbeSite.Offsets"/>: the offsets from the function's start,
/// read from the library (null otherwise). An empty list is an error for a required probe.</param>
public sealed record ProbeSpec(string Symbol, string Program, ProbeSite Site, bool Optional, bool ForKeys = false,
    Func<ElfSymbols, ElfFunction, IReadOnlyList<ulong>>? Offsets = null)
{
    public bool IsReturn => Site == ProbeSite.Return;
}

/// <summary>
/// A TLS library family as data: what its files are called (the linker cache and the mapped
/// files discovery looks at; executables are always looked at), the symbols that identify it,
/// the files that come with it (NSS: libnspr4 does the I/O for libssl3's connections), the
/// probes it gets and how its calls learn their socket. Adding a library is adding a family.
/// Only OpenSSL's family exists yet: Companions, <see cref="ProbeSite.Offsets"/> and the other
/// ways of <see cref="SocketLearning"/> are the room the NSS and Go families take.
/// </summary>
public sealed record LibraryFamily(
    string Name,
    IReadOnlyList<string> FileNameHints,
    IReadOnlyList<ProbeSpec> Probes,
    IReadOnlyList<string>? Companions = null,
    SocketLearning Socket = SocketLearning.SyscallCorrelation)
{
    /// <summary>The symbols every library of the family defines.</summary>
    public IEnumerable<string> RequiredSymbols => Probes.Where(p => !p.Optional).Select(p => p.Symbol).Distinct();

    /// <summary>Whether a file's name says it may be one of the family's libraries.</summary>
    public bool MayBe(string fileName) => FileNameHints.Any(h => fileName.Contains(h, StringComparison.OrdinalIgnoreCase));
}

public static class ProbeTable
{
    /// <summary>The one return probe: the saved entry tells it how to read the byte count.</summary>
    private const string Return = "tls_return";

    public static readonly LibraryFamily OpenSsl = new("openssl", ["libssl.", "libboringssl.", "ssl"],
    [
        new("SSL_read", "ssl_read_enter", ProbeSite.Entry, false),
        new("SSL_read", Return, ProbeSite.Return, false),
        new("SSL_write", "ssl_write_enter", ProbeSite.Entry, false),
        new("SSL_write", Return, ProbeSite.Return, false),
        new("SSL_read_ex", "ssl_read_ex_enter", ProbeSite.Entry, true),
        new("SSL_read_ex", Return, ProbeSite.Return, true),
        new("SSL_write_ex", "ssl_write_ex_enter", ProbeSite.Entry, true),
        new("SSL_write_ex", Return, ProbeSite.Return, true),
        new("SSL_free", "ssl_free_enter", ProbeSite.Entry, true),
        new("SSL_do_handshake", "ssl_handshake_enter", ProbeSite.Entry, true, ForKeys: true),
        new("SSL_do_handshake", "ssl_handshake_return", ProbeSite.Return, true, ForKeys: true),
    ]);

    /// <summary>Syscalls whose fd, made during a TLS call, names the call's socket.</summary>
    public static readonly IReadOnlyList<string> FdSyscalls =
        ["read", "write", "readv", "writev", "recvfrom", "sendto", "recvmsg", "sendmsg"];
}
