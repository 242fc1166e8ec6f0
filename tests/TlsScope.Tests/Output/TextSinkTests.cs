using System.Net;
using System.Text;
using TlsScope.Outputs.Text;
using TlsScope.Engine.Model;

namespace TlsScope.Tests.Output;

public sealed class TextSinkTests
{
    private const string HttpRequest =
        "GET / HTTP/1.1\r\nHost: localhost:8443\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n";

    private static readonly byte[] TwentyBytes =
    [
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x4a, 0x3b, 0x2c, 0x1d, 0x0e,
        0x41, 0x42, 0x0a, 0xff,
    ];

    [Fact]
    public void HeaderLineHasTheDocumentedShape()
    {
        Assert.Equal(77, Encoding.UTF8.GetByteCount(HttpRequest));

        string output = Render(sink => sink.OnData(Chunks.Text(HttpRequest)));

        Assert.Equal(
            "15:04:05.123456 curl[1234/1235] write 127.0.0.1:43210 -> 127.0.0.1:8443 fd=5 conn=7 len=77 libssl.so.3\n",
            FirstLine(output));
    }

    [Fact]
    public void HeaderNamesTheContainerShortAsDockerDoes()
    {
        DataChunk chunk = Chunks.Data("x"u8.ToArray(),
            process: Chunks.Curl with { Cgroup = 9, Container = "4f2c1a9b8e7d6c5b4a3928171615141312111009080706050403020100ffeedd" });

        string output = Render(sink => sink.OnData(chunk));

        Assert.StartsWith("15:04:05.123456 curl[1234/1235] container=4f2c1a9b8e7d write 127.0.0.1:43210 -> ", FirstLine(output));
    }

    [Fact]
    public void HeaderUsesTheGivenTimeZone()
    {
        TimeZoneInfo plusTwo = TimeZoneInfo.CreateCustomTimeZone("test+2", TimeSpan.FromHours(2), "test+2", "test+2");

        string output = Render(sink => sink.OnData(Chunks.Text("x")), timeZone: plusTwo);

        Assert.StartsWith("17:04:05.123456 ", output);
    }

    [Fact]
    public void HeaderForUnknownAddressFdAndReadDirection()
    {
        DataChunk chunk = Chunks.Data(
            "hi"u8.ToArray(),
            direction: Direction.Read,
            address: ConnectionAddress.Unknown,
            fd: -1,
            connection: 12345678901234,
            library: "libgnutls.so.30");

        Assert.Equal(
            "15:04:05.123456 curl[1234/1235] read ? -> ? fd=? conn=12345678901234 len=2 libgnutls.so.30\n",
            FirstLine(Render(sink => sink.OnData(chunk))));
    }

    [Fact]
    public void HeaderForIPv6AndTruncation()
    {
        var address = new ConnectionAddress(
            new IPEndPoint(IPAddress.IPv6Loopback, 50000),
            new IPEndPoint(IPAddress.Parse("2001:db8::1"), 443));
        DataChunk chunk = Chunks.Data(new byte[4], address: address, truncated: true, dropped: 1000);

        Assert.Equal(
            "15:04:05.123456 curl[1234/1235] write [::1]:50000 -> [2001:db8::1]:443 fd=5 conn=7 len=4 libssl.so.3 truncated(+1000 dropped)\n",
            FirstLine(Render(sink => sink.OnData(chunk))));
    }

    [Fact]
    public void ControlCharactersInCommAreReplaced()
    {
        DataChunk chunk = Chunks.Data("x"u8.ToArray(), process: new ProcessInfo(1, 2, 0, "ev\u001b[2Jil\n"));

        Assert.StartsWith("15:04:05.123456 ev?[2Jil?[1/2] write", Render(sink => sink.OnData(chunk)));
    }

    [Fact]
    public void HttpRequestIsPrintedAsText()
    {
        string output = Render(sink => sink.OnData(Chunks.Text(HttpRequest)));

        Assert.Equal(FirstLine(output) + HttpRequest + "\n", output);
    }

