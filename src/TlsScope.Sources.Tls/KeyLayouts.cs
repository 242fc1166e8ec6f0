using TlsScope.Sources.Tls.Discovery;
using TlsScope.Sources.Tls.Keys.Decoding;
using TlsScope.Sources.Tls.Keys.Layout;
using TlsScope.Sources.Tls.Keys.Resolution;


namespace TlsScope.Sources.Tls;

/// <summary>Glue between the capture and TlsScope.Keys: each library the capture attaches
/// gets its layout (cached, calibrated, or from the table), for the kernel and the decoder.</summary>
internal static class KeyLayouts
{
    private static readonly LayoutResolver Resolver = new();

    public static (KernelKeyLayout Layout, string? Problem) For(TlsLibrary lib, KeyExtractor keys)
    {
        var layout = Resolver.TryResolve(lib.Path, out var error, lib.Symbols);
        if (layout is null)
        {
            return (default, error ?? "no key layout");
        }

        keys.SetLayout((uint)lib.Id, layout);
        return (layout.ToKernel(), null);
    }

    /// <summary>The summary line of the key decoder.</summary>
    public static string Summary(KeyExtractor keys) =>
        $"keys: {keys.Sets} handshakes ({keys.Duplicates} seen again, e.g. from the other end, {keys.Incomplete} incomplete"
        + (keys.LastIncompleteReason is { } why ? $": {why}" : "") + ")";
}
