using System.CommandLine;
using TlsScope.Flows;
using TlsScope.Engine;
using TlsScope.Outputs.Files;
using TlsScope.Outputs.Text;

namespace TlsScope.Cli;

/// <summary>The command line, declared once: options, their validation, and the mapping to
/// <see cref="CaptureOptions"/> and sinks.</summary>
public sealed class CliOptions
{
    public readonly Option<int?> Pid = new("--pid") { HelpName = "PID", Description = "Capture only this process (its probes are installed in it alone)" };
    public readonly Option<uint?> Uid = new("--uid") { HelpName = "UID", Description = "Capture only processes of this user id" };
    public readonly Option<string?> Comm = new("--comm") { HelpName = "NAME", Description = "Capture only processes with this name (as in /proc/PID/comm, up to 15 bytes)" };
    public readonly Option<string[]> Libssl = new("--libssl") { HelpName = "PATH", Description = "Also probe this OpenSSL library or executable (repeatable)", AllowMultipleArgumentsPerToken = false };
    public readonly Option<uint> MaxPayload = new("--max-payload") { HelpName = "BYTES", Description = "Keep at most N bytes per call; the rest is counted as truncated (default: everything)" };
    public readonly Option<string> Format = new("--format") { HelpName = "text|json", Description = "Output format: text or json (NDJSON)", DefaultValueFactory = _ => "text" };
    public readonly Option<string?> Output = new("--output", "-o") { HelpName = "FILE", Description = "Write the output to FILE (created 0600) instead of stdout" };
    public readonly Option<string?> Json = new("--json") { HelpName = "FILE", Description = "Also write NDJSON to FILE (created 0600), alongside the main output" };
    public readonly Option<double?> Duration = new("--duration") { HelpName = "SECONDS", Description = "Stop after SECONDS" };
    public readonly Option<int> BufferSize = new("--buffer-size") { HelpName = "MIB", Description = "Ring buffer size in MiB (rounded up to a power of two)", DefaultValueFactory = _ => 32 };
    public readonly Option<bool> Raw = new("--raw") { Description = "Show chunks as captured: no HTTP parsing" };
    public readonly Option<int> BodyLimit = new("--body-limit") { HelpName = "BYTES", Description = $"Show at most BYTES of each HTTP body in the text output (default {TextSinkOptions.DefaultBodyLimit}; JSON and HAR keep whole bodies)", DefaultValueFactory = _ => TextSinkOptions.DefaultBodyLimit };
    public readonly Option<string?> Har = new("--har") { HelpName = "FILE", Description = "Also write every HTTP exchange to FILE as HAR 1.2 (created 0600, valid after every exchange)" };
    public readonly Option<bool> Redact = new("--redact") { Description = $"Mask the values of {string.Join(", ", HeaderRedactor.DefaultNames)} in every output" };
    public readonly Option<string[]> RedactHeader = new("--redact-header") { HelpName = "NAME", Description = "Also mask this header's values (repeatable; implies --redact)", AllowMultipleArgumentsPerToken = false };
    public readonly Option<string?> Keylog = new("--keylog") { HelpName = "FILE", Description = "Write every handshake's TLS secrets to FILE as an NSS key log (created 0600), for Wireshark or tshark" };
    public readonly Option<string?> Pcapng = new("--pcapng") { HelpName = "FILE", Description = "Write the packets of the traced connections to FILE as pcapng (created 0600), with the process in each packet's comment and the TLS secrets in Decryption Secrets Blocks" };
    public readonly Option<string[]> Interface = new("--interface", "-i") { HelpName = "NAME", Description = "Capture packets on this interface (repeatable; default: every interface that is up, loopback included)", AllowMultipleArgumentsPerToken = false };
    public readonly Option<string?> Filter = new("--filter") { HelpName = "EXPR", Description = "Keep only packets matching this pcap-filter expression (tcpdump syntax), e.g. 'tcp port 443'" };
    public readonly Option<string?> PcapngPlaintext = new("--pcapng-plaintext") { HelpName = "FILE", Description = "Write the captured plaintext to FILE as pcapng with synthetic TCP packets on each connection's real addresses (created 0600): any TLS library's traffic opens in Wireshark as plain HTTP" };
    public readonly Option<bool> Verbose = new("--verbose", "-v") { Description = "Show libbpf's log (the verifier log included) and each attach" };

