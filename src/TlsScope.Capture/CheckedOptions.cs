using TlsScope.Capture.Libraries;

namespace TlsScope.Capture;

/// <summary>Options that passed <see cref="CaptureSession.Check"/>, with what it read of each
/// --libssl file (so it is parsed once).</summary>
public sealed record CheckedOptions(CaptureOptions Options, IReadOnlyList<(string Path, ExaminedLibrary Examined)> Libraries);
