namespace TlsScope.Outputs.Json;

/// <summary>
/// A duration in nanoseconds as JSON milliseconds with microsecond resolution, the number
/// Utf8JsonWriter writes for Math.Round(ns / 1e6, 3) ("12.5", "0.042", "7"), formatted from
/// integers: the double formatting it replaces was a tenth of the exchange record's cost.
/// </summary>
internal static class Milliseconds
{
    /// <summary>Longest text: 12 integer digits, a point and 3 decimals.</summary>
    public const int MaxBytes = 16;

    /// <summary>Below this (31 years), a double's spacing is finer than half a thousandth, so the
    /// rounded double's shortest text is the 3-place decimal; above, it is left to the writer.</summary>
    private const double Limit = 1e12;

    /// <summary>Writes the number, or returns false (negative or huge: left to the writer's double path).</summary>
    public static bool TryFormat(long ns, Span<byte> destination, out int written)
    {
        double ms = Math.Round(ns / 1e6, 3);
        written = 0;
        if (ns < 0 || ms >= Limit)
        {
            return false;
        }

        // The rounded double is the nearest one to a decimal with 3 places: that decimal is its
        // shortest round-trip text, which is what the writer prints.
        long thousandths = (long)Math.Round(ms * 1000);
        long whole = thousandths / 1000;
        int fraction = (int)(thousandths % 1000);
        whole.TryFormat(destination, out written, default, System.Globalization.CultureInfo.InvariantCulture);
        if (fraction == 0)
        {
            return true;
        }

        destination[written++] = (byte)'.';
        int digits = fraction % 100 == 0 ? 1 : fraction % 10 == 0 ? 2 : 3;
        int value = digits == 1 ? fraction / 100 : digits == 2 ? fraction / 10 : fraction;
        for (int i = digits - 1; i >= 0; i--)
        {
            destination[written + i] = (byte)('0' + value % 10);
            value /= 10;
        }

        written += digits;
        return true;
    }
}
