using System.CommandLine;
using TlsScope.Engine.Sources;

namespace TlsScope.Sources.Tls;

/// <summary>The TLS source on the command line: its options, and the source a run asks for
/// (when no source is named, or --tls is; keys when an output takes them).</summary>
public sealed class TlsDefinition : ISourceDefinition
{
    public readonly Option<string[]> Libssl = new("--binary", "--libssl")
    {
        HelpName = "PATH",
        Description = "Also probe this TLS library or executable: OpenSSL, BoringSSL, or a Go program (repeatable)",
        AllowMultipleArgumentsPerToken = false,
    };
    public readonly Option<bool> Tls = new("--tls") { Description = "Capture TLS plaintext (the default when no other source, such as --shell or --sql, is named; give it to combine them)" };
    public readonly Option<uint> MaxPayload = new("--max-payload") { HelpName = "BYTES", Description = "Keep at most N bytes per call; the rest is counted as truncated (default: everything)" };

    public string Name => "tls";

    public IEnumerable<Option> Options => [Tls, Libssl, MaxPayload];

    public bool IsNamed(ParseResult parsed) => parsed.GetValue(Tls);

    private bool Runs(ParseResult parsed, SourceDemand demand) => demand.NoneNamed || parsed.GetValue(Tls);

    public string? Validate(ParseResult parsed, SourceDemand demand) =>
        Runs(parsed, demand) ? null
        : (parsed.GetValue(Libssl) ?? []).Length > 0 ? $"{TypedName(parsed)} is a TLS option: add --tls"
        : parsed.GetResult(MaxPayload) is { Implicit: false } ? "--max-payload is a TLS option: add --tls"
        : null;

    public ICaptureSource? Create(ParseResult parsed, SourceDemand demand) => Runs(parsed, demand)
        ? new TlsSource(TlsSourceOptions.Check(parsed.GetValue(Libssl) ?? [], parsed.GetValue(MaxPayload), demand.Keys, TypedName(parsed)))
        : null;

    /// <summary>The name the user gave the option (--binary or --libssl), for its messages.</summary>
    public string TypedName(ParseResult parsed) => parsed.GetResult(Libssl)?.IdentifierToken?.Value ?? Libssl.Name;
}
