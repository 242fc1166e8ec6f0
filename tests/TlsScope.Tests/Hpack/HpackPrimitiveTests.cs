using TlsScope.Protocols.Hpack;
using static TlsScope.Tests.Hpack.HpackTestUtil;

namespace TlsScope.Tests.Hpack;

/// <summary>Integers (RFC 7541 C.1), the static table, and the Huffman code of Appendix B.</summary>
public sealed class HpackPrimitiveTests
{
    [Fact]
    public void C1_1_Ten_With_5BitPrefix()
    {
        int pos = 0;
        Assert.True(HpackDecoder.TryReadInteger(new byte[] { 0b111_01010 }, ref pos, 5, out int value, out _));
        Assert.Equal(10, value);
        Assert.Equal(1, pos);
    }

    [Fact]
    public void C1_2_1337_With_5BitPrefix()
    {
        int pos = 0;
        Assert.True(HpackDecoder.TryReadInteger(new byte[] { 0b000_11111, 0b1001_1010, 0b0000_1010 }, ref pos, 5, out int value, out _));
        Assert.Equal(1337, value);
        Assert.Equal(3, pos);
    }

    [Fact]
    public void C1_3_42_At_Octet_Boundary()
    {
        int pos = 0;
        Assert.True(HpackDecoder.TryReadInteger(new byte[] { 0b0010_1010 }, ref pos, 8, out int value, out _));
        Assert.Equal(42, value);
        Assert.Equal(1, pos);
    }

    [Fact]
    public void Integer_MaxInt32_Accepted_And_Overflow_Rejected()
    {
        // 2^31 - 1 = 31 + 2147483616 with a 5-bit prefix.
        int pos = 0;
        Assert.True(HpackDecoder.TryReadInteger(new byte[] { 0x1F, 0xE0, 0xFF, 0xFF, 0xFF, 0x07 }, ref pos, 5, out int max, out _));
        Assert.Equal(int.MaxValue, max);

        pos = 0;
        Assert.False(HpackDecoder.TryReadInteger(new byte[] { 0x1F, 0xE1, 0xFF, 0xFF, 0xFF, 0x07 }, ref pos, 5, out _, out string? overflow));
        Assert.NotNull(overflow);

        pos = 0;
        Assert.False(HpackDecoder.TryReadInteger(new byte[] { 0x1F, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 }, ref pos, 5, out _, out string? tooLong));
        Assert.NotNull(tooLong);

        pos = 0;
        Assert.False(HpackDecoder.TryReadInteger(new byte[] { 0x1F, 0x80 }, ref pos, 5, out _, out string? truncated));
        Assert.NotNull(truncated);
        Assert.Equal(0, pos);
    }

    [Fact]
    public void StaticTable_Ends()
    {
        Assert.Equal((":authority", ""), HpackStaticTable.Get(1));
        Assert.Equal((":status", "500"), HpackStaticTable.Get(14));
        Assert.Equal(("accept-encoding", "gzip, deflate"), HpackStaticTable.Get(16));
        Assert.Equal(("www-authenticate", ""), HpackStaticTable.Get(61));
    }

    [Fact]
    public void Huffman_Code_Is_Complete()
    {
        // Kraft sum of a complete prefix code is exactly 1: sum of 2^(30 - len) == 2^30.
        long sum = 0;
        for (int s = 0; s <= HpackHuffman.Eos; s++)
        {
            sum += 1L << (30 - HpackHuffman.CodeLength(s));
        }

        Assert.Equal(1L << 30, sum);
    }

    [Theory]
    [InlineData(0, 0x1ff8u, 13)]
    [InlineData(1, 0x7fffd8u, 23)]
    [InlineData(9, 0xffffeau, 24)]
    [InlineData(10, 0x3ffffffcu, 30)]
    [InlineData(' ', 0x14u, 6)]
    [InlineData('0', 0x0u, 5)]
    [InlineData('a', 0x3u, 5)]
    [InlineData('X', 0xfcu, 8)]
    [InlineData('Z', 0xfdu, 8)]
    [InlineData('\\', 0x7fff0u, 19)]
    [InlineData(255, 0x3ffffeeu, 26)]
    [InlineData(256, 0x3fffffffu, 30)]
    public void Huffman_Codes_Match_AppendixB(int symbol, uint code, int length)
    {
        Assert.Equal(length, HpackHuffman.CodeLength(symbol));
        Assert.Equal(code, HpackHuffman.Code(symbol));
    }

