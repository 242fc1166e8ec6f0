using System.Diagnostics;
using System.Text;
using TlsScope.Protocols.Http2;
using static TlsScope.Tests.Http2.FrameBuilder;

namespace TlsScope.Tests.Http2;

public sealed class Http2DirectionParserTests
{
    private static readonly byte[] RequestBlock =
        Literals((":method", "GET"), (":path", "/x"), (":scheme", "https"), (":authority", "example.org"), ("accept", "*/*"));

    private static (Http2DirectionParser Parser, EventLog Log) NewParser(Http2Role role = Http2Role.ClientToServer, int maxFrameSize = Http2DirectionParser.MaxFramePayload)
    {
        var p = new Http2DirectionParser(role, maxFrameSize: maxFrameSize);
        return (p, EventLog.Attach(p));
    }

    [Fact]
    public void Continuation_Is_Concatenated()
    {
        var b = new FrameBuilder().Preface()
            .Headers(1, RequestBlock[..5], endStream: true, endHeaders: false)
            .Continuation(1, RequestBlock[5..20], endHeaders: false)
            .Continuation(1, RequestBlock[20..], endHeaders: true);
        var (p, log) = NewParser();
        p.Feed(b.ToArray());
        Assert.Empty(log.Errors);
        var h = Assert.Single(log.Headers);
        Assert.Equal(1, h.Stream);
        Assert.True(h.End);
        Assert.Equal(("accept", "*/*"), h.Headers[^1]);
        Assert.Equal(5, h.Headers.Count);
    }

    [Fact]
    public void Interrupted_Header_Block_Is_A_Protocol_Error()
    {
        var b = new FrameBuilder().Preface()
            .Headers(1, RequestBlock[..5], endStream: true, endHeaders: false)
            .Data(1, "x", false)
            .Headers(3, RequestBlock, endStream: true);
        var (p, log) = NewParser();
        p.Feed(b.ToArray());
        Assert.Contains(log.Errors, e => e.Contains("interrupts the header block"));
        Assert.True(p.Desynchronised);
        Assert.Contains("D 1 False 78", log.Lines);
        Assert.Contains(log.Lines, l => l.StartsWith("HU 3 True"));
    }

    [Fact]
    public void Stray_Continuation_Is_A_Protocol_Error()
    {
        var (p, log) = NewParser(Http2Role.ServerToClient);
        p.Feed(new FrameBuilder().Continuation(1, RequestBlock, true).ToArray());
        Assert.Contains(log.Errors, e => e.Contains("without a preceding"));
    }

    [Fact]
    public void Padded_Data_And_Headers_With_Priority()
    {
        var headers = new List<byte> { 3, 0x80, 0, 0, 1, 15 }; // pad 3, exclusive dependency on 1, weight 16
        headers.AddRange(RequestBlock);
        headers.AddRange(new byte[3]);
        var b = new FrameBuilder().Preface()
            .Headers(3, headers.ToArray(), endStream: false, extraFlags: Http2Flags.Padded | Http2Flags.Priority)
            .PaddedData(3, "body", 10, endStream: false)
            .PaddedData(3, "", 0, endStream: true);
        var (p, log) = NewParser();
        p.Feed(b.ToArray());
        Assert.Empty(log.Errors);
        Assert.Contains("PR 3 1 16 True", log.Lines);
        Assert.Equal("/x", log.Headers.Single().Headers.Single(x => x.Name == ":path").Value);
        Assert.Equal(2, log.Data.Count);
        Assert.Equal("body", Encoding.ASCII.GetString(log.Data[0].Data));
        Assert.Empty(log.Data[1].Data);
        Assert.True(log.Data[1].End);
    }

    [Fact]
    public void Bad_Padding_Is_A_Protocol_Error()
    {
        var b = new FrameBuilder()
            .Frame(Http2FrameType.Data, Http2Flags.Padded, 1, [5, 1, 2])
            .Data(1, "ok", true);
        var (p, log) = NewParser(Http2Role.ServerToClient);
        p.Feed(b.ToArray());
        Assert.Single(log.Errors);
        Assert.Equal("ok", Encoding.ASCII.GetString(log.Data.Single().Data));
    }

    [Fact]
    public void Control_Frames_Are_Reported()
    {
        var b = new FrameBuilder()
            .Settings((Http2SettingId.HeaderTableSize, 0), (Http2SettingId.MaxFrameSize, 32768))
            .SettingsAck()
            .Ping(0x0102030405060708)
            .WindowUpdate(5, 1000)
            .RstStream(5, 2)
            .GoAway(9, 1, "debug")
            .Frame(0xEE, 0xFF, 1, [1, 2, 3]) // unknown type: skipped
            .Frame(Http2FrameType.Priority, 0, 7, [0, 0, 0, 3, 200]);
        var (p, log) = NewParser(Http2Role.ServerToClient);
        p.Feed(b.ToArray());
        Assert.Empty(log.Errors);
        Assert.Equal(
            ["S False 1=0;5=32768", "S True ", "P False 72623859790382856", "W 5 1000", "R 5 2", "G 9 1", "PR 7 3 201 False"],
            log.Lines);
        Assert.Equal(8, p.FrameCount);
    }

