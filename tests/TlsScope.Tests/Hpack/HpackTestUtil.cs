using TlsScope.Protocols.Hpack;

namespace TlsScope.Tests.Hpack;

internal static class HpackTestUtil
{
    /// <summary>Hex as printed in RFC 7541 Appendix C (spaces and line breaks ignored).</summary>
    public static byte[] Hex(string text) =>
        Convert.FromHexString(new string(text.Where(Uri.IsHexDigit).ToArray()));

    public static List<(string Name, string Value)> DecodeOk(HpackDecoder decoder, string hex)
    {
        var headers = new List<(string Name, string Value)>();
        bool ok = decoder.TryDecode(Hex(hex), headers, out string? error);
        Assert.True(ok, error);
        Assert.Null(error);
        Assert.False(decoder.Broken);
        return headers;
    }

    public static string DecodeFails(HpackDecoder decoder, byte[] block)
    {
        var headers = new List<(string Name, string Value)>();
        bool ok = decoder.TryDecode(block, headers, out string? error);
        Assert.False(ok);
        Assert.False(string.IsNullOrWhiteSpace(error));
        Assert.DoesNotContain('\n', error!);
        Assert.True(decoder.Broken);
        return error!;
    }

    /// <summary>Asserts the dynamic table, newest first, and its size in octets.</summary>
    public static void AssertTable(HpackDecoder decoder, int size, params (string Name, string Value)[] entries)
    {
        Assert.Equal(entries.Length, decoder.DynamicTableCount);
        for (int i = 0; i < entries.Length; i++)
        {
            Assert.Equal(entries[i], decoder.GetDynamicEntry(i + 1));
        }

        Assert.Equal(size, decoder.DynamicTableSize);
    }
}
