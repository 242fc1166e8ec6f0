using TlsScope.Bpf;
using TlsScope.Bpf.Elf;
using TlsScope.Sources.Tls.Discovery;
using TlsScope.Sources.Tls.GnuTls;
using TlsScope.Sources.Tls.OpenSsl;

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
    /// <summary>From the connection object itself (Go: tls.Conn -> net.TCPConn -> netFD ->
    /// Sysfd), read at the call's entry; the socket syscalls of the call when that fails.</summary>
    ConnectionObject,

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
/// <param name="ReplacedBy">Not attached when the library has this function, whose probes see the
/// same calls and more (OpenSSL's internal read under SSL_read): one trap per call, not two.</param>
public sealed record ProbeSpec(string Symbol, string Program, ProbeSite Site, bool Optional, bool ForKeys = false,
    Func<ElfSymbols, ElfFunction, IReadOnlyList<ulong>>? Offsets = null, string? ReplacedBy = null)
{
    public bool IsReturn => Site == ProbeSite.Return;
}

/// <summary>
/// A TLS library family as data: what its files are called (the linker cache and the mapped
/// files discovery looks at; executables are always looked at), the symbols that identify it,
/// the files that come with it (NSS: libnspr4 does the I/O for libssl3's connections), the
/// probes it gets and how its calls learn their socket. Adding a library is adding a family.
/// </summary>
/// <param name="Functions">Reads the functions a file's symbol tables lack (Go's pclntab, which
/// even a stripped binary keeps): the symbols to probe it by, or null when the file is not one of
/// the family's. Null: the ELF symbols are all there is.</param>
/// <param name="MayBeExecutable">A cheap screen of an executable without the family's symbol
/// names in its string tables (the machine's programs are indexed by it).</param>
/// <param name="Prepare">Tells the kernel what it needs of one library (Go: the ABI and offsets
/// of its release) before its probes go in; a CaptureException says why it cannot be probed.</param>
/// <param name="Explain">For a file the family recognises but cannot probe (a Go binary without
/// crypto/tls): why, in a few words; null when it is not the family's at all.</param>
/// <param name="Indexed">Whether the machine's programs of the family are found ahead and probed
/// before they run (so an exec need not be held for them). Go's are not: a host holds dozens of
/// Go programs of ~20 probes each, and removing thousands of probes at exit takes many seconds;
/// a Go program is attached when it runs (held at its exec meanwhile: 105-175 ms measured here).</param>
/// <param name="WarmUp">Runs the family's attach code once on nothing at start-up, so that the
/// first program that execs is not held while that code is compiled.</param>
/// <param name="KeysFromLayout">Keys come from a memory layout of the library's connection
/// object (calibrated or from a table); false when the family's probes hand them over.</param>
/// <param name="Describe">How one library's calls are probed, in a few words for -v (OpenSSL:
/// its internal path, or why only the exported functions).</param>
/// <param name="NoKeys">Why a library's keys are not captured (for the key summary); null when they are.</param>
/// <param name="Screen">Names whose presence in a file's string tables says it may be one of the
/// family's (the index's cheap screen); the required symbols when null. A family whose required
/// functions are found by other means (NSS's methods) names an export here.</param>
public sealed record LibraryFamily(
    string Name,
    IReadOnlyList<string> FileNameHints,
    IReadOnlyList<ProbeSpec> Probes,
    IReadOnlyList<string>? Companions = null,
    SocketLearning Socket = SocketLearning.SyscallCorrelation,
    Func<string, ElfSymbols, ElfSymbols?>? Functions = null,
    Func<string, bool>? MayBeExecutable = null,
    Action<TlsLibrary, BpfObject>? Prepare = null,
    Func<string, string?>? Explain = null,
    bool Indexed = true,
    Action? WarmUp = null,
    bool KeysFromLayout = true,
    Func<ElfSymbols, string?>? Describe = null,
    Func<ElfSymbols, string?>? NoKeys = null,
    IReadOnlyList<string>? Screen = null)
{
    /// <summary>The symbols every library of the family defines.</summary>
    public IEnumerable<string> RequiredSymbols => Probes.Where(p => !p.Optional).Select(p => p.Symbol).Distinct();

    /// <summary>What the index screens files by (<paramref name="Screen"/>).</summary>
    public IEnumerable<string> ScreenNames => Screen ?? RequiredSymbols;

    /// <summary>Whether a file's name says it may be one of the family's libraries.</summary>
    public bool MayBe(string fileName) => FileNameHints.Any(h => fileName.Contains(h, StringComparison.OrdinalIgnoreCase));

    /// <summary>The first family the file is one of, with the symbols to probe it by.</summary>
    public static (LibraryFamily Family, ElfSymbols Symbols)? Match(string path, ElfSymbols elf, IReadOnlyList<LibraryFamily> families)
    {
        foreach (var family in families)
        {
            var symbols = family.Functions is null ? elf : family.Functions(path, elf);
            if (symbols is not null && symbols.HasFunctions(family.RequiredSymbols.ToArray()))
            {
                return (family, symbols);
            }
        }

        return null;
    }
}

