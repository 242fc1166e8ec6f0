using System.CommandLine;
using TlsScope.Engine.Sources;
using TlsScope.Flows;
using TlsScope.Outputs.Files;
using TlsScope.Outputs.Text;
using TlsScope.Sources.Packets;
using TlsScope.Sources.Shell;
using TlsScope.Sources.Sql;
using TlsScope.Sources.Tls;

namespace TlsScope.Cli;

/// <summary>The command line, declared once: the target, the outputs, the run, and every source's
/// own options (<see cref="ISourceDefinition"/>), with their validation.</summary>
public sealed class CliOptions
{
    /// <summary>Every source TlsScope has; each brings its options.</summary>
    public readonly IReadOnlyList<ISourceDefinition> Sources = [new TlsDefinition(), new PacketsDefinition(), new ShellDefinition(), new SqlDefinition()];

    // The target: which processes.
    public readonly Option<int[]> Pid = new("--pid") { HelpName = "PID", Description = "Capture only this process (repeatable; one process gets its probes installed in it alone); the capture ends when they exit", AllowMultipleArgumentsPerToken = false };
    public readonly Option<uint?> Uid = new("--uid") { HelpName = "UID", Description = "Capture only processes of this user id" };
    public readonly Option<string?> Comm = new("--comm") { HelpName = "NAME", Description = "Capture only processes with this name (as in /proc/PID/comm, up to 15 bytes)" };
    public readonly Option<string?> Cgroup = new("--cgroup") { HelpName = "PATH", Description = "Capture only the tasks of this cgroup (v2) and its descendants: a path under /sys/fs/cgroup, or relative to it" };
    public readonly Option<string?> Container = new("--container") { HelpName = "ID", Description = "Capture only this container (a prefix of its docker, containerd, podman or CRI-O id)" };
    public readonly Option<string?> User = new("--user", "-u") { HelpName = "NAME", Description = "Run the launched command (after --) as this user" };
    public readonly Argument<string[]> Command = new("command") { HelpName = "-- CMD [ARGS...]", Description = "Launch this command and capture it and its children only; its first TLS byte is captured", Arity = ArgumentArity.ZeroOrMore };

    // The outputs.
    public readonly Option<string> Format = new("--format") { HelpName = "text|json", Description = "Output format: text or json (NDJSON)", DefaultValueFactory = _ => "text" };
    public readonly Option<string?> Output = new("--output", "-o") { HelpName = "FILE", Description = "Write the output to FILE (created 0600) instead of stdout" };
    public readonly Option<string?> Json = new("--json") { HelpName = "FILE", Description = "Also write NDJSON to FILE (created 0600), alongside the main output" };
    public readonly Option<bool> Raw = new("--raw") { Description = "Show chunks as captured: no HTTP parsing" };
    public readonly Option<int> BodyLimit = new("--body-limit") { HelpName = "BYTES", Description = $"Show at most BYTES of each HTTP body in the text output (default {TextSinkOptions.DefaultBodyLimit}; JSON and HAR keep whole bodies)", DefaultValueFactory = _ => TextSinkOptions.DefaultBodyLimit };
    public readonly Option<string?> Har = new("--har") { HelpName = "FILE", Description = "Also write every HTTP exchange to FILE as HAR 1.2 (created 0600, valid after every exchange)" };
    public readonly Option<bool> Redact = new("--redact") { Description = $"Mask the values of {string.Join(", ", HeaderRedactor.DefaultNames)} in every output" };
    public readonly Option<string[]> RedactHeader = new("--redact-header") { HelpName = "NAME", Description = "Also mask this header's values (repeatable; implies --redact)", AllowMultipleArgumentsPerToken = false };
    public readonly Option<string?> Keylog = new("--keylog") { HelpName = "FILE", Description = "Write every handshake's TLS secrets to FILE as an NSS key log (created 0600), for Wireshark or tshark" };
    public readonly Option<string?> Pcapng = new("--pcapng") { HelpName = "FILE", Description = "Write the packets of the traced connections to FILE as pcapng (created 0600), with the process in each packet's comment and the TLS secrets in Decryption Secrets Blocks" };
    public readonly Option<string?> Filter = new("--filter") { HelpName = "EXPR", Description = "Keep only packets matching this pcap-filter expression (tcpdump syntax), e.g. 'tcp port 443'" };
    public readonly Option<string?> PcapngPlaintext = new("--pcapng-plaintext") { HelpName = "FILE", Description = "Write the captured plaintext to FILE as pcapng with synthetic TCP packets on each connection's real addresses (created 0600): any TLS library's traffic opens in Wireshark as plain HTTP" };

