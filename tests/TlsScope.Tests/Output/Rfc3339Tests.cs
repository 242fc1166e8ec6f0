using System.Text;
using TlsScope.Outputs.Json;

namespace TlsScope.Tests.Output;

public sealed class Rfc3339Tests
{
    [Theory]
    [InlineData(Chunks.KnownTimeNs, "2026-11-22T15:04:05.123456789Z")]
    [InlineData(0L, "1970-01-01T00:00:00.000000000Z")]
    [InlineData(1L, "1970-01-01T00:00:00.000000001Z")]
    [InlineData(-1L, "1969-12-31T23:59:59.999999999Z")]
    [InlineData(951_782_400_000_000_000L, "2000-02-29T00:00:00.000000000Z")]
    [InlineData(long.MaxValue, "2262-04-11T23:47:16.854775807Z")]
    [InlineData(long.MinValue, "1677-09-21T00:12:43.145224192Z")]
    public void FormatsUtcWithNanoseconds(long unixNs, string expected)
    {
        Assert.Equal(expected, Rfc3339.FormatUnixNs(unixNs));

        Span<byte> utf8 = stackalloc byte[Rfc3339.Length];
        Assert.Equal(Rfc3339.Length, Rfc3339.FormatUnixNs(unixNs, utf8));
        Assert.Equal(expected, Encoding.ASCII.GetString(utf8));
    }

    [Fact]
    public void AgreesWithDateTimeOffset()
    {
        var random = new Random(42);
        for (int i = 0; i < 1000; i++)
        {
            long ns = random.NextInt64(-2_000_000_000_000_000_000, 4_000_000_000_000_000_000);
            var time = DateTimeOffset.FromUnixTimeMilliseconds(Math.DivRem(ns, 1_000_000, out long rest) - (rest < 0 ? 1 : 0));
            string expectedPrefix = time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture);
            Assert.StartsWith(expectedPrefix, Rfc3339.FormatUnixNs(ns));
        }
    }

    [Fact]
    public void RejectsShortDestination()
    {
        Assert.Throws<ArgumentException>(() => Rfc3339.FormatUnixNs(0, new byte[Rfc3339.Length - 1]));
    }

    /// <summary>The per-second prefix cache gives what the calendar gives, in any order of
    /// times: the same second again, the next, an earlier one, before 1970.</summary>
    [Fact]
    public void ManyTimesInAnyOrder_MatchTheCalendar()
    {
        var random = new Random(13);
        long[] bases = [Chunks.KnownTimeNs, 0, -1, -1_000_000_001, 4_102_444_799_999_999_999];
        for (var i = 0; i < 20_000; i++)
        {
            var ns = bases[i % bases.Length] + (i % 3 == 0 ? 0 : random.NextInt64(-3_000_000_000, 3_000_000_000));
            var seconds = Math.DivRem(ns, 1_000_000_000, out var nanos);
            if (nanos < 0)
            {
                (seconds, nanos) = (seconds - 1, nanos + 1_000_000_000);
            }

            var expected = DateTime.UnixEpoch.AddTicks(seconds * TimeSpan.TicksPerSecond)
                .ToString("yyyy-MM-dd'T'HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture) + "." + nanos.ToString("D9", System.Globalization.CultureInfo.InvariantCulture) + "Z";
            Assert.Equal(expected, Rfc3339.FormatUnixNs(ns));
        }
    }
}
