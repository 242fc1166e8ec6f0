using System.Globalization;

namespace TlsScope.Sources.Tls.Go.Binary;

/// <summary>A Go release number as in "go1.19.8" (Patch 0 for "go1.21rc2" or "go1.20").</summary>
public readonly record struct GoVersion(int Major, int Minor, int Patch) : IComparable<GoVersion>
{
    /// <summary>Parses the toolchain's version string: "go1.19.8", "go1.21rc2", "go1.22.0-pre X:foo",
    /// "go1.24.1 X:nosynchashtriggers". False for "devel ..." and anything without a number.</summary>
    public static bool TryParse(string text, out GoVersion version)
    {
        version = default;
        if (!text.StartsWith("go", StringComparison.Ordinal))
        {
            return false;
        }

        var numbers = new int[3];
        var span = text.AsSpan(2);
        for (var i = 0; i < 3; i++)
        {
            var digits = 0;
            while (digits < span.Length && char.IsAsciiDigit(span[digits]))
            {
                digits++;
            }

            if (digits == 0 || !int.TryParse(span[..digits], NumberStyles.None, CultureInfo.InvariantCulture, out numbers[i]))
            {
                if (i < 2)
                {
                    return false;
                }
                break;
            }

            span = span[digits..];
            if (span.IsEmpty || span[0] != '.')
            {
                break;
            }
            span = span[1..];
        }

        version = new GoVersion(numbers[0], numbers[1], numbers[2]);
        return true;
    }

    public bool IsAtLeast(int major, int minor) => Major > major || (Major == major && Minor >= minor);

    public int CompareTo(GoVersion other) =>
        Major != other.Major ? Major.CompareTo(other.Major)
        : Minor != other.Minor ? Minor.CompareTo(other.Minor)
        : Patch.CompareTo(other.Patch);

    public override string ToString() => $"go{Major}.{Minor}.{Patch}";
}