    // The run.
    public readonly Option<double?> Duration = new("--duration") { HelpName = "SECONDS", Description = "Stop after SECONDS" };
    public readonly Option<int> BufferSize = new("--buffer-size") { HelpName = "MIB", Description = "Ring buffer size in MiB (rounded up to a power of two)", DefaultValueFactory = _ => 32 };
    public readonly Option<bool> Verbose = new("--verbose", "-v") { Description = "Show libbpf's log (the verifier log included) and each attach" };
    public readonly Option<bool> NoHold = new("--no-hold") { Description = "Never stop a program TlsScope has not seen before at its exec (by default it is held a few milliseconds, until its probes are in, so its first TLS byte is captured)" };

    /// <summary>How messages name the main output file.</summary>
    public const string OutputName = "-o";

    /// <summary>CancellationTokenSource.CancelAfter's limit (2^32 - 2 ms), in whole seconds.</summary>
    public const double MaxDurationSeconds = 4294967;

    public RootCommand Build()
    {
        var root = new RootCommand("TlsScope: see the plaintext of every process's TLS traffic, with no proxy, no CA and no restart.")
        {
            Pid, Uid, Comm, Cgroup, Container, User,
            Format, Output, Json, Raw, BodyLimit, Har, Redact, RedactHeader, Keylog, Pcapng, Filter, PcapngPlaintext,
            Duration, BufferSize, Verbose, NoHold, Command,
        };
        foreach (var source in Sources)
        {
            foreach (var option in source.Options)
            {
                root.Options.Add(option);
            }
        }

        return root;
    }

    /// <summary>What the outputs ask of the sources, and the target.</summary>
    public SourceDemand Demand(ParseResult r, Engine.Targets.Target target) =>
        new(target, Keys: r.GetValue(Keylog) is not null || r.GetValue(Pcapng) is not null, Packets: r.GetValue(Pcapng) is not null, NoneNamed: !Sources.Any(s => s.IsNamed(r)));

    /// <summary>Checks values the parser accepted; returns a one-line error or null.</summary>
    /// <param name="args">The raw arguments: a command to launch must follow "--".</param>
    public string? Validate(ParseResult r, IReadOnlyList<string> args) => r.GetValue(Format) is not ("text" or "json")
            ? $"--format {r.GetValue(Format)}: must be text or json"
        : (r.GetValue(Pid) ?? []).FirstOrDefault(p => p <= 0, 1) is <= 0 and var badPid ? $"--pid {badPid}: must be a positive process id"
        : r.GetValue(Duration) is { } d && !(d > 0 && double.IsFinite(d)) ? $"--duration {r.GetValue(Duration)}: must be a positive number of seconds"
        : r.GetValue(Duration) > MaxDurationSeconds ? $"--duration {r.GetValue(Duration)}: at most {MaxDurationSeconds} seconds (49 days); leave it out to run until stopped"
        : r.GetValue(BufferSize) is < 1 or > 1024 ? $"--buffer-size {r.GetValue(BufferSize)}: must be between 1 and 1024 (MiB)"
        : r.GetValue(Comm) is { Length: 0 } ? "--comm: must not be empty"
        : r.GetValue(BodyLimit) < 0 ? $"--body-limit {r.GetValue(BodyLimit)}: must not be negative"
        : r.GetValue(Raw) && r.GetValue(Har) is not null ? "--har needs HTTP parsing: it cannot be combined with --raw"
        : r.GetValue(Raw) && Redacting(r) ? "--redact needs HTTP parsing to find headers: it cannot be combined with --raw"
        : (r.GetValue(RedactHeader) ?? []).FirstOrDefault(n => !IsToken(n)) is { } badHeader ? $"--redact-header '{badHeader}': not a header name"
        : r.GetValue(Pcapng) is null && r.GetValue(Filter) is not null ? "--filter selects the packets of --pcapng: give --pcapng FILE too"
        : r.GetValue(Filter) is { } f && string.IsNullOrWhiteSpace(f) ? "--filter: must not be empty"
        : r.GetValue(Har) is { } har && OutputFileSet.IsStandardOutput(har) ? $"--har {har}: give a file (HAR is completed in place after each exchange)"
        : ValidateTarget(r, args);

