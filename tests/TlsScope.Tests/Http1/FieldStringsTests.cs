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

    [Theory]
    [InlineData(1)]
    [InlineData(4096)]
    public void AnyPowerOfTwoIsATableAndEveryTextIsStillItsOwn(int slots)
    {
        var strings = new FieldStrings(slots);
        for (int i = 0; i < 300; i++)
        {
            string text = $"/api/v1/items/{i:00000}/details";
            Assert.Equal(text, strings.Get(Encoding.ASCII.GetBytes(text)));
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-4)]
    [InlineData(48)]
    public void OtherSizesAreRefused(int slots) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new FieldStrings(slots));

    [Fact]
    public void ParsersSharingATableShareTheirStrings()
    {
        // Two connections' request parsers with the tracker's one table: the same field, method and
        // target come back as the same objects, which the outputs' caches recognise.
        var strings = new FieldStrings(4096);
        var got = new List<Http1Message>();
        foreach (var parser in new[] { new Http1StreamParser(Http1Role.Request, got.Add, strings: strings), new Http1StreamParser(Http1Role.Request, got.Add, strings: strings) })
        {
            parser.Feed("GET /same HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t/1\r\n\r\n"u8);
        }

        Assert.Equal(2, got.Count);
        Assert.Same(got[0].Target, got[1].Target);
        Assert.Same("GET", got[1].Method); // constants, shared whatever the table (literals are interned)
        Assert.Same("HTTP/1.1", got[1].Version);
        Assert.Same(got[0].Headers[0].Value, got[1].Headers[0].Value);
        Assert.Same(got[0].Headers[1].Name, got[1].Headers[1].Name);
        Assert.Equal(("User-Agent", "t/1"), got[1].Headers[1]);
    }
}
