using TlsScope.Engine.Model;
using TlsScope.Sources.Tls.Discovery;
using TlsScope.Sources.Tls.Keys.Layout;


namespace TlsScope.Sources.Tls;

/// <summary>
/// Asks a capture for TLS secrets: <see cref="Layout"/> says where a library keeps them (or why
/// that is unknown, as a one-line reason), and <see cref="Sink"/> receives what the kernel read.
/// </summary>
public sealed record KeyCapture(IKeyMaterialSink Sink, Func<TlsLibrary, (KernelKeyLayout Layout, string? Problem)> Layout);
