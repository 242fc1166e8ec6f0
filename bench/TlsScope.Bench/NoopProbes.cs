using System.Runtime.InteropServices;
using TlsScope.Bpf;
using TlsScope.Bpf.Elf;
using TlsScope.Engine;
using TlsScope.Sources.Tls.Go;
using TlsScope.Sources.Tls.OpenSsl;
using TlsScope.Sources.Tls.Probes;

namespace TlsScope.Bench;

/// <summary>
/// The pure trap cost: a uprobe and a uretprobe that do nothing on each SSL read/write function
/// TlsScope probes in one libssl (OpenSSL's internal read/write when found, as TlsScope finds
/// them; else the exported four), in every process. Whatever a load loses with these attached
/// is the floor for TlsScope's probes; TlsScope's own overhead is what it loses beyond that.
/// With --exported 1, the exported SSL_read/_write/_read_ex/_write_ex instead (what other uprobe
/// tracers probe: their first instruction is single-stepped, the internal ones' push is emulated).
/// With --go, the sites TlsScope probes in a Go binary instead: the entry of crypto/tls's
/// (*Conn).Read, Write and Close and every RET of Read and Write (uprobes all: Go moves stacks,
/// so there is no uretprobe), found as TlsScope finds them (<see cref="GoFamily"/>).
/// </summary>
internal static class NoopProbes
{
    private static readonly string[] Symbols = ["SSL_read", "SSL_write", "SSL_read_ex", "SSL_write_ex"];

    /// <summary>The syscalls whose entry TlsScope traces (ProbeTable.FdSyscalls).</summary>
    private static readonly string[] Syscalls = ["read", "write", "readv", "writev", "recvfrom", "sendto", "recvmsg", "sendmsg"];