    [Theory]
    [InlineData(Http2FrameType.Settings, 1, 0, "multiple of 6")]
    [InlineData(Http2FrameType.Settings, 0, 1, "instead of 0")]
    [InlineData(Http2FrameType.Ping, 3, 0, "instead of 8")]
    [InlineData(Http2FrameType.RstStream, 4, 0, "stream 0")]
    [InlineData(Http2FrameType.GoAway, 4, 0, "shorter than 8")]
    [InlineData(Http2FrameType.WindowUpdate, 3, 1, "instead of 4")]
    [InlineData(Http2FrameType.Priority, 4, 1, "instead of 5")]
    public void Malformed_Control_Frames(byte type, int length, int stream, string expected)
    {
        var (p, log) = NewParser(Http2Role.ServerToClient);
        p.Feed(new FrameBuilder().Frame(type, 0, stream, new byte[length]).Ping(1).ToArray());
        Assert.Contains(expected, Assert.Single(log.Errors));
        Assert.Equal("P False 1", log.Lines[^1]);
    }

    [Fact]
    public void Oversized_Frame_Stops_Parsing()
    {
        var (p, log) = NewParser(Http2Role.ServerToClient, maxFrameSize: 16384);
        p.Feed(new FrameBuilder().Data(1, new byte[16385], false).Data(1, "x", true).ToArray());
        Assert.Contains("exceeds the maximum frame size", Assert.Single(log.Errors));
        Assert.True(p.Failed);
        Assert.Empty(log.Data);
    }

    [Fact]
    public void Bad_Preface_Stops_Parsing()
    {
        var (p, log) = NewParser();
        p.Feed("GET / HTTP/1.1\r\n\r\n"u8);
        Assert.Contains("preface", Assert.Single(log.Errors));
        Assert.True(p.Failed);
    }

    [Fact]
    public void End_Inside_A_Frame_Is_Reported()
    {
        var (p, log) = NewParser(Http2Role.ServerToClient);
        p.Feed(new FrameBuilder().Data(1, "abcdef", true).ToArray()[..12]);
        p.End();
        Assert.Contains("inside a frame", Assert.Single(log.Errors));
        p.Feed([1, 2, 3]);
        Assert.Single(log.Errors);
    }

    [Fact]
    public void Gap_Inside_Headers_Payload_Keeps_Framing()
    {
        var b = new FrameBuilder().Preface().Headers(1, RequestBlock, endStream: false);
        byte[] all = b.ToArray();
        var after = new FrameBuilder().Data(1, "still", true).Headers(3, RequestBlock, true).ToArray();
        var (p, log) = NewParser();
        p.Feed(all[..40]);
        p.Gap(10);
        p.Feed(all[50..]);
        p.Feed(after);
        Assert.True(p.Desynchronised);
        Assert.False(p.Resynchronising);
        Assert.Empty(log.Errors);
        Assert.Equal(["HU 1 False header bytes were lost", "D 1 True 7374696C6C", "HU 3 True HPACK state is desynchronised"], log.Lines);
    }

    [Fact]
    public void Gap_Across_Frames_Resynchronises_On_Later_Data()
    {
        var before = new FrameBuilder().Preface().Headers(1, RequestBlock, endStream: false).Data(1, "lost-data", false);
        var after = new FrameBuilder().Data(1, "found", false).Headers(1, Literals(("x-t", "1")), true).Data(3, "more", true);
        var (p, log) = NewParser();
        byte[] b = before.ToArray();
        p.Feed(b[..30]);
        p.Gap(b.Length - 30 + 100);
        p.Feed(new byte[] { 0xAB, 0xCD, 0xEF });
        p.Feed(after.ToArray());
        Assert.True(p.Desynchronised);
        Assert.Equal(["D 1 False 666F756E64", "HU 1 True HPACK state is desynchronised", "D 3 True 6D6F7265"], log.Lines);
    }

    [Fact]
    public void Gap_Inside_A_Large_Data_Frame_Does_Not_Throw_And_Keeps_Framing()
    {
        // Over the 256-byte initial buffer: the damaged frame's buffer stops growing at the gap.
        byte[] b = new FrameBuilder().Data(1, new byte[1000], false).Data(1, "ok", true).ToArray();
        var (p, log) = NewParser(Http2Role.ServerToClient);
        p.Feed(b[..100]);
        p.Gap(100);
        p.Feed(b[200..]);
        Assert.Equal(["DL 1 False", "D 1 True 6F6B"], log.Lines);
        Assert.Empty(log.Errors);
    }

    [Fact]
    public void Gap_Ending_Exactly_At_A_Frame_End_Keeps_Framing()
    {
        byte[] b = new FrameBuilder().Data(1, new byte[40], false).Data(1, "ok", true).ToArray();
        var (p, log) = NewParser(Http2Role.ServerToClient);
        p.Feed(b[..20]);
        p.Gap(29); // the rest of the 9 + 40 byte frame
        p.Feed(b[49..]);
        Assert.False(p.Resynchronising);
        Assert.Equal(["DL 1 False", "D 1 True 6F6B"], log.Lines);
    }

