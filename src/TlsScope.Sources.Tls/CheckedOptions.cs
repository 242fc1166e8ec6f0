using TlsScope.Engine;
using TlsScope.Sources.Tls.Discovery;


namespace TlsScope.Sources.Tls;

/// <summary>Options that passed <see cref="CaptureSession.Check"/>, with what it read of each
/// --libssl file (so it is parsed once).</summary>
public sealed record CheckedOptions(CaptureOptions Options, IReadOnlyList<(string Path, ExaminedLibrary Examined)> Libraries);
