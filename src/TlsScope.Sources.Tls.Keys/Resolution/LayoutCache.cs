using TlsScope.Engine.Files;
using TlsScope.Sources.Tls.Keys.Layout;


namespace TlsScope.Sources.Tls.Keys.Resolution;

/// <summary>Calibrated layouts on disk, one JSON file per library build and layout format:
/// /var/cache/tlsscope/layouts/ID.vN.json (a <see cref="PrivateDirectory"/>), or under $TLSSCOPE_CACHE_DIR.</summary>
public sealed class LayoutCache(string? directory = null)
{
    public const string DirectoryVariable = "TLSSCOPE_CACHE_DIR";
    public const string DefaultDirectory = "/var/cache/tlsscope/layouts";

    /// <summary>Raised whenever calibration learns to find more, so builds cached by an older
    /// TlsScope are calibrated again (2: handshake-phase slots).</summary>
    public const int FormatVersion = 2;

    public string Directory { get; } = directory
        ?? (Environment.GetEnvironmentVariable(DirectoryVariable) is { Length: > 0 } d ? d : DefaultDirectory);

    /// <summary>The cached layout of build <paramref name="id"/>; null when absent or unreadable
    /// (a damaged entry is simply calibrated again), or when the directory is not TlsScope's own
    /// (a layout decides what memory is read as keys).</summary>
    public KeyLayout? Load(string id)
    {
        try
        {
            return PrivateDirectory.Read(Directory, NameOf(id)) is { } text ? KeyLayoutJson.Read(text) : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>Stores a layout; a cache that cannot be written only costs a later calibration.</summary>
    public bool Store(string id, KeyLayout layout) => PrivateDirectory.Write(Directory, NameOf(id), KeyLayoutJson.Write(layout));

    private static string NameOf(string id) => $"{id}.v{FormatVersion}.json";
}
