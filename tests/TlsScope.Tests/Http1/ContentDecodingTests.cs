using System.IO.Compression;
using System.Text;
using TlsScope.Protocols.Http1;

namespace TlsScope.Tests.Http1;

public class ContentDecodingTests
{
    private static readonly byte[] Original =
        Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 300).Select(i => $"record {i}: the quick brown fox\n")));

    private static byte[] Compress(byte[] data, Func<Stream, Stream> open)
    {
        using var ms = new MemoryStream();
        using (var z = open(ms))
        {
            z.Write(data);
        }

        return ms.ToArray();
    }

    private static byte[] Gzip(byte[] d) => Compress(d, s => new GZipStream(s, CompressionLevel.Fastest));

    private static byte[] Brotli(byte[] d) => Compress(d, s => new BrotliStream(s, CompressionLevel.Fastest));

    [Fact]
    public void Gzip_Decodes()
    {
        Assert.True(ContentDecoding.TryDecode(Gzip(Original), "gzip", out var decoded));
        Assert.Equal(Original, decoded);
        Assert.True(ContentDecoding.TryDecode(Gzip(Original), "X-GZIP", out decoded));
        Assert.Equal(Original, decoded);
    }

    [Fact]
    public void Deflate_ZlibWrapped_Decodes()
    {
        var z = Compress(Original, s => new ZLibStream(s, CompressionLevel.Optimal));
        Assert.True(ContentDecoding.TryDecode(z, "deflate", out var decoded));
        Assert.Equal(Original, decoded);
    }

    [Fact]
    public void Deflate_Raw_Decodes()
    {
        var raw = Compress(Original, s => new DeflateStream(s, CompressionLevel.Optimal));
        Assert.True(ContentDecoding.TryDecode(raw, "deflate", out var decoded));
        Assert.Equal(Original, decoded);
    }

    [Fact]
    public void Brotli_Decodes()
    {
        Assert.True(ContentDecoding.TryDecode(Brotli(Original), "br", out var decoded));
        Assert.Equal(Original, decoded);
    }

    [Fact]
    public void Stacked_GzipThenBr_DecodesInReverseOrder()
    {
        var wire = Brotli(Gzip(Original));
        Assert.True(ContentDecoding.TryDecode(wire, "gzip, br", out var decoded));
        Assert.Equal(Original, decoded);
        Assert.False(ContentDecoding.TryDecode(wire, "br, gzip", out _));
    }

    [Fact]
    public void IdentityAndNoEncoding_ReturnBodyUnchanged()
    {
        Assert.True(ContentDecoding.TryDecode(Original, "identity", out var a));
        Assert.Equal(Original, a);
        Assert.True(ContentDecoding.TryDecode(Original, null, out var b));
        Assert.Equal(Original, b);
        Assert.True(ContentDecoding.TryDecode(Original, "", out var c));
        Assert.Equal(Original, c);
    }

    [Fact]
    public void UnknownEncoding_ReturnsFalse()
    {
        Assert.False(ContentDecoding.TryDecode(Original, "compress", out var decoded));
        Assert.Empty(decoded);
        Assert.False(ContentDecoding.TryDecode(Gzip(Original), "gzip, zstd-unknown", out _));
    }

    [Fact]
    public void CorruptData_ReturnsFalse()
    {
        Assert.False(ContentDecoding.TryDecode(Encoding.ASCII.GetBytes("definitely not gzip data"), "gzip", out _));
        Assert.False(ContentDecoding.TryDecode(Encoding.ASCII.GetBytes("definitely not brotli data"), "br", out _));
        Assert.False(ContentDecoding.TryDecode(Encoding.ASCII.GetBytes("definitely not deflate data"), "deflate", out _));
    }

    [Fact]
    public void TruncatedStreams_NeverThrow_AndYieldAPrefixWhenAccepted()
    {
        foreach (var (wire, coding) in new[] { (Gzip(Original), "gzip"), (Brotli(Original), "br") })
        {
            var cut = wire[..(wire.Length / 2)];
            if (ContentDecoding.TryDecode(cut, coding, out var decoded))
            {
                Assert.True(decoded.Length < Original.Length);
                Assert.Equal(Original[..decoded.Length], decoded);
            }
        }
    }

    [Fact]
    public void Bomb_100MiBOfZeros_ReturnsFalse()
    {
        byte[] bomb;
        using (var ms = new MemoryStream())
        {
            using (var z = new GZipStream(ms, CompressionLevel.Fastest))
            {
                var zeros = new byte[1024 * 1024];
                for (int i = 0; i < 100; i++)
                {
                    z.Write(zeros);
                }
            }

            bomb = ms.ToArray();
        }

        Assert.True(bomb.Length < 1024 * 1024);
        Assert.False(ContentDecoding.TryDecode(bomb, "gzip", out var decoded));
        Assert.Empty(decoded);
    }

    [Fact]
    public void CustomCap_AllowsExactlyTheCap()
    {
        var gz = Gzip(Original);
        Assert.True(ContentDecoding.TryDecode(gz, "gzip", Original.Length, out var decoded));
        Assert.Equal(Original, decoded);
        Assert.False(ContentDecoding.TryDecode(gz, "gzip", Original.Length - 1, out _));
    }
}
