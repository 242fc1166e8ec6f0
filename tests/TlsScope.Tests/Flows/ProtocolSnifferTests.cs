using System.Text;
using TlsScope.Flows;

namespace TlsScope.Tests.Flows;

public sealed class ProtocolSnifferTests
{
    private const string Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

    [Fact]
    public void PrefaceIsTwentyFourBytesAndMaxBytes()
    {
        Assert.Equal(24, Preface.Length);
        Assert.Equal(24, ProtocolSniffer.MaxBytes);
    }

    [Fact]
    public void WholePrefaceIsHttp2()
    {
        Assert.Equal(SniffResult.Http2Preface, Sniff(Preface));
        // Frames after the preface do not change the answer.
        Assert.Equal(SniffResult.Http2Preface, Sniff(Preface + "\0\0\0\x04\0\0\0\0\0"));
    }

    [Fact]
    public void EveryProperPrefixOfThePrefaceNeedsMore()
    {
        for (int n = 1; n < Preface.Length; n++)
        {
            Assert.True(SniffResult.NeedMore == Sniff(Preface[..n]), $"prefix of {n} bytes");
        }
    }

    [Fact]
    public void EmptyNeedsMore()
    {
        Assert.Equal(SniffResult.NeedMore, ProtocolSniffer.Sniff([]));
    }

