using TlsScope.Bpf;

namespace TlsScope.Bench;

/// <summary>Entry point: one subcommand per benchmark. Measurements, not tests: they print
/// figures and exit 0 unless something could not be set up.</summary>
public static class Program
{
    private const string Usage = """
        usage: TlsScope.Bench <command> [options]   (as root)

          noop-probes --lib PATH [--pid N] [--tracepoints 1] [--exported 1]
              Attach do-nothing uprobe+uretprobe pairs to the read/write functions TlsScope
              probes in PATH (OpenSSL's internal ones when found; --exported 1: SSL_read,
              SSL_write, SSL_read_ex and SSL_write_ex) in every process, or only pid N, and
              wait for SIGTERM/SIGINT.
              --tracepoints 1 also attaches do-nothing programs to the 8 socket syscall
              tracepoints TlsScope uses. Prints "bench: ready" on stderr once attached.

          noop-probes --go --lib BINARY [--ssl-lib PATH] [--pid N] [--tracepoints 1]
              The same for a Go binary, at the sites TlsScope probes in one: do-nothing uprobes
              at the entry of crypto/tls.(*Conn).Read, Write and Close and at every RET of Read
              and Write (no uretprobes: Go moves stacks). --ssl-lib also puts the SSL pairs
              above on a libssl (the client's side, e.g. wrk's).

          reader [--seconds N] [--payload BYTES] [--rate CHUNKS_PER_S] [--stage full|batch|ring]
                 [--policy threshold|adaptive|crossing] [--ring-mib N] [--producer-cpu N] [--reader-cpu N|-1]
              Ring-buffer reader throughput: a BPF producer run with BPF_PROG_TEST_RUN on one
              CPU emits struct tscope_chunk records; TlsScope's RingBuffer, RecordBatcher,
              EventDecoder and CallAssembler consume them into a null sink on the other CPU.
              --policy: threshold = TlsScope's wakeups (past 1/8 of the ring; 20 ms polls),
              adaptive = before commit d942269 (a wakeup whenever the reader caught up),
              crossing = what-if (a wakeup only for the record that crosses 1/8).
              Without --payload/--rate/--stage/--policy it runs the standard scenarios, each in
              a process of its own.

          decode-profile [--payload BYTES] [--seconds N]
              The decoder thread's cost per record split by layer (EventDecoder lookups,
              CallAssembler bookkeeping, DataChunk + counters), on an in-memory batch.

          parse [--seconds N] [--repeats N] [--case h1|h2|small] [--cpu N|-1]
              HTTP parsing throughput (MB/s, exchanges/s, allocations per exchange) of the
              HTTP/1.1 and HTTP/2 parsers alone, with content decoding, and of HttpFlowTracker,
              on pre-generated captures replayed on one thread. Needs no root.

          elf [--path FILE] [--repeats N]
              Reading one executable's symbol tables, as an exec-time attach does: the first
              time in the process and then warm (default /usr/bin/node). Needs no root.
        """;

    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        try
        {
            if (args[0] == "parse")
            {
                return ParseBench.Run(Options.Parse(args.AsSpan(1))); // no BPF: no root needed
            }

            if (args[0] == "elf")
            {
                return ElfBench.Run(Options.Parse(args.AsSpan(1)));
            }

            if (!KernelSupport.HasPrivileges())
            {
                Console.Error.WriteLine("bench: needs root (BPF programs are loaded): run it with sudo");
                return 1;
            }
            LibBpfLog.Install(verboseOutput: false, Console.Error.WriteLine);
            var options = Options.Parse(args.AsSpan(1));
            return args[0] switch
            {
                "noop-probes" => NoopProbes.Run(options),
                "reader" => ReaderBench.Run(options),
                "decode-profile" => DecodeProfile.Run(options),
                "produce" => Producer.Run(options), // started by reader
                _ => throw new ArgumentException($"unknown command {args[0]} (see --help)"),
            };
        }
        catch (Exception e) when (e is ArgumentException or BpfException or FileNotFoundException or InvalidOperationException)
        {
            Console.Error.WriteLine("bench: " + e.Message);
            return 1;
        }
    }
}

/// <summary>"--name value" pairs, nothing fancier.</summary>
internal sealed class Options
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    /// <summary>Flags that may stand alone: "--go" is "--go 1".</summary>
    private static readonly string[] Flags = ["go"];

    public static Options Parse(ReadOnlySpan<string> args)
    {
        var o = new Options();
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
            {
                throw new ArgumentException($"expected --name value, got {args[i]}");
            }

            var name = args[i][2..];
            if (Flags.Contains(name) && (i + 1 >= args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal)))
            {
                o._values[name] = "1";
                continue;
            }

            if (i + 1 >= args.Length)
            {
                throw new ArgumentException($"expected --name value, got {args[i]}");
            }

            o._values[name] = args[++i];
        }
        return o;
    }

    public bool Has(string name) => _values.ContainsKey(name);

    public string? String(string name) => _values.GetValueOrDefault(name);

    public long Long(string name, long fallback) =>
        _values.TryGetValue(name, out var v)
            ? long.TryParse(v, out var n) ? n : throw new ArgumentException($"--{name} {v}: not a number")
            : fallback;
}
