using System.Diagnostics;
using TlsScope.Protocols.Hpack;
using static TlsScope.Tests.Hpack.HpackTestUtil;

namespace TlsScope.Tests.Hpack;

/// <summary>Malformed blocks fail with a one-line error, break the decoder, and never throw.</summary>
public sealed class HpackErrorTests
{
    [Theory]
    [InlineData("80", "index 0")]                          // indexed field, index 0
    [InlineData("be", "beyond")]                           // index 62 with an empty dynamic table
    [InlineData("ff80", "truncated integer")]              // index continuation missing
    [InlineData("7f", "truncated integer")]                // literal name index truncated
    [InlineData("40", "truncated string")]                 // new name, no length octet
    [InlineData("400a 6375 73", "truncated string")]       // name shorter than declared
    [InlineData("4103 6162", "truncated string")]          // value shorter than declared
    [InlineData("0081 1e", "all ones")]                    // Huffman name 0x1e: 'a' then padding 110
    [InlineData("0082 1fff 0161", "longer than 7")]        // 'a', 3 ones, then 8 more ones of padding
    [InlineData("0084 ffff ffff 0161", "EOS")]             // 30 ones decode EOS
    [InlineData("3fe2 1f", "exceeds the limit")]           // size update to 4097 > 4096
    [InlineData("82 20", "after a header field")]          // size update after a field
    [InlineData("ffff ffff ff0f", "overflows")]            // index beyond int32
    [InlineData("ff80 8080 8080 00", "too long")]          // over-long zero continuations
    [InlineData("1f80", "truncated integer")]              // never-indexed name index truncated
    public void Malformed_Block_Fails_With_Error(string hex, string expected)
    {
        var d = new HpackDecoder();
        string error = DecodeFails(d, Hex(hex));
        Assert.Contains(expected, error);
    }

    [Fact]
    public void Broken_Decoder_Refuses_Further_Blocks()
    {
        var d = new HpackDecoder();
        DecodeFails(d, Hex("80"));
        var headers = new List<(string Name, string Value)>();
        Assert.False(d.TryDecode(Hex("82"), headers, out string? error));
        Assert.Contains("broken", error);
        Assert.Empty(headers);
    }

    [Fact]
    public void SizeUpdate_Above_Lowered_Limit_Fails()
    {
        var d = new HpackDecoder();
        d.SetMaxTableSizeLimit(100);
        DecodeOk(d, "3f45"); // 31 + 69 = 100: allowed
        DecodeFails(d, Hex("3f46")); // 101
    }

    [Fact]
    public void Invalid_Utf8_Uses_Replacement_But_Table_Counts_Octets()
    {
        var d = new HpackDecoder();
        // Literal with indexing, new name "x", value is the single octet 0xFF.
        var h = DecodeOk(d, "4001 7801 ff");
        Assert.Equal([("x", "\uFFFD")], h);
        AssertTable(d, 1 + 1 + 32, ("x", "\uFFFD"));
    }

    [Fact]
    public void Empty_Block_Is_Valid()
    {
        var d = new HpackDecoder();
        Assert.Empty(DecodeOk(d, ""));
    }

    [Fact]
    public void Fuzz_Random_And_Mutated_Blocks_Never_Throw()
    {
        var seeds = HpackAppendixCTests.C4Blocks.Concat(HpackAppendixCTests.C6Blocks).Select(Hex).ToArray();
        var rng = new Random(7541);
        var headers = new List<(string Name, string Value)>();
        var watch = Stopwatch.StartNew();
        int failures = 0;
        for (int i = 0; i < 20_000; i++)
        {
            byte[] block;
            if (i % 4 == 0)
            {
                block = new byte[rng.Next(0, 64)];
                rng.NextBytes(block);
            }
            else
            {
                byte[] seed = seeds[rng.Next(seeds.Length)];
                block = Mutate(seed, rng);
            }

            var d = new HpackDecoder(rng.Next(2) == 0 ? 4096 : 256);
            headers.Clear();
            bool ok = d.TryDecode(block, headers, out string? error);
            Assert.Equal(ok, error is null);
            Assert.Equal(!ok, d.Broken);
            Assert.True(d.DynamicTableSize <= d.MaxDynamicTableSize);
            if (!ok)
            {
                failures++;
            }
        }

        Assert.InRange(failures, 1, 19_999);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"fuzzing took {watch.Elapsed}");
    }

    private static byte[] Mutate(byte[] seed, Random rng)
    {
        var bytes = new List<byte>(seed);
        int edits = rng.Next(1, 5);
        for (int e = 0; e < edits; e++)
        {
            switch (rng.Next(5))
            {
                case 0 when bytes.Count > 0:
                    bytes[rng.Next(bytes.Count)] ^= (byte)(1 << rng.Next(8));
                    break;
                case 1 when bytes.Count > 0:
                    bytes[rng.Next(bytes.Count)] = (byte)rng.Next(256);
                    break;
                case 2:
                    bytes.Insert(rng.Next(bytes.Count + 1), (byte)rng.Next(256));
                    break;
                case 3 when bytes.Count > 0:
                    bytes.RemoveAt(rng.Next(bytes.Count));
                    break;
                case 4 when bytes.Count > 0:
                    int cut = rng.Next(bytes.Count);
                    bytes.RemoveRange(cut, bytes.Count - cut); // truncate
                    break;
            }
        }

        return bytes.ToArray();
    }
}
