using System.Text;
using TlsScope.Protocols.Http1;

namespace TlsScope.Tests.Http1;

/// <summary>The field string table gives back the very text of the bytes, reused or not.</summary>
public sealed class FieldStringsTests
{
    [Fact]
    public void RepeatedBytesGiveTheSameString()
    {
        var strings = new FieldStrings();
        var first = strings.Get("keep-alive"u8);

        Assert.Equal("keep-alive", first);
        Assert.Same(first, strings.Get(Encoding.ASCII.GetBytes("keep-alive")));
    }

    [Fact]
    public void EveryTextIsItsOwnWhateverTheSlot()
    {
        var strings = new FieldStrings();
        var rng = new Random(7);
        var seen = new List<string>();
        // Thousands of texts in 64 slots: collisions of every kind (same length, same ends).
        for (int i = 0; i < 5000; i++)
        {
            var text = i % 3 == 0 ? $"Date: Sun, 22 Nov 2026 17:{i % 60:00}:{rng.Next(60):00} GMT" : i % 3 == 1 ? $"v{rng.Next(100)}" : new string('a', rng.Next(1, 300));
            seen.Add(text);
            Assert.Equal(text, strings.Get(Encoding.Latin1.GetBytes(text)));
        }

        foreach (var text in seen.Take(200))
        {
            Assert.Equal(text, strings.Get(Encoding.Latin1.GetBytes(text)));
        }
    }

    [Theory]
    [InlineData(new byte[] { })]
    [InlineData(new byte[] { 0xE9, 0x74, 0xE9 })] // Latin-1 "été": never from the table, always right
    [InlineData(new byte[] { 0x41 })]
    public void EdgeTextsAreDecodedAsLatin1(byte[] bytes)
    {
        var strings = new FieldStrings();
        Assert.Equal(Encoding.Latin1.GetString(bytes), strings.Get(bytes));
        Assert.Equal(Encoding.Latin1.GetString(bytes), strings.Get(bytes));
    }
}
