using TlsScope.Sources.Tls.Keys.Layout;


namespace TlsScope.Sources.Tls.Keys.Resolution;

/// <summary>Calibrated layouts on disk, one JSON file per library build and layout format:
/// /var/cache/tlsscope/layouts/ID.vN.json (directory 0700), or under $TLSSCOPE_CACHE_DIR.</summary>
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
    /// (a damaged entry is simply calibrated again).</summary>
    public KeyLayout? Load(string id)
    {
        try
        {
            var path = PathOf(id);
            return File.Exists(path) ? KeyLayoutJson.Read(File.ReadAllText(path)) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    /// <summary>Stores a layout; a cache that cannot be written only costs a later calibration.</summary>
    public bool Store(string id, KeyLayout layout)
    {
        try
        {
            System.IO.Directory.CreateDirectory(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var path = PathOf(id);
            var temporary = $"{path}.{Environment.ProcessId}.tmp";
            File.WriteAllText(temporary, KeyLayoutJson.Write(layout));
            File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            File.Move(temporary, path, overwrite: true); // readers never see half a file
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private string PathOf(string id) => Path.Combine(Directory, $"{id}.v{FormatVersion}.json");
}