    public static int Run(Options options)
    {
        var lib = options.String("lib") ?? throw new ArgumentException("noop-probes needs --lib PATH (the libssl to probe; with --go, the Go binary)");
        var pid = (int)options.Long("pid", -1);
        var go = options.Long("go", 0) != 0;
        var sslLib = options.String("ssl-lib");
        if (sslLib is not null && !go)
        {
            throw new ArgumentException("--ssl-lib goes with --go (without it, --lib is the libssl)");
        }

        using var obj = BpfObject.Open(BenchObjects.Read("noop.bpf.o"), "noop.bpf.o");
        obj.Load();
        var links = new List<BpfLink>();
        var what = new List<string>();
        try
        {
            if (go)
            {
                what.Add(AttachGo(obj, lib, pid, links));
            }

            if (!go || sslLib is not null)
            {
                what.Add(AttachSsl(obj, sslLib ?? lib, pid, links, exported: options.Long("exported", 0) != 0));
            }

            var tracepoints = options.Long("tracepoints", 0) != 0;
            if (tracepoints)
            {
                Tracefs.EnsureMounted();
                foreach (var syscall in Syscalls)
                {
                    links.Add(BpfLink.AttachTracepoint(obj, "noop_syscall", "syscalls", "sys_enter_" + syscall));
                }
            }

            using var stop = new ManualResetEventSlim();
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Set(); });
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Set(); });
            Console.Error.WriteLine($"bench: ready: {links.Count} do-nothing probes: {string.Join("; ", what)}{(pid > 0 ? $" (pid {pid})" : "")}{(tracepoints ? $"; and {Syscalls.Length} syscall tracepoints" : "")}");
            stop.Wait();
            Console.Error.WriteLine("bench: detaching");
            return 0;
        }
        finally
        {
            foreach (var l in links)
            {
                l.Dispose();
            }
        }
    }

    /// <summary>A uprobe and a uretprobe on each read/write function TlsScope's OpenSSL row would
    /// probe (or on each of <see cref="Symbols"/> the library defines).</summary>
    private static string AttachSsl(BpfObject obj, string lib, int pid, List<BpfLink> links, bool exported)
    {
        var elf = exported ? ElfSymbols.Open(lib) : InternalPath.AddTo(lib, ElfSymbols.Open(lib));
        var symbols = exported ? Symbols : [.. ProbeTable.OpenSsl.Probes
            .Where(p => p.Site == ProbeSite.Entry && p.Program.Contains("_enter", StringComparison.Ordinal) && !p.ForKeys && p.Symbol != "SSL_free")
            .Where(p => p.ReplacedBy is null || !elf.TryGetFunction(p.ReplacedBy, out _))
            .Select(p => p.Symbol).Distinct()];
        var before = links.Count;
        foreach (var symbol in symbols)
        {
            if (!elf.TryGetFunction(symbol, out var fn))
            {
                Console.Error.WriteLine($"bench: {lib} has no {symbol}; skipped");
                continue;
            }
            links.Add(BpfLink.AttachUprobe(obj, "noop_enter", lib, fn.FileOffset, isReturn: false, pid));
            links.Add(BpfLink.AttachUprobe(obj, "noop_return", lib, fn.FileOffset, isReturn: true, pid));
        }
        if (links.Count == before)
        {
            throw new ArgumentException($"{lib}: none of {string.Join(", ", Symbols)} found");
        }

        return $"{links.Count - before} on {lib} ({(exported ? "exported functions" : InternalPath.Describe(elf))})";
    }

    /// <summary>The probe sites of TlsScope's Go family in one Go binary (its key-capture probe
    /// aside, which TlsScope attaches only for --keylog/--pcapng), each with a do-nothing program:
    /// noop_enter at entries and at the offsets inside a function (every RET), noop_return for a
    /// return site (the family has none today).</summary>
    private static string AttachGo(BpfObject obj, string binary, int pid, List<BpfLink> links)
    {
        var match = LibraryFamily.Match(binary, ElfSymbols.Open(binary), [GoFamily.Family])
            ?? throw new ArgumentException($"{binary}: not a Go binary with crypto/tls ({GoFamily.Read} not found)");
        var symbols = match.Symbols;
        var sites = new List<string>();
        foreach (var probe in GoFamily.Family.Probes.Where(p => !p.ForKeys))
        {
            if (!symbols.TryGetFunction(probe.Symbol, out var fn))
            {
                if (!probe.Optional)
                {
                    throw new ArgumentException($"{binary}: {probe.Symbol} not found");
                }

                Console.Error.WriteLine($"bench: {binary} has no {probe.Symbol}; skipped");
                continue;
            }

            IReadOnlyList<ulong> offsets;
            try
            {
                offsets = probe.Site == ProbeSite.Offsets
                    ? probe.Offsets?.Invoke(symbols, fn) ?? throw new InvalidOperationException($"{probe.Symbol}: an Offsets probe without its callback")
                    : [0];
            }
            catch (CaptureException e)
            {
                throw new ArgumentException(e.Message); // TlsScope would not probe this binary either
            }

            if (offsets.Count == 0)
            {
                throw new ArgumentException($"{binary}: no site in {probe.Symbol} for {probe.Program}");
            }

            foreach (var offset in offsets)
            {
                links.Add(probe.Site == ProbeSite.Return
                    ? BpfLink.AttachUprobe(obj, "noop_return", binary, fn.FileOffset, isReturn: true, pid)
                    : BpfLink.AttachUprobe(obj, "noop_enter", binary, fn.FileOffset + offset, isReturn: false, pid));
            }

            var shortName = probe.Symbol[(probe.Symbol.LastIndexOf('.') + 1)..];
            sites.Add(probe.Site switch
            {
                ProbeSite.Offsets => $"{shortName} {offsets.Count} RET",
                ProbeSite.Return => $"{shortName} return",
                _ => $"{shortName} entry",
            });
        }

        return $"{string.Join(", ", sites)} on {binary}";
    }
}

/// <summary>The benchmark's BPF objects, embedded at build time (see the .csproj).</summary>
internal static class BenchObjects
{
    public static byte[] Read(string name)
    {
        using var s = typeof(BenchObjects).Assembly.GetManifestResourceStream("bench/" + name)
            ?? throw new InvalidOperationException($"bpf object {name} is not embedded in this build");
        var bytes = new byte[s.Length];
        s.ReadExactly(bytes);
        return bytes;
    }
}