    [Fact]
    public void TextGetsAFinalNewlineAndChunksAreSeparatedByABlankLine()
    {
        string output = Render(sink =>
        {
            sink.OnData(Chunks.Text("héllo ✓ wörld\t😀"));
            sink.OnData(Chunks.Text("second\n", Direction.Read));
        });

        string[] lines = output.Split('\n');
        Assert.Equal(7, lines.Length);
        Assert.Contains(" write ", lines[0]);
        Assert.Equal("héllo ✓ wörld\t😀", lines[1]);
        Assert.Equal(string.Empty, lines[2]);
        Assert.Contains(" read ", lines[3]);
        Assert.Equal("second", lines[4]);
        Assert.Equal(string.Empty, lines[5]);
        Assert.Equal(string.Empty, lines[6]);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\n\r\n", true)]
    [InlineData("tab\tand lf\n", true)]
    [InlineData("naïve ✓ 😀", true)]
    [InlineData("", true)]
    [InlineData("nul\0byte", false)]
    [InlineData("escape \u001b[31m", false)]
    [InlineData("del \u007f", false)]
    [InlineData("c1 \u0085 next line", false)]
    [InlineData("bell \u0007", false)]
    public void TextRule(string text, bool expected)
    {
        Assert.Equal(expected, TextSink.LooksLikeText(Encoding.UTF8.GetBytes(text)));
    }

    [Theory]
    [InlineData(new byte[] { 0x68, 0x69, 0xc3, 0x28 })] // bad continuation
    [InlineData(new byte[] { 0x68, 0x69, 0xe2, 0x82 })] // truncated sequence
    [InlineData(new byte[] { 0xc0, 0xaf })] // overlong
    [InlineData(new byte[] { 0xed, 0xa0, 0x80 })] // surrogate
    [InlineData(new byte[] { 0xff, 0x41 })]
    public void InvalidUtf8IsNotText(byte[] data)
    {
        Assert.False(TextSink.LooksLikeText(data));
    }

    [Fact]
    public void BinaryWithANulIsHexDumped()
    {
        string output = Render(sink => sink.OnData(Chunks.Data("GET\0"u8.ToArray())));

        Assert.Equal(
            "00000000  47 45 54 00                                       |GET.|\n",
            output[FirstLine(output).Length..^1]);
    }

    [Fact]
    public void InvalidUtf8IsHexDumped()
    {
        string output = Render(sink => sink.OnData(Chunks.Data([0x68, 0x69, 0xc3, 0x28])));

        Assert.Contains("00000000  68 69 c3 28  ", output);
        Assert.EndsWith("|hi.(|\n\n", output);
    }

    [Fact]
    public void HexDumpOfTwentyBytesHasExactLines()
    {
        string output = Render(sink => sink.OnData(Chunks.Data(TwentyBytes)));
        string[] lines = output.Split('\n');

        Assert.Equal(5, lines.Length);
        Assert.EndsWith(" len=20 libssl.so.3", lines[0]);
        Assert.Equal("00000000  16 03 01 02 00 01 00 01  fc 03 03 4a 3b 2c 1d 0e  |...........J;,..|", lines[1]);
        Assert.Equal("00000010  41 42 0a ff                                       |AB..|", lines[2]);
        Assert.Equal(string.Empty, lines[3]);
        Assert.Equal(string.Empty, lines[4]);
    }

    [Fact]
    public void HexDumpOfExactlySixteenAndEightBytes()
    {
        string sixteen = Render(sink => sink.OnData(Chunks.Data(TwentyBytes[..16])));
        string eight = Render(sink => sink.OnData(Chunks.Data(TwentyBytes[..8])));

        Assert.EndsWith("\n00000000  16 03 01 02 00 01 00 01  fc 03 03 4a 3b 2c 1d 0e  |...........J;,..|\n\n", sixteen);
        Assert.EndsWith("\n00000000  16 03 01 02 00 01 00 01                           |........|\n\n", eight);
    }

    [Fact]
    public void LargeBinaryPayloadIsDumpedCompletely()
    {
        byte[] data = new byte[200_000];
        new Random(1).NextBytes(data);
        data[0] = 0;

        string[] lines = Render(sink => sink.OnData(Chunks.Data(data))).Split('\n');

        Assert.Equal(1 + (200_000 / 16) + 2, lines.Length);
        Assert.StartsWith("00030d30  ", lines[^3]);
        Assert.All(lines[1..^2], line => Assert.Equal(78, line.Length));
    }

    [Fact]
    public void LargeTextPayloadPassesThroughUnchanged()
    {
        string text = string.Concat(Enumerable.Repeat("line of text ✓\r\n", 20_000));

        string output = Render(sink => sink.OnData(Chunks.Text(text)));

        Assert.Equal(FirstLine(output) + text + "\n", output);
    }

    [Fact]
    public void MaxBytesShownCutsTextAtACharacterBoundary()
    {
        // "ab✓cd": ✓ is 3 bytes (e2 9c 93) at offsets 2..4; a limit of 4 must not split it.
        var options = new TextSinkOptions(MaxBytesShown: 4);

        string output = Render(sink => sink.OnData(Chunks.Text("ab✓cd")), options);

        Assert.EndsWith("len=7 libssl.so.3\nab\n... (5 more bytes not shown)\n\n", output);
    }

    [Fact]
    public void MaxBytesShownCutsBinaryAtTheLimit()
    {
        var options = new TextSinkOptions(MaxBytesShown: 4);

        string output = Render(sink => sink.OnData(Chunks.Data(TwentyBytes)), options);

        Assert.EndsWith(
            "len=20 libssl.so.3\n00000000  16 03 01 02                                       |....|\n... (16 more bytes not shown)\n\n",
            output);
    }

    [Fact]
    public void GapLine()
    {
        var gap = new StreamGap(Chunks.KnownTimeNs, 7, Direction.Read, Chunks.Curl, 1_048_576, 4096, "ring buffer full");

        Assert.Equal(
            "15:04:05.123456 -- lost 4096 bytes of conn=7 read at offset 1048576 (ring buffer full) --\n\n",
            Render(sink => sink.OnGap(gap)));
    }

    [Fact]
    public void CloseLineUsesTheCommSeenOnTheConnection()
    {
        var closed = new ConnectionClosed(Chunks.KnownTimeNs, 7, 1234, 1234, 567);

        string output = Render(sink =>
        {
            sink.OnData(Chunks.Text("x"));
            sink.OnClose(closed);
            sink.OnClose(closed with { Connection = 8 });
        });

        string[] lines = output.Split('\n');
        Assert.Equal("15:04:05.123456 curl[1234] conn=7 closed (read 1234 B, wrote 567 B)", lines[3]);
        Assert.Equal("15:04:05.123456 ?[1234] conn=8 closed (read 1234 B, wrote 567 B)", lines[5]);
    }

    [Fact]
    public void ColorWrapsHeaderLinesOnly()
    {
        string output = Render(sink => sink.OnData(Chunks.Text("body")), new TextSinkOptions(Color: true));

        Assert.StartsWith("\u001b[1;34m15:04:05.123456 curl[", output);
        Assert.EndsWith(" libssl.so.3\u001b[0m\nbody\n\n", output);
    }

    [Fact]
    public void TextWriterAndStreamGiveTheSameOutput()
    {
        byte[] big = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("ünïcödé ✓ 😀 ", 10_000)));

