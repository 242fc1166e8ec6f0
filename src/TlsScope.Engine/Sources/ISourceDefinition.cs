using System.CommandLine;
using TlsScope.Engine.Targets;

namespace TlsScope.Engine.Sources;

/// <summary>
/// A source as the command line sees it: its own options, their validation, and the source a run
/// asks for. The CLI is built from every definition's options; adding a source is adding a
/// definition (and its project), not editing the engine or the CLI.
/// </summary>
public interface ISourceDefinition
{
    string Name { get; }

    IEnumerable<Option> Options { get; }

    /// <summary>Whether the command line names this source (--tls, --shell, --sql, ...). A run
    /// that names none captures TLS, as TlsScope always has; naming some runs just those.</summary>
    bool IsNamed(ParseResult parsed) => false;

    /// <summary>A one-line refusal of this source's option values, or null.</summary>
    string? Validate(ParseResult parsed, SourceDemand demand);

    /// <summary>The source this run needs, or null; its refusals that need no kernel (a file that
    /// is not a TLS library, an interface that does not exist) come from here, as CaptureExceptions.</summary>
    ICaptureSource? Create(ParseResult parsed, SourceDemand demand);
}

/// <summary>What the run asks of the sources: its target and what its outputs take.</summary>
/// <param name="Keys">Some output takes TLS key sets (--keylog, --pcapng).</param>
/// <param name="Packets">Some output takes packets (--pcapng).</param>
/// <param name="NoneNamed">No source is named on the command line: the default sources run.</param>
public sealed record SourceDemand(Target Target, bool Keys, bool Packets, bool NoneNamed = true);
