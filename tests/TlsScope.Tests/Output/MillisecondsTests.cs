using System.Buffers;
using System.Text;
using System.Text.Json;
using TlsScope.Outputs.Json;

namespace TlsScope.Tests.Output;

/// <summary>The integer formatting of *_ms writes exactly what Utf8JsonWriter wrote for the rounded double.</summary>
public sealed class MillisecondsTests
{
    [Theory]
    [InlineData(0L)]
    [InlineData(1L)]
    [InlineData(499L)]
    [InlineData(500L)]
    [InlineData(1_500L)]
    [InlineData(2_500L)]
    [InlineData(999_999L)]
    [InlineData(1_000_000L)]
    [InlineData(12_500_000L)]
    [InlineData(42_000L)]
    [InlineData(1_234_567L)]
    [InlineData(7_000_000_000L)]
    [InlineData(86_400_000_000_000L)]
    [InlineData(99_999_999_999_999_999L)]
    public void KnownValues(long ns) => Assert.Equal(WriterText(ns), FastText(ns));

    [Fact]
    public void RandomValuesOfEveryMagnitude()
    {
        var rng = new Random(13);
        for (int i = 0; i < 200_000; i++)
        {
            long ns = (long)(Math.Pow(10, rng.NextDouble() * 18));
            Assert.Equal(WriterText(ns), FastText(ns));
        }
    }

    [Theory]
    [InlineData(-1L)]
    [InlineData(-5_000_000L)]
    [InlineData(long.MaxValue)]
    public void NegativeOrHugeAreLeftToTheWriter(long ns) =>
        Assert.False(Milliseconds.TryFormat(ns, new byte[Milliseconds.MaxBytes], out _));

    private static string? FastText(long ns)
    {
        var buffer = new byte[Milliseconds.MaxBytes];
        return Milliseconds.TryFormat(ns, buffer, out int written) ? Encoding.ASCII.GetString(buffer, 0, written) : WriterText(ns);
    }

    private static string WriterText(long ns)
    {
        var output = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(output))
        {
            json.WriteNumberValue(Math.Round(ns / 1e6, 3));
        }

        return Encoding.ASCII.GetString(output.WrittenSpan);
    }
}
