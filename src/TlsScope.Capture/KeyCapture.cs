using TlsScope.Capture.Events;
using TlsScope.Capture.Libraries;
using TlsScope.Capture.Model;

namespace TlsScope.Capture;

/// <summary>
/// Asks a capture for TLS secrets: <see cref="Layout"/> says where a library keeps them (or why
/// that is unknown, as a one-line reason), and <see cref="Sink"/> receives what the kernel read.
/// </summary>
public sealed record KeyCapture(IKeyMaterialSink Sink, Func<TlsLibrary, (KernelKeyLayout Layout, string? Problem)> Layout);
