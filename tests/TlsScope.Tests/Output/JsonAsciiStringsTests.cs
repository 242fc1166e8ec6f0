using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using TlsScope.Outputs.Json;

namespace TlsScope.Tests.Output;

/// <summary>The header fast path writes what Utf8JsonWriter writes, for every character it takes,
/// and leaves every other text to the writer.</summary>
public sealed class JsonAsciiStringsTests
{
    [Fact]
    public void EveryPrintableCharacterIsWrittenAsTheWriterWritesIt()
    {
        for (char c = ' '; c <= '~'; c++)
        {
            (string, string)[] fields = [($"x-{c}", $"a{c}b"), ("Host", "example.com")];
            bool plain = JsonAsciiStrings.FieldArrayLength(fields) >= 0;

            Assert.Equal(c is not ('"' or '\\'), plain);
            if (plain)
            {
                Assert.Equal(WriterBytes(fields), FastBytes(fields));
            }
        }
    }

    [Theory]
    [InlineData("tab\there")]
    [InlineData("del\u007f")]
    [InlineData("caf\u00e9")]
    [InlineData("nul\0")]
    [InlineData("line\n")]
    public void AnythingElseIsLeftToTheWriter(string value) =>
        Assert.Equal(-1, JsonAsciiStrings.FieldArrayLength([("Name", value)]));

    [Fact]
    public void TheLengthIsExact()
    {
        (string, string)[] fields = [("A", ""), ("", "b"), ("Content-Type", "text/html; charset=utf-8")];
        Assert.Equal(WriterBytes(fields).Length, JsonAsciiStrings.FieldArrayLength(fields));
        Assert.Equal(2, JsonAsciiStrings.FieldArrayLength([]));
        Assert.Equal("[]", Encoding.ASCII.GetString(FastBytes([])));
    }

    private static byte[] FastBytes((string, string)[] fields)
    {
        var buffer = new byte[JsonAsciiStrings.FieldArrayLength(fields)];
        Assert.Equal(buffer.Length, JsonAsciiStrings.WriteFieldArray(fields, buffer));
        return buffer;
    }

    private static byte[] WriterBytes((string Name, string Value)[] fields)
    {
        var output = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(output, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartArray();
            foreach (var (n, v) in fields)
            {
                json.WriteStartArray();
                json.WriteStringValue(n);
                json.WriteStringValue(v);
                json.WriteEndArray();
            }

            json.WriteEndArray();
        }

        return output.WrittenSpan.ToArray();
    }
}