public static class ProbeTable
{
    /// <summary>The one return probe: the saved entry tells it how to read the byte count.</summary>
    private const string Return = "tls_return";

    /// <summary>OpenSSL, BoringSSL and their static copies (node). Where OpenSSL's internal read and
    /// write are found (<see cref="InternalPath"/>) they replace the exported four: every exported
    /// call and the SSL BIO's go through them, at the same two traps per call.</summary>
    public static readonly LibraryFamily OpenSsl = new("openssl", ["libssl.", "libboringssl.", "ssl"],
    [
        new("SSL_read", "ssl_read_enter", ProbeSite.Entry, false, ReplacedBy: InternalPath.Read),
        new("SSL_read", Return, ProbeSite.Return, false, ReplacedBy: InternalPath.Read),
        new("SSL_write", "ssl_write_enter", ProbeSite.Entry, false, ReplacedBy: InternalPath.Read),
        new("SSL_write", Return, ProbeSite.Return, false, ReplacedBy: InternalPath.Read),
        new("SSL_read_ex", "ssl_read_ex_enter", ProbeSite.Entry, true, ReplacedBy: InternalPath.Read),
        new("SSL_read_ex", Return, ProbeSite.Return, true, ReplacedBy: InternalPath.Read),
        new("SSL_write_ex", "ssl_write_ex_enter", ProbeSite.Entry, true, ReplacedBy: InternalPath.Read),
        new("SSL_write_ex", Return, ProbeSite.Return, true, ReplacedBy: InternalPath.Read),
        new(InternalPath.Read, "ssl_read_ex_enter", ProbeSite.Entry, true),
        new(InternalPath.Read, Return, ProbeSite.Return, true),
        new(InternalPath.Write, "ssl_write_ex_enter", ProbeSite.Entry, true),
        new(InternalPath.Write, Return, ProbeSite.Return, true),
        new(InternalPath.WriteWithFlags, "ssl_write_flags_enter", ProbeSite.Entry, true),
        new(InternalPath.WriteWithFlags, Return, ProbeSite.Return, true),
        new("SSL_free", "ssl_free_enter", ProbeSite.Entry, true),
        new("SSL_do_handshake", "ssl_handshake_enter", ProbeSite.Entry, true, ForKeys: true),
        new("SSL_do_handshake", "ssl_handshake_return", ProbeSite.Return, true, ForKeys: true),
    ],
        Functions: InternalPath.AddTo,
        Describe: InternalPath.Describe);

    /// <summary>GnuTLS (libgnutls.so.30): plaintext by the record functions, the socket by the
    /// syscalls of the call (its default push is sendmsg, its pull recv); keys as GnuTLS hands them
    /// to its key log function (<see cref="KeyLogCall"/>).</summary>
    public static readonly LibraryFamily GnuTls = new("gnutls", ["libgnutls."],
    [
        new("gnutls_record_recv", "ssl_read_enter", ProbeSite.Entry, false),
        new("gnutls_record_recv", Return, ProbeSite.Return, false),
        new("gnutls_record_send", "gnutls_send_enter", ProbeSite.Entry, false),
        new("gnutls_record_send", "gnutls_send_return", ProbeSite.Return, false),
        new("gnutls_record_send2", "gnutls_send_enter", ProbeSite.Entry, true), // 3.6.3+: send tail-jumps here
        new("gnutls_record_send2", "gnutls_send_return", ProbeSite.Return, true),
        new("gnutls_record_recv_seq", "ssl_read_enter", ProbeSite.Entry, true),
        new("gnutls_record_recv_seq", Return, ProbeSite.Return, true),
        new("gnutls_record_send_range", "gnutls_send_enter", ProbeSite.Entry, true),
        new("gnutls_record_send_range", "gnutls_send_return", ProbeSite.Return, true),
        new("gnutls_record_recv_early_data", "ssl_read_enter", ProbeSite.Entry, true),
        new("gnutls_record_recv_early_data", Return, ProbeSite.Return, true),
        new("gnutls_record_send_early_data", "gnutls_send_enter", ProbeSite.Entry, true),
        new("gnutls_record_send_early_data", "gnutls_send_return", ProbeSite.Return, true),
        new("gnutls_deinit", "ssl_free_enter", ProbeSite.Entry, true),
        new(KeyLogCall.Name, "gnutls_keylog_enter", ProbeSite.Entry, true, ForKeys: true),
    ],
        Functions: KeyLogCall.AddTo,
        Prepare: KeyLogCall.Prepare,
        KeysFromLayout: false,
        NoKeys: s => KeyLogCall.For(s)?.Reason);

    /// <summary>Syscalls whose fd, made during a TLS call, names the call's socket.</summary>
    public static readonly IReadOnlyList<string> FdSyscalls =
        ["read", "write", "readv", "writev", "recvfrom", "sendto", "recvmsg", "sendmsg"];
}