    [Fact]
    public void Data_Partly_Lost_Is_Reported_As_Lost()
    {
        byte[] b = new FrameBuilder().Data(1, new byte[100], true).Data(3, "ok", true).ToArray();
        var (p, log) = NewParser(Http2Role.ServerToClient);
        p.Feed(b[..20]);
        p.Gap(50);
        p.Feed(b[70..]);
        Assert.Equal(["DL 1 True", "D 3 True 6F6B"], log.Lines);
    }

    [Fact]
    public void Splits_Do_Not_Change_Events()
    {
        var headers = new List<byte> { 2 };
        headers.AddRange(RequestBlock);
        headers.AddRange(new byte[2]);
        byte[] bytes = new FrameBuilder().Preface().Settings((1, 4096))
            .Headers(1, headers.ToArray(), false, extraFlags: Http2Flags.Padded)
            .Headers(3, RequestBlock[..7], false, endHeaders: false).Continuation(3, RequestBlock[7..], true)
            .PaddedData(1, "abc", 4, false).Data(3, "xyz", true).Headers(1, Literals(("t", "v")), true)
            .RstStream(5, 1).GoAway(3, 0).Frame(0x42, 0, 0, [1]).ToArray();
        var whole = Run(bytes, [bytes.Length]);
        Assert.Empty(whole.Errors);
        Assert.Equal(whole.Lines, Run(bytes, Enumerable.Repeat(1, bytes.Length).ToArray()).Lines);
        var rng = new Random(7);
        for (int i = 0; i < 50; i++)
        {
            Assert.Equal(whole.Lines, Run(bytes, RandomSplits(rng, bytes.Length)).Lines);
        }
    }

    [Fact]
    public void Fuzz_Never_Throws()
    {
        var rng = new Random(12345);
        byte[] seed = new FrameBuilder().Preface().Settings((1, 100))
            .Headers(1, RequestBlock, false).PaddedData(1, "abc", 2, false)
            .Headers(3, Hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"), false, endHeaders: false)
            .Continuation(3, Hex("be"), true).Data(3, "q", true).RstStream(1, 0).Ping(9).GoAway(3, 0)
            .WindowUpdate(0, 9).ToArray();
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < 5000; i++)
        {
            byte[] input;
            if (i % 4 == 0)
            {
                input = new byte[rng.Next(0, 300)];
                rng.NextBytes(input);
                if (rng.Next(2) == 0 && input.Length > 24)
                {
                    Http2DirectionParser.ClientPreface.CopyTo(input);
                }
            }
            else
            {
                input = (byte[])seed.Clone();
                int mutations = rng.Next(1, 8);
                for (int m = 0; m < mutations; m++)
                {
                    input[rng.Next(input.Length)] = (byte)rng.Next(256);
                }

                if (rng.Next(3) == 0)
                {
                    input = input[..rng.Next(input.Length)];
                }
            }

            var role = rng.Next(2) == 0 ? Http2Role.ClientToServer : Http2Role.ServerToClient;
            if (role == Http2Role.ServerToClient && input.Length > 24 && i % 4 != 0)
            {
                input = input[24..];
            }

            var c = new Http2Connection();
            int pos = 0;
            foreach (int len in RandomSplits(rng, input.Length))
            {
                if (rng.Next(20) == 0)
                {
                    c.Gap(role, rng.Next(1, 50));
                }

                c.Feed(role, input.AsSpan(pos, len));
                pos += len;
            }

            c.End();
        }

        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(20), $"fuzzing took {sw.Elapsed}");
    }

    [Fact]
    public void Fuzz_Splits_Never_Change_Events()
    {
        var rng = new Random(777);
        byte[] seed = new FrameBuilder().Preface().Settings((1, 100))
            .Headers(1, RequestBlock, false, endHeaders: false).Continuation(1, [], true)
            .PaddedData(1, "abc", 2, true).Ping(3).GoAway(1, 0).ToArray();
        for (int i = 0; i < 1000; i++)
        {
            byte[] input = (byte[])seed.Clone();
            for (int m = rng.Next(1, 5); m > 0; m--)
            {
                input[rng.Next(input.Length)] = (byte)rng.Next(256);
            }

            var whole = Run(input, [input.Length]);
            Assert.Equal(whole.Lines, Run(input, RandomSplits(rng, input.Length)).Lines);
        }
    }

    private static EventLog Run(byte[] bytes, int[] splits)
    {
        var (p, log) = NewParser();
        int pos = 0;
        foreach (int len in splits)
        {
            p.Feed(bytes.AsSpan(pos, len));
            pos += len;
        }

        p.End();
        return log;
    }

    private static int[] RandomSplits(Random rng, int length)
    {
        var parts = new List<int>();
        int left = length;
        while (left > 0)
        {
            int n = Math.Min(left, rng.Next(1, 40));
            parts.Add(n);
            left -= n;
        }

        return parts.ToArray();
    }
}