    [Theory]
    [InlineData("PRI / HTTP/1.1\r\n", SniffResult.Http1Request)] // diverges at the target: a PRI request
    [InlineData("PRI * HTTP/1.1\r\nHost: a\r\n\r\n", SniffResult.Http1Request)] // diverges at the version
    [InlineData("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", SniffResult.Http1Request)] // diverges late: still a request line
    [InlineData("PRIX", SniffResult.NeedMore)] // a longer method name, no space yet
    [InlineData("PRIX / HTTP/1.1", SniffResult.Http1Request)]
    [InlineData("PRI\0", SniffResult.Other)]
    [InlineData("PR\r", SniffResult.Other)]
    public void DivergingFromThePreface(string text, SniffResult expected)
    {
        Assert.Equal(expected, Sniff(text));
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\n")]
    [InlineData("GET ")]
    [InlineData("POST /upload HTTP/1.1\r\n")]
    [InlineData("HEAD /x HTTP/1.0\r\n")]
    [InlineData("CONNECT example.com:443 HTTP/1.1\r\n")]
    [InlineData("OPTIONS * HTTP/1.1\r\n")]
    [InlineData("M-SEARCH * HTTP/1.1\r\n")]
    [InlineData("X_CUSTOM / HTTP/1.1\r\n")]
    [InlineData("ABCDEFGHIJKLMNOPQRST / HTTP/1.1")] // a 20-letter method is the longest accepted
    public void RequestLines(string text)
    {
        Assert.Equal(SniffResult.Http1Request, Sniff(text));
    }

    [Theory]
    [InlineData("G")]
    [InlineData("GE")]
    [InlineData("GET")]
    [InlineData("DELETE")]
    [InlineData("ABCDEFGHIJKLMNOPQRST")] // 20 letters: a space may still come
    public void MethodWithoutSpaceYetNeedsMore(string text)
    {
        Assert.Equal(SniffResult.NeedMore, Sniff(text));
    }

    [Theory]
    [InlineData("ABCDEFGHIJKLMNOPQRSTU")] // 21 letters and no space: no method is that long
    [InlineData("ABCDEFGHIJKLMNOPQRSTU / HTTP/1.1")]
    [InlineData(" GET / HTTP/1.1")] // leading space: empty method
    [InlineData("get / HTTP/1.1")] // lower case
    [InlineData("GET\t/ HTTP/1.1")]
    [InlineData("\r\nGET / HTTP/1.1")]
    [InlineData("SSH-2.0-OpenSSH_9.6\r\n")] // digits and dots are not method bytes
    [InlineData("{\"json\":1}")]
    [InlineData("220 smtp.example.com ESMTP")]
    public void NotHttp(string text)
    {
        Assert.Equal(SniffResult.Other, Sniff(text));
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\n")]
    [InlineData("HTTP/1.0 404 Not Found\r\n")]
    [InlineData("HTTP/1.")]
    [InlineData("HTTP/1.9")]
    public void StatusLines(string text)
    {
        Assert.Equal(SniffResult.Http1Response, Sniff(text));
    }

    [Theory]
    [InlineData("H")]
    [InlineData("HT")]
    [InlineData("HTT")]
    [InlineData("HTTP")]
    [InlineData("HTTP/")]
    [InlineData("HTTP/1")]
    public void StatusPrefixNeedsMore(string text)
    {
        Assert.Equal(SniffResult.NeedMore, Sniff(text));
    }

    [Theory]
    [InlineData("HTTP/2 200\r\n", SniffResult.Other)] // '/' is not a method byte
    [InlineData("HTTP/2.0 200", SniffResult.Other)]
    [InlineData("HEAD / HTTP/1.1", SniffResult.Http1Request)] // shares "H" with the status prefix
    [InlineData("HTTPS / HTTP/1.1", SniffResult.Http1Request)] // shares "HTTP" and is a method
    public void NearStatusLines(string text, SniffResult expected)
    {
        Assert.Equal(expected, Sniff(text));
    }

    [Theory]
    [InlineData(new byte[] { 0x16, 0x03, 0x01, 0x02, 0x00 })] // a TLS record: nested TLS
    [InlineData(new byte[] { 0x00, 0x00, 0x12, 0x01, 0x04 })] // an HTTP/2 HEADERS frame without the preface
    [InlineData(new byte[] { 0x00, 0x00, 0x00, 0x04, 0x01 })] // a SETTINGS ACK is not a server preface
    [InlineData(new byte[] { 0x00, 0x00, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00, 0x01 })] // SETTINGS on stream 1
    [InlineData(new byte[] { 0x00, 0x00, 0x07, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00 })] // length not a multiple of 6
    [InlineData(new byte[] { 0x01, 0x00, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00 })] // length of 64 KiB or more
    [InlineData(new byte[] { 0x82 })] // a WebSocket frame
    [InlineData(new byte[] { 0xff, 0xfe })]
    public void Binary(byte[] data)
    {
        Assert.Equal(SniffResult.Other, ProtocolSniffer.Sniff(data));
    }

    [Fact]
    public void ServerSettingsFrameIsTheServerPreface()
    {
        byte[] settings = [0x00, 0x00, 0x12, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x64];
        for (int n = 1; n < 9; n++)
        {
            Assert.True(SniffResult.NeedMore == ProtocolSniffer.Sniff(settings.AsSpan(0, n)), $"{n} bytes");
        }

        Assert.Equal(SniffResult.Http2ServerPreface, ProtocolSniffer.Sniff(settings.AsSpan(0, 9)));
        Assert.Equal(SniffResult.Http2ServerPreface, ProtocolSniffer.Sniff(settings));
        Assert.Equal(SniffResult.Http2ServerPreface, ProtocolSniffer.Sniff(new byte[] { 0, 0, 0, 4, 0, 0, 0, 0, 0 })); // empty SETTINGS
    }

    [Theory]
    [InlineData(Preface, SniffResult.Http2Preface, 24)]
    [InlineData("GET / HTTP/1.1\r\n", SniffResult.Http1Request, 4)]
    [InlineData("PRI / HTTP/1.1\r\n", SniffResult.Http1Request, 5)]
    [InlineData("HTTP/1.1 200 OK\r\n", SniffResult.Http1Response, 7)]
    [InlineData("HEAD / HTTP/1.1\r\n", SniffResult.Http1Request, 5)]
    [InlineData("\x16\x03\x01", SniffResult.Other, 1)]
    [InlineData("PRI\x16", SniffResult.Other, 4)]
    public void ByteAtATimeDecidesAtTheFirstPossibleByteAndNeverChanges(string text, SniffResult expected, int decidedAt)
    {
        byte[] data = Encoding.Latin1.GetBytes(text);
        for (int n = 1; n <= data.Length; n++)
        {
            var result = ProtocolSniffer.Sniff(data.AsSpan(0, n));
            Assert.True((n < decidedAt ? SniffResult.NeedMore : expected) == result, $"{n} bytes: {result}");
        }
    }

    [Fact]
    public void NeverNeedsMoreOnceMaxBytesAreThere()
    {
        var rng = new Random(5);
        var alphabet = Encoding.ASCII.GetBytes("PRI *HTTP/2.0\r\nSMGETABCZ-_1 ");
        for (int i = 0; i < 20_000; i++)
        {
            var data = new byte[ProtocolSniffer.MaxBytes];
            for (int j = 0; j < data.Length; j++)
            {
                data[j] = rng.Next(4) == 0 ? (byte)rng.Next(256) : alphabet[rng.Next(alphabet.Length)];
            }

            Assert.NotEqual(SniffResult.NeedMore, ProtocolSniffer.Sniff(data));
        }
    }

    private static SniffResult Sniff(string text) => ProtocolSniffer.Sniff(Encoding.Latin1.GetBytes(text));
}
