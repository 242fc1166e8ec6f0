using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using TlsScope.Outputs.Json;

namespace TlsScope.Tests.Output;

/// <summary>The header arrays written without the writer hold what Utf8JsonWriter writes, the first
/// time a string is seen (plain ASCII only) and from the token cache afterwards (any text), and
/// every other text is left to the writer.</summary>
public sealed class JsonFieldArraysTests
{
    private static readonly JavaScriptEncoder Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;

    [Fact]
    public void EveryPrintableCharacterIsWrittenAsTheWriterWritesIt()
    {
        for (char c = ' '; c <= '~'; c++)
        {
            (string, string)[] fields = [($"x-{c}", $"a{c}b"), ("Host", "example.com")];
            var arrays = new JsonFieldArrays(new JsonTokenCache(Encoder));
            bool plain = arrays.TryEncode(fields, out var first);

            Assert.Equal(c is not ('"' or '\\'), plain);
            if (plain)
            {
                Assert.Equal(WriterBytes(fields), first.ToArray());
            }

            Assert.True(arrays.TryEncode(fields, out var cached), "the second sighting comes from the cache");
            Assert.Equal(WriterBytes(fields), cached.ToArray());
        }
    }

    [Theory]
    [InlineData("tab\there")]
    [InlineData("del\u007f")]
    [InlineData("caf\u00e9")]
    [InlineData("nul\0")]
    [InlineData("line\n")]
    [InlineData("quote\" and back\\slash")]
    [InlineData("emoji \U0001F600 <script>&'")]
    [InlineData("\u2028\u2029")]
    public void OtherTextIsLeftToTheWriterOnceThenCachedAsTheWriterEscapesIt(string value)
    {
        (string, string)[] fields = [("Name", value), ("Other", "plain")];
        var arrays = new JsonFieldArrays(new JsonTokenCache(Encoder));

        Assert.False(arrays.TryEncode(fields, out _));
        Assert.True(arrays.TryEncode(fields, out var cached));
        Assert.Equal(Encoding.UTF8.GetString(WriterBytes(fields)), Encoding.UTF8.GetString(cached));
    }

    [Fact]
    public void EqualTextInAnotherStringObjectIsNotTakenForTheCachedOne()
    {
        var tokens = new JsonTokenCache(Encoder);
        string first = new('a', 3);
        Assert.False(tokens.TryGet(first, out _));
        Assert.True(tokens.TryGet(first, out var again));
        Assert.Equal("aaa", again.ToString());

        string other = new('a', 3); // equal text, another object: a first sighting
        Assert.False(tokens.TryGet(other, out _));
    }

    [Fact]
    public void LongTextIsNeverCachedButStillWritten()
    {
        var tokens = new JsonTokenCache(Encoder);
        string longText = new('x', JsonTokenCache.MaxCachedLength + 1);
        Assert.False(tokens.TryGet(longText, out _));
        Assert.False(tokens.TryGet(longText, out _));

        (string, string)[] fields = [("X-Long", longText), ("X-Long-Quoted", "\"" + longText)];
        var arrays = new JsonFieldArrays(tokens);
        Assert.False(arrays.TryEncode(fields, out _));
        Assert.False(arrays.TryEncode(fields, out _), "long text needing escapes is left to the writer every time");
        Assert.True(arrays.TryEncode([("X-Long", longText)], out var plain));
        Assert.Equal(WriterBytes([("X-Long", longText)]), plain.ToArray());
    }

    [Fact]
    public void LongArraysGrowTheBufferAndEmptyArraysAreBrackets()
    {
        var fields = Enumerable.Range(0, 400).Select(i => ($"X-Field-{i}", new string('v', i))).ToArray();
        var arrays = new JsonFieldArrays(new JsonTokenCache(Encoder));
        Assert.True(arrays.TryEncode(fields, out var first));
        Assert.Equal(WriterBytes(fields), first.ToArray());
        Assert.True(arrays.TryEncode(fields, out var cached));
        Assert.Equal(WriterBytes(fields), cached.ToArray());

        Assert.True(arrays.TryEncode([], out var empty));
        Assert.Equal("[]", Encoding.ASCII.GetString(empty));
    }

    private static byte[] WriterBytes((string Name, string Value)[] fields)
    {
        var output = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(output, new JsonWriterOptions { Encoder = Encoder }))
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