    public RootCommand Build()
    {
        return new RootCommand("TlsScope: see the plaintext of every process's TLS traffic, with no proxy, no CA and no restart.")
        {
            Pid, Uid, Comm, Libssl, MaxPayload, Format, Output, Json, Raw, BodyLimit, Har, Redact, RedactHeader,
            Keylog, Pcapng, Interface, Filter, PcapngPlaintext, Duration, BufferSize, Verbose,
        };
    }

    /// <summary>Checks values the parser accepted; returns a one-line error or null.</summary>
    public string? Validate(ParseResult r) => r.GetValue(Format) is not ("text" or "json")
            ? $"--format {r.GetValue(Format)}: must be text or json"
        : r.GetValue(Pid) is <= 0 ? $"--pid {r.GetValue(Pid)}: must be a positive process id"
        : r.GetValue(Duration) is { } d && !(d > 0 && double.IsFinite(d)) ? $"--duration {r.GetValue(Duration)}: must be a positive number of seconds"
        : r.GetValue(Duration) > MaxDurationSeconds ? $"--duration {r.GetValue(Duration)}: at most {MaxDurationSeconds} seconds (49 days); leave it out to run until stopped"
        : r.GetValue(BufferSize) is < 1 or > 1024 ? $"--buffer-size {r.GetValue(BufferSize)}: must be between 1 and 1024 (MiB)"
        : r.GetValue(Comm) is { Length: 0 } ? "--comm: must not be empty"
        : r.GetValue(BodyLimit) < 0 ? $"--body-limit {r.GetValue(BodyLimit)}: must not be negative"
        : r.GetValue(Raw) && r.GetValue(Har) is not null ? "--har needs HTTP parsing: it cannot be combined with --raw"
        : r.GetValue(Raw) && Redacting(r) ? "--redact needs HTTP parsing to find headers: it cannot be combined with --raw"
        : (r.GetValue(RedactHeader) ?? []).FirstOrDefault(n => !IsToken(n)) is { } bad ? $"--redact-header '{bad}': not a header name"
        : r.GetValue(Pcapng) is null && (r.GetValue(Interface) ?? []).Length > 0 ? "--interface selects where --pcapng captures packets: give --pcapng FILE too"
        : r.GetValue(Pcapng) is null && r.GetValue(Filter) is not null ? "--filter selects the packets of --pcapng: give --pcapng FILE too"
        : r.GetValue(Filter) is { } f && string.IsNullOrWhiteSpace(f) ? "--filter: must not be empty"
        : r.GetValue(Har) is { } har && OutputFileSet.IsStandardOutput(har) ? $"--har {har}: give a file (HAR is completed in place after each exchange)"
        : null;

    /// <summary>How messages name the main output file.</summary>
    public const string OutputName = "-o";

    /// <summary>CancellationTokenSource.CancelAfter's limit (2^32 - 2 ms), in whole seconds.</summary>
    public const double MaxDurationSeconds = 4294967;

    /// <summary>Every file the run writes, for <see cref="OutputFileSet"/>: the
    /// main output ("-" is standard output), then the others in the order of the help.</summary>
    public IEnumerable<OutputFileSet.Request> OutputRequests(ParseResult r)
    {
        yield return new(OutputName, r.GetValue(Output) ?? SecureFile.StandardOutputPath);
        foreach (var (option, regularOnly) in new[] { (Json, false), (Har, true), (Keylog, false), (Pcapng, false), (PcapngPlaintext, false) })
            if (r.GetValue(option) is { } path)
                yield return new(option.Name, path, regularOnly);
    }

    public bool Redacting(ParseResult r) => r.GetValue(Redact) || (r.GetValue(RedactHeader) ?? []).Length > 0;

    /// <summary>The HTTP options, or null with --raw.</summary>
    public FlowOptions? ToFlows(ParseResult r) => r.GetValue(Raw) ? null : new FlowOptions
    {
        Redactor = Redacting(r) ? new HeaderRedactor(r.GetValue(RedactHeader) ?? []) : null,
    };

    /// <summary>RFC 9110 token characters, the only ones a header name may have.</summary>
    private static bool IsToken(string name) =>
        name.Length > 0 && name.All(c => c < 127 && (char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c)));

    public CaptureOptions ToCapture(ParseResult r) => new()
    {
        Pid = r.GetValue(Pid),
        Uid = r.GetValue(Uid),
        Comm = r.GetValue(Comm),
        MaxPayload = r.GetValue(MaxPayload),
        Libraries = r.GetValue(Libssl) ?? [],
        RingBufferMiB = r.GetValue(BufferSize),
        Verbose = r.GetValue(Verbose),
        Keys = r.GetValue(Keylog) is not null || r.GetValue(Pcapng) is not null,
    };
}