    private string? ValidateTarget(ParseResult r, IReadOnlyList<string> args)
    {
        var command = r.GetValue(Command) ?? [];
        var scopes = new[] { (Pid.Name, (r.GetValue(Pid) ?? []).Length > 0), (Cgroup.Name, r.GetValue(Cgroup) is not null), (Container.Name, r.GetValue(Container) is not null), ("-- CMD", command.Length > 0) }
            .Where(s => s.Item2).Select(s => s.Item1).ToList();
        if (command.Length > 0 && !args.Contains("--"))
        {
            return command[0].StartsWith('-') ? $"{command[0]}: unknown option (see --help)" : $"unexpected argument '{command[0]}': a command to launch goes after --";
        }

        if (args.Contains("--") && command.Length == 0)
        {
            return "--: give the command to launch after it";
        }

        if (scopes.Count > 1)
        {
            return $"{scopes[0]} and {scopes[1]}: choose one (a process, a cgroup, a container or a command)";
        }

        if (r.GetValue(User) is not null && command.Length == 0)
        {
            return "--user runs the launched command: give it after --";
        }

        if (r.GetValue(Container) is { } c && (c.Length == 0 || !c.All(char.IsAsciiHexDigitLower)))
        {
            return $"--container {c}: not a container id (lower-case hex digits)";
        }

        var demand = Demand(r, Engine.Targets.Target.Everything);
        var tls = demand.NoneNamed || Sources.OfType<TlsDefinition>().Any(s => s.IsNamed(r));
        if (!tls && (r.GetValue(Keylog) ?? r.GetValue(Har)) is not null)
        {
            return $"{(r.GetValue(Keylog) is not null ? "--keylog" : "--har")} takes TLS traffic: add --tls";
        }

        return Sources.Select(s => s.Validate(r, demand)).FirstOrDefault(m => m is not null);
    }

    public bool Redacting(ParseResult r) => r.GetValue(Redact) || (r.GetValue(RedactHeader) ?? []).Length > 0;

    /// <summary>The HTTP options, or null with --raw.</summary>
    public FlowOptions? ToFlows(ParseResult r) => r.GetValue(Raw) ? null : new FlowOptions
    {
        Redactor = Redacting(r) ? new HeaderRedactor(r.GetValue(RedactHeader) ?? []) : null,
    };

    /// <summary>Every file the run writes, for <see cref="OutputFileSet"/>: the main output ("-" is
    /// standard output), then the others in the order of the help.</summary>
    public IEnumerable<OutputFileSet.Request> OutputRequests(ParseResult r)
    {
        yield return new(OutputName, r.GetValue(Output) ?? SecureFile.StandardOutputPath);
        foreach (var (option, regularOnly) in new[] { (Json, false), (Har, true), (Keylog, false), (Pcapng, false), (PcapngPlaintext, false) })
        {
            if (r.GetValue(option) is { } path)
            {
                yield return new(option.Name, path, regularOnly);
            }
        }
    }

    /// <summary>RFC 9110 token characters, the only ones a header name may have.</summary>
    private static bool IsToken(string name) =>
        name.Length > 0 && name.All(c => c < 127 && (char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c)));
}
