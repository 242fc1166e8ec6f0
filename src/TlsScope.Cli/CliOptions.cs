using System.CommandLine;
using TlsScope.Capture;

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
    public readonly Option<bool> Verbose = new("--verbose", "-v") { Description = "Show libbpf's log (the verifier log included) and each attach" };

    public RootCommand Build()
    {
        return new RootCommand("TlsScope: see the plaintext of every process's TLS traffic, with no proxy, no CA and no restart.")
        {
            Pid, Uid, Comm, Libssl, MaxPayload, Format, Output, Json, Duration, BufferSize, Verbose,
        };
    }

    /// <summary>Checks values the parser accepted; returns a one-line error or null.</summary>
    public string? Validate(ParseResult r) => r.GetValue(Format) is not ("text" or "json")
            ? $"--format {r.GetValue(Format)}: must be text or json"
        : r.GetValue(Pid) is <= 0 ? $"--pid {r.GetValue(Pid)}: must be a positive process id"
        : r.GetValue(Duration) is <= 0 ? $"--duration {r.GetValue(Duration)}: must be a positive number of seconds"
        : r.GetValue(BufferSize) is < 1 or > 1024 ? $"--buffer-size {r.GetValue(BufferSize)}: must be between 1 and 1024 (MiB)"
        : r.GetValue(Comm) is { Length: 0 } ? "--comm: must not be empty"
        : null;

    public CaptureOptions ToCapture(ParseResult r) => new()
    {
        Pid = r.GetValue(Pid),
        Uid = r.GetValue(Uid),
        Comm = r.GetValue(Comm),
        MaxPayload = r.GetValue(MaxPayload),
        Libraries = r.GetValue(Libssl) ?? [],
        RingBufferMiB = r.GetValue(BufferSize),
        Verbose = r.GetValue(Verbose),
    };
}
