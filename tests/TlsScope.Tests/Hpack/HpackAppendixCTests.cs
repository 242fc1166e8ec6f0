using TlsScope.Protocols.Hpack;
using static TlsScope.Tests.Hpack.HpackTestUtil;

namespace TlsScope.Tests.Hpack;

/// <summary>The header block examples of RFC 7541 Appendix C.2 to C.6, byte for byte.</summary>
public sealed class HpackAppendixCTests
{
    private const string Date1 = "Mon, 21 Oct 2013 20:13:21 GMT";
    private const string Date2 = "Mon, 21 Oct 2013 20:13:22 GMT";
    private const string Cookie = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";

    [Fact]
    public void C2_1_Literal_With_Indexing()
    {
        var d = new HpackDecoder();
        var h = DecodeOk(d, "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");
        Assert.Equal([("custom-key", "custom-header")], h);
        AssertTable(d, 55, ("custom-key", "custom-header"));
    }

    [Fact]
    public void C2_2_Literal_Without_Indexing()
    {
        var d = new HpackDecoder();
        var h = DecodeOk(d, "040c 2f73 616d 706c 652f 7061 7468");
        Assert.Equal([(":path", "/sample/path")], h);
        AssertTable(d, 0);
    }

    [Fact]
    public void C2_3_Literal_Never_Indexed()
    {
        var d = new HpackDecoder();
        var h = DecodeOk(d, "1008 7061 7373 776f 7264 0673 6563 7265 74");
        Assert.Equal([("password", "secret")], h);
        AssertTable(d, 0);
    }

    [Fact]
    public void C2_4_Indexed_Field()
    {
        var d = new HpackDecoder();
        var h = DecodeOk(d, "82");
        Assert.Equal([(":method", "GET")], h);
        AssertTable(d, 0);
    }

    public static readonly string[] C3Blocks =
    [
        "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        "8286 84be 5808 6e6f 2d63 6163 6865",
        "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
    ];

    public static readonly string[] C4Blocks =
    [
        "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
        "8286 84be 5886 a8eb 1064 9cbf",
        "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
    ];

    public static readonly string[] C5Blocks =
    [
        "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        "4803 3330 37c1 c0bf",
        "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
    ];

    public static readonly string[] C6Blocks =
    [
        "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
        "4883 640e ffc1 c0bf",
        "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
    ];

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void C3_C4_Requests_Share_One_Decoder(bool huffman)
    {
        string[] blocks = huffman ? C4Blocks : C3Blocks;
        var d = new HpackDecoder();

        var h1 = DecodeOk(d, blocks[0]);
        Assert.Equal([(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")], h1);
        AssertTable(d, 57, (":authority", "www.example.com"));

        var h2 = DecodeOk(d, blocks[1]);
        Assert.Equal(
            [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com"), ("cache-control", "no-cache")],
            h2);
        AssertTable(d, 110, ("cache-control", "no-cache"), (":authority", "www.example.com"));

        var h3 = DecodeOk(d, blocks[2]);
        Assert.Equal(
            [(":method", "GET"), (":scheme", "https"), (":path", "/index.html"), (":authority", "www.example.com"), ("custom-key", "custom-value")],
            h3);
        AssertTable(d, 164, ("custom-key", "custom-value"), ("cache-control", "no-cache"), (":authority", "www.example.com"));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void C5_C6_Responses_With_Eviction(bool huffman, bool limitViaSettings)
    {
        string[] blocks = huffman ? C6Blocks : C5Blocks;
        HpackDecoder d;
        if (limitViaSettings)
        {
            d = new HpackDecoder();
            d.SetMaxTableSizeLimit(256);
        }
        else
        {
            d = new HpackDecoder(256);
        }

        Assert.Equal(256, d.MaxDynamicTableSize);

        var h1 = DecodeOk(d, blocks[0]);
        Assert.Equal([(":status", "302"), ("cache-control", "private"), ("date", Date1), ("location", "https://www.example.com")], h1);
        AssertTable(d, 222,
            ("location", "https://www.example.com"), ("date", Date1), ("cache-control", "private"), (":status", "302"));

        var h2 = DecodeOk(d, blocks[1]);
        Assert.Equal([(":status", "307"), ("cache-control", "private"), ("date", Date1), ("location", "https://www.example.com")], h2);
        AssertTable(d, 222,
            (":status", "307"), ("location", "https://www.example.com"), ("date", Date1), ("cache-control", "private"));

        var h3 = DecodeOk(d, blocks[2]);
        Assert.Equal(
            [(":status", "200"), ("cache-control", "private"), ("date", Date2), ("location", "https://www.example.com"),
             ("content-encoding", "gzip"), ("set-cookie", Cookie)],
            h3);
        AssertTable(d, 215, ("set-cookie", Cookie), ("content-encoding", "gzip"), ("date", Date2));
    }

    [Fact]
    public void SizeUpdate_At_Block_Start_Evicts_And_Zero_Empties()
    {
        var d = new HpackDecoder();
        DecodeOk(d, C3Blocks[0]);
        DecodeOk(d, C3Blocks[1]);
        Assert.Equal(110, d.DynamicTableSize);

        // 0x3f 0x1a: size update to 31 + 26 = 57, which keeps only the newest (53-octet) entry.
        var h = DecodeOk(d, "3f1a 82");
        Assert.Equal([(":method", "GET")], h);
        Assert.Equal(57, d.MaxDynamicTableSize);
        AssertTable(d, 53, ("cache-control", "no-cache"));

        // Two updates in a row (shrink to 0, then grow back) are allowed at the start.
        DecodeOk(d, "20 3fe1 1f");
        Assert.Equal(4096, d.MaxDynamicTableSize);
        AssertTable(d, 0);
    }

    [Fact]
    public void Entry_Larger_Than_Table_Empties_It()
    {
        var d = new HpackDecoder(64);
        DecodeOk(d, C3Blocks[0]); // :authority www.example.com, 57 octets
        AssertTable(d, 57, (":authority", "www.example.com"));
        // custom-key: custom-header is 55 octets: evicts the 57-octet entry to fit.
        DecodeOk(d, "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");
        AssertTable(d, 55, ("custom-key", "custom-header"));
        // A 10-octet name with a 30-octet value (72 octets) exceeds 64: the table ends empty.
        DecodeOk(d, "400a 6375 7374 6f6d 2d6b 6579 1e" + string.Concat(Enumerable.Repeat("61", 30)));
        AssertTable(d, 0);
    }

    [Fact]
    public void Lowering_Settings_Limit_Shrinks_Table()
    {
        var d = new HpackDecoder();
        DecodeOk(d, C3Blocks[0]);
        DecodeOk(d, C3Blocks[1]);
        d.SetMaxTableSizeLimit(60);
        Assert.Equal(60, d.MaxDynamicTableSize);
        AssertTable(d, 53, ("cache-control", "no-cache"));
    }
}
