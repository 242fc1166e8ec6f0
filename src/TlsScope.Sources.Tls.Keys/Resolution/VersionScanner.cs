using System.Text;
using System.Text.RegularExpressions;

namespace TlsScope.Sources.Tls.Keys.Resolution;

/// <summary>Finds the OpenSSL version text compiled into a binary ("OpenSSL 3.0.19 27 Jan 2026"),
/// reading the file in chunks so a 100 MB executable is not loaded whole.</summary>
public static partial class VersionScanner
{
    private const int ChunkSize = 1 << 20;
    private const int Overlap = 64; // longer than any version text, so none is cut in two

    [GeneratedRegex(@"OpenSSL \d+\.\d+\.\d+[a-z]* +\d{1,2} [A-Z][a-z]{2} \d{4}")]
    private static partial Regex VersionText();

    /// <summary>The first OpenSSL version text in the file, or null.</summary>
    public static string? Find(string path)
    {
        using var file = File.OpenRead(path);
        var buffer = new byte[ChunkSize + Overlap];
        var kept = 0;
        while (true)
        {
            var n = file.Read(buffer, kept, ChunkSize);
            if (n <= 0)
            {
                return null;
            }

            var total = kept + n;
            if (VersionText().Match(Encoding.Latin1.GetString(buffer, 0, total)) is { Success: true } m)
            {
                return m.Value;
            }

            kept = Math.Min(Overlap, total);
            Array.Copy(buffer, total - kept, buffer, 0, kept);
        }
    }
}
