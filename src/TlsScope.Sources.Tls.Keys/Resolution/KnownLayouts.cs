using System.Text.Json.Nodes;
using TlsScope.Sources.Tls.Keys.Layout;

namespace TlsScope.Sources.Tls.Keys.Resolution;

/// <summary>
/// Layouts for builds that cannot be calibrated (statically linked executables such as node),
/// keyed by version series: "OpenSSL 3.0." matches every "OpenSSL 3.0.x dd Mon yyyy". The
/// table is the embedded KnownLayouts.json.
/// </summary>
public static class KnownLayouts
{
    private static readonly Lazy<IReadOnlyList<(string Series, KeyLayout Layout)>> Table = new(Load);

    public static IReadOnlyList<(string Series, KeyLayout Layout)> All => Table.Value;

    /// <summary>The layout whose series starts <paramref name="version"/>, or null.</summary>
    public static KeyLayout? Find(string version) =>
        Table.Value.FirstOrDefault(e => version.StartsWith(e.Series, StringComparison.Ordinal)).Layout;

    private static IReadOnlyList<(string, KeyLayout)> Load()
    {
        using var stream = typeof(KnownLayouts).Assembly.GetManifestResourceStream("TlsScope.Keys.KnownLayouts.json")
            ?? throw new InvalidOperationException("KnownLayouts.json is not embedded");
        var root = JsonNode.Parse(stream);
        var result = new List<(string, KeyLayout)>();
        foreach (var entry in root?["layouts"]?.AsArray() ?? [])
        {
            result.Add(((string?)entry?["series"] ?? "", KeyLayoutJson.FromNode(entry?["layout"])));
        }

        return result;
    }
}