    [Fact]
    public void Huffman_Decodes_WwwExampleCom()
    {
        byte[] encoded = Hex("f1e3 c2e5 f23a 6ba0 ab90 f4ff");
        var output = new byte[HpackHuffman.MaxDecodedLength(encoded.Length)];
        Assert.True(HpackHuffman.TryDecode(encoded, output, out int written, out _));
        Assert.Equal("www.example.com", System.Text.Encoding.ASCII.GetString(output, 0, written));
    }

    [Fact]
    public void Huffman_Padding_Rules()
    {
        var output = new byte[16];
        // 'a' = 00011 then 3 one-bits of padding: valid.
        Assert.True(HpackHuffman.TryDecode(new byte[] { 0b00011_111 }, output, out int n, out _));
        Assert.Equal(1, n);
        // Padding with a zero bit.
        Assert.False(HpackHuffman.TryDecode(new byte[] { 0b00011_110 }, output, out _, out string? notOnes));
        Assert.Contains("all ones", notOnes);
        // A whole octet of ones after a symbol boundary: padding of 8 bits.
        Assert.False(HpackHuffman.TryDecode(new byte[] { 0b00011_111, 0xFF }, output, out _, out string? tooLong));
        Assert.Contains("longer than 7", tooLong);
        // EOS (30 ones) inside the string.
        Assert.False(HpackHuffman.TryDecode(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF }, output, out _, out string? eos));
        Assert.Contains("EOS", eos);
    }

    [Fact]
    public void Huffman_NibbleTable_Agrees_With_Bitwise_Tree_Walk()
    {
        var rng = new Random(541);
        var a = new byte[64];
        var b = new byte[64];
        int accepted = 0;
        for (int i = 0; i < 20_000; i++)
        {
            var input = new byte[rng.Next(0, 24)];
            rng.NextBytes(input);
            if (i % 2 == 0)
            {
                // Bias towards short codes and all-ones tails so that valid strings are common.
                for (int j = 0; j < input.Length; j++)
                {
                    input[j] &= (byte)rng.Next(256);
                }

                if (input.Length > 0)
                {
                    input[^1] |= (byte)((1 << rng.Next(8)) - 1);
                }
            }

            bool okA = HpackHuffman.TryDecode(input, a, out int nA, out string? errA);
            bool okB = HpackHuffman.TryDecodeBitwise(input, b, out int nB, out string? errB);
            Assert.Equal(okB, okA);
            Assert.Equal(errB, errA);
            if (okA)
            {
                accepted++;
                Assert.Equal(nB, nA);
                Assert.True(a.AsSpan(0, nA).SequenceEqual(b.AsSpan(0, nB)));
            }
        }

        Assert.True(accepted > 100, $"only {accepted} valid strings generated");
    }

    [Fact]
    public void Huffman_Every_Symbol_Round_Trips()
    {
        // Encode each symbol 0..255 by its derived code, pad with ones, decode.
        var output = new byte[8];
        for (int s = 0; s < 256; s++)
        {
            int len = HpackHuffman.CodeLength(s);
            int total = (len + 7) / 8 * 8;
            ulong bits = ((ulong)HpackHuffman.Code(s) << (total - len)) | ((1UL << (total - len)) - 1);
            var input = new byte[total / 8];
            for (int k = 0; k < input.Length; k++)
            {
                input[k] = (byte)(bits >> (8 * (input.Length - 1 - k)));
            }

            Assert.True(HpackHuffman.TryDecode(input, output, out int n, out string? error), error);
            Assert.Equal(1, n);
            Assert.Equal((byte)s, output[0]);
        }
    }
}
