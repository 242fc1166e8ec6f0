using System.Text;

namespace TlsScope.Outputs.Json;

/// <summary>RFC 3339 UTC timestamps with nanoseconds: <c>2026-11-22T15:04:05.123456789Z</c>.</summary>
public static class Rfc3339
{
    /// <summary>Length of every formatted timestamp (all fields are fixed width).</summary>
    public const int Length = 30;

    private const long NanosPerSecond = 1_000_000_000;

    /// <summary>Formats nanoseconds since the Unix epoch (negative: before 1970).</summary>
    public static string FormatUnixNs(long unixNs)
    {
        Span<byte> utf8 = stackalloc byte[Length];
        FormatUnixNs(unixNs, utf8);
        return Encoding.ASCII.GetString(utf8);
    }

    /// <summary>
    /// Writes the timestamp as ASCII into <paramref name="destination"/> (at least
    /// <see cref="Length"/> bytes) and returns the number of bytes written.
    /// </summary>
    public static int FormatUnixNs(long unixNs, Span<byte> destination)
    {
        if (destination.Length < Length)
        {
            throw new ArgumentException($"need {Length} bytes", nameof(destination));
        }

        long seconds = Math.DivRem(unixNs, NanosPerSecond, out long nanos);
        if (nanos < 0)
        {
            seconds--;
            nanos += NanosPerSecond;
        }

        // Records come in bursts within one second: its "YYYY-MM-DDTHH:MM:SS." is kept per thread
        // (the calendar arithmetic was ~9 % of --raw's CPU in bench/overhead.sh PROFILE=1).
        var prefix = _prefix;
        if (prefix is null || seconds != _second)
        {
            prefix = _prefix ??= new byte[PrefixLength];
            FormatPrefix(seconds, prefix);
            _second = seconds;
        }

        prefix.CopyTo(destination);
        Digits(destination.Slice(PrefixLength, 9), nanos);
        destination[29] = (byte)'Z';
        return Length;
    }

    private const int PrefixLength = 20; // "2026-11-22T15:04:05."

    [ThreadStatic]
    private static byte[]? _prefix;

    [ThreadStatic]
    private static long _second;

    private static void FormatPrefix(long seconds, Span<byte> destination)
    {
        // Every long of nanoseconds (years 1677..2262) is inside DateTime's range.
        DateTime time = DateTime.UnixEpoch.AddTicks(seconds * TimeSpan.TicksPerSecond);
        (int year, int month, int day) = time;

        Digits(destination[..4], year);
        destination[4] = (byte)'-';
        Digits(destination.Slice(5, 2), month);
        destination[7] = (byte)'-';
        Digits(destination.Slice(8, 2), day);
        destination[10] = (byte)'T';
        Digits(destination.Slice(11, 2), time.Hour);
        destination[13] = (byte)':';
        Digits(destination.Slice(14, 2), time.Minute);
        destination[16] = (byte)':';
        Digits(destination.Slice(17, 2), time.Second);
        destination[19] = (byte)'.';
    }

    /// <summary>Writes <paramref name="value"/> as exactly destination.Length decimal digits, zero-padded.</summary>
    internal static void Digits(Span<byte> destination, long value)
    {
        for (int i = destination.Length - 1; i >= 0; i--)
        {
            value = Math.DivRem(value, 10, out long digit);
            destination[i] = (byte)('0' + digit);
        }
    }
}