        void Feed(TextSink sink)
        {
            sink.OnData(Chunks.Text(HttpRequest));
            sink.OnData(Chunks.Data(big));
            sink.OnData(Chunks.Data(TwentyBytes));
            sink.OnGap(new StreamGap(Chunks.KnownTimeNs, 7, Direction.Write, null, 5, 6, "process memory unreadable"));
            sink.OnClose(new ConnectionClosed(Chunks.KnownTimeNs, 7, 1234, 1, 2));
        }

        var writer = new StringWriter();
        using (var sink = new TextSink(writer, timeZone: TimeZoneInfo.Utc, leaveOpen: true))
        {
            Feed(sink);
        }

        Assert.Equal(Render(Feed), writer.ToString());
    }

    [Fact]
    public void FlushWritesToTheStreamAndDisposeLeavesItOpenWhenAsked()
    {
        var stream = new MemoryStream();
        var sink = new TextSink(stream, timeZone: TimeZoneInfo.Utc, leaveOpen: true);
        sink.OnData(Chunks.Text("x"));
        Assert.Equal(0, stream.Length);

        sink.Flush();
        Assert.NotEqual(0, stream.Length);

        sink.Dispose();
        Assert.True(stream.CanWrite);
    }

    private static string Render(Action<TextSink> feed, TextSinkOptions? options = null, TimeZoneInfo? timeZone = null)
    {
        var stream = new MemoryStream();
        using (var sink = new TextSink(stream, options, timeZone ?? TimeZoneInfo.Utc, leaveOpen: true))
        {
            feed(sink);
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static string FirstLine(string output) => output[..(output.IndexOf('\n') + 1)];
}
