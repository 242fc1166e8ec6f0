using TlsScope.Bpf;
using TlsScope.Bpf.Elf;
using TlsScope.Engine;
using TlsScope.Sources.Tls.Discovery;
using TlsScope.Sources.Tls.Go.Binary;
using TlsScope.Sources.Tls.Keys.Layout;
using TlsScope.Sources.Tls.Probes;

namespace TlsScope.Sources.Tls.Go;

/// <summary>
/// Go's crypto/tls as a library family: any Go executable, stripped or not, found by its
/// buildinfo and pclntab. Entry probes and one probe per RET (never a uretprobe: Go moves
/// stacks); the goroutine keys the call; the socket comes from the tls.Conn itself; the keys
/// from writeKeyLog, which every handshake calls.
/// </summary>
public static class GoFamily
{
    public const string Read = "crypto/tls.(*Conn).Read";
    public const string Write = "crypto/tls.(*Conn).Write";
    public const string Close = "crypto/tls.(*Conn).Close";
    public const string WriteKeyLog = "crypto/tls.(*Config).writeKeyLog";

    private static readonly string[] Probed = [Read, Write, Close, WriteKeyLog];


    /// <summary>Runs each step of an attach once, on nothing, so that the first Go program to
    /// exec does not wait for their code to be compiled (~150 ms, its exec held meanwhile).</summary>
    private static void WarmUp()
    {
        ReturnSites.Find([0x55, 0xC3], 0x1000);
        TypeHashes.Candidates(TypeHashes.TcpConn);
        Functions(Environment.ProcessPath ?? "/proc/self/exe", ElfSymbols.Open("/proc/self/exe"));
    }

    public static readonly LibraryFamily Family = new("go", [],
    [
        new(Read, "go_read_enter", ProbeSite.Entry, false),
        new(Read, "go_call_ret", ProbeSite.Offsets, false, Offsets: ReturnOffsets),
        new(Write, "go_write_enter", ProbeSite.Entry, false),
        new(Write, "go_call_ret", ProbeSite.Offsets, false, Offsets: ReturnOffsets),
        new(Close, "go_close_enter", ProbeSite.Entry, true),
        new(WriteKeyLog, "go_keylog_enter", ProbeSite.Entry, true, ForKeys: true),
    ],
        Socket: SocketLearning.ConnectionObject,
        Functions: Functions,
        MayBeExecutable: GoBinary.MayBe,
        Prepare: Prepare,
        Explain: Explain,
        Indexed: false,
        WarmUp: WarmUp,
        KeysFromLayout: false);

    /// <summary>The ELF symbols plus the probed functions as pclntab gives them (not all of a
    /// binary's thousands: an exec is held while this runs); null for a file that is not Go.</summary>
    private static ElfSymbols? Functions(string path, ElfSymbols elf) =>
        GoBinary.TryOpen(path) is { } go ? elf.WithFunctions(go.FindFunctions(Probed)) : null;

    private static string? Explain(string path)
    {
        try
        {
            if (GoBinary.TryOpen(path) is not { } go)
            {
                return null;
            }

            return $"a Go binary ({go.Version}) without crypto/tls's {Read}: it does not use crypto/tls, or uses a copy of it (uTLS, qtls), which is not supported";
        }
        catch (Exception e) when (e is ElfFormatException or IOException)
        {
            return $"a damaged Go binary: {e.Message}";
        }
    }

    /// <summary>Every RET of the function; a function that leaves another way (a tail jump) or
    /// has no RET is refused, never guessed at: a missed return would leave calls unreported.</summary>
    private static IReadOnlyList<ulong> ReturnOffsets(ElfSymbols symbols, ElfFunction fn)
    {
        ReturnSitesResult sites;
        try
        {
            sites = ReturnSites.Find(symbols.Path, fn);
        }
        catch (Exception e) when (e is ElfFormatException or IOException or UnauthorizedAccessException)
        {
            throw new CaptureException($"{symbols.Path}: cannot decode {fn.Name}: {e.Message}");
        }

        if (sites.Problem is { } problem)
        {
            throw new CaptureException($"{symbols.Path}: {fn.Name}: {problem}; not probed");
        }

        return sites.Offsets;
    }

    /// <summary>The binary's release, from its buildinfo, picks the offsets the kernel reads by.</summary>
    private static unsafe void Prepare(TlsLibrary lib, BpfObject obj)
    {
        if (lib.Id >= KernelKeyLayout.MaxLibraries)
        {
            throw new CaptureException($"{lib.Path}: more than {KernelKeyLayout.MaxLibraries} TLS libraries and binaries; not probed");
        }

        GoBuildInfo? info;
        uint? hash;
        try
        {
            using var image = ElfImage.Open(lib.Path); // one open for both
            info = GoBuildInfo.Read(image);
            hash = TypeHashes.FindPointerType(image, TypeHashes.TcpConn);
        }
        catch (Exception e) when (e is ElfFormatException or IOException or UnauthorizedAccessException)
        {
            throw new CaptureException($"{lib.Path}: {e.Message}");
        }

        if (info is null)
        {
            throw new CaptureException($"{lib.Path}: a Go binary without build information; its Go release is unknown");
        }

        var release = info.Release
            ?? throw new CaptureException($"{lib.Path}: built by a Go whose release is not a number ({info.Version}); its offsets are unknown");

        // Without the type (a program that never makes a TCP connection itself), no itab can
        // match: 0 leaves every call's socket to the syscalls it makes.
        var layout = GoLayoutTable.For(release, hash ?? 0, out var problem)
            ?? throw new CaptureException($"{lib.Path}: {problem}");
        var id = (uint)lib.Id;
        obj.Update("go_layouts", new ReadOnlySpan<byte>(&id, 4), new ReadOnlySpan<byte>(&layout, sizeof(KernelGoLayout)));
    }
}
