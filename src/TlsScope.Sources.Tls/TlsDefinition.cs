using System.CommandLine;
using TlsScope.Engine.Sources;

namespace TlsScope.Sources.Tls;

/// <summary>The TLS source on the command line: its options, and the source a run asks for
/// (always: TLS is what TlsScope captures; keys when an output takes them).</summary>
public sealed class TlsDefinition : ISourceDefinition
{
    public readonly Option<string[]> Libssl = new("--binary", "--libssl")
    {
        HelpName = "PATH",
        Description = "Also probe this TLS library or executable: OpenSSL, BoringSSL, or a Go program (repeatable)",
        AllowMultipleArgumentsPerToken = false,
    };
    public readonly Option<uint> MaxPayload = new("--max-payload") { HelpName = "BYTES", Description = "Keep at most N bytes per call; the rest is counted as truncated (default: everything)" };

    public string Name => "tls";

    public IEnumerable<Option> Options => [Libssl, MaxPayload];

    public string? Validate(ParseResult parsed, SourceDemand demand) => null;

    public ICaptureSource? Create(ParseResult parsed, SourceDemand demand) =>
        new TlsSource(TlsSourceOptions.Check(parsed.GetValue(Libssl) ?? [], parsed.GetValue(MaxPayload), demand.Keys));
}
