using System.Diagnostics;
using System.Text;
using TlsScope.Protocols.WebSocket;

namespace TlsScope.Tests.WebSocket;

public sealed class WebSocketFrameParserTests
{
    private static readonly byte[] MaskKey = [0x37, 0xfa, 0x21, 0x3d];

    private sealed class Log
    {
        public List<WebSocketFrame> Frames { get; } = new();

        public List<string> Errors { get; } = new();

        public static (WebSocketFrameParser Parser, Log Log) New(long max = WebSocketFrameParser.DefaultMaxPayloadBytes)
        {
            var p = new WebSocketFrameParser(max);
            var log = new Log();
            p.FrameParsed += log.Frames.Add;
            p.ProtocolError += log.Errors.Add;
            return (p, log);
        }

        public List<string> Lines()
        {
            var lines = Frames.Select(Describe).ToList();
            lines.AddRange(Errors.Select(e => "E " + e));
            return lines;
        }
    }

    private static string Describe(WebSocketFrame f) =>
        $"{f.OpcodeName} fin={f.Fin} rsv1={f.Compressed} m={f.Masked} len={f.PayloadLength} wire={f.WireBytes} " +
        $"trunc={f.PayloadTruncated} lost={f.PayloadLost} close={f.CloseCode}/{f.CloseReason} " +
        $"clk={f.FirstByteClock}-{f.LastByteClock} {Convert.ToHexString(f.Payload)}";

    private static byte[] Hex(string s) => Convert.FromHexString(s.Replace(" ", ""));

    /// <summary>Builds one frame with the shortest length encoding (or a forced one).</summary>
    private static byte[] Frame(int b0, byte[] payload, byte[]? mask = null, int forceLenBytes = -1)
    {
        var o = new List<byte> { (byte)b0 };
        byte m = mask is null ? (byte)0 : (byte)0x80;
        int lenBytes = forceLenBytes >= 0 ? forceLenBytes : payload.Length <= 125 ? 0 : payload.Length <= 0xFFFF ? 2 : 8;
        if (lenBytes == 0)
        {
            o.Add((byte)(m | payload.Length));
        }
        else if (lenBytes == 2)
        {
            o.Add((byte)(m | 126));
            o.Add((byte)(payload.Length >> 8));
            o.Add((byte)payload.Length);
        }
        else
        {
            o.Add((byte)(m | 127));
            for (int i = 7; i >= 0; i--)
            {
                o.Add((byte)((long)payload.Length >> (8 * i)));
            }
        }

        if (mask is not null)
        {
            o.AddRange(mask);
        }

        for (int i = 0; i < payload.Length; i++)
        {
            o.Add(mask is null ? payload[i] : (byte)(payload[i] ^ mask[i & 3]));
        }

        return o.ToArray();
    }

    private static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    private static byte[] Pattern(int n)
    {
        var b = new byte[n];
        for (int i = 0; i < n; i++)
        {
            b[i] = (byte)(i * 7 + 3);
        }

        return b;
    }

    private static Log Run(byte[] input, IEnumerable<int> splits, long max = WebSocketFrameParser.DefaultMaxPayloadBytes)
    {
        var (p, log) = Log.New(max);
        int pos = 0;
        foreach (int n in splits)
        {
            p.Feed(input.AsSpan(pos, n));
            pos += n;
        }

        p.End();
        Assert.Equal(input.Length, pos);
        Assert.Equal(input.Length, p.StreamOffset);
        return log;
    }

    private static int[] RandomSplits(Random rng, int total)
    {
        var parts = new List<int>();
        while (total > 0)
        {
            int n = Math.Min(total, rng.Next(5) == 0 ? rng.Next(1, 200) : rng.Next(0, 4));
            parts.Add(n);
            total -= n;
        }

        return parts.ToArray();
    }

    [Fact]
    public void Rfc_Single_Frame_Unmasked_Text()
    {
        var (p, log) = Log.New();
        p.Feed(Hex("81 05 48 65 6c 6c 6f"));
        Assert.Empty(log.Errors);
        var f = Assert.Single(log.Frames);
        Assert.True(f.Fin);
        Assert.Equal(WebSocketOpcode.Text, f.Opcode);
        Assert.Equal("text", f.OpcodeName);
        Assert.False(f.Masked);
        Assert.False(f.Compressed);
        Assert.Equal(5, f.PayloadLength);
        Assert.Equal("Hello", Encoding.UTF8.GetString(f.Payload));
        Assert.Equal(7, f.WireBytes);
        Assert.False(f.PayloadTruncated);
        Assert.False(f.PayloadLost);
        Assert.Null(f.CloseCode);
        Assert.Null(f.CloseReason);
        Assert.Equal(1, p.FrameCount);
        Assert.Equal(7, p.StreamOffset);
    }

    [Fact]
    public void Rfc_Single_Frame_Masked_Text()
    {
        var (p, log) = Log.New();
        p.Feed(Hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"));
        Assert.Empty(log.Errors);
        var f = Assert.Single(log.Frames);
        Assert.True(f.Masked);
        Assert.Equal("Hello", Encoding.UTF8.GetString(f.Payload));
        Assert.Equal(11, f.WireBytes);
        Assert.Equal(5, f.PayloadLength);
    }

    [Fact]
    public void Rfc_Fragmented_Unmasked_Text()
    {
        var (p, log) = Log.New();
        p.Feed(Hex("01 03 48 65 6c"));
        p.Feed(Hex("80 02 6c 6f"));
        Assert.Empty(log.Errors);
        Assert.Equal(2, log.Frames.Count);
        Assert.False(log.Frames[0].Fin);
        Assert.Equal(WebSocketOpcode.Text, log.Frames[0].Opcode);
        Assert.Equal("Hel", Encoding.UTF8.GetString(log.Frames[0].Payload));
        Assert.True(log.Frames[1].Fin);
        Assert.Equal(WebSocketOpcode.Continuation, log.Frames[1].Opcode);
        Assert.Equal("continuation", log.Frames[1].OpcodeName);
        Assert.Equal("lo", Encoding.UTF8.GetString(log.Frames[1].Payload));
    }

    [Fact]
    public void Rfc_Ping_And_Masked_Pong()
    {
        var (p, log) = Log.New();
        p.Feed(Hex("89 05 48 65 6c 6c 6f 8a 85 37 fa 21 3d 7f 9f 4d 51 58"));
        Assert.Empty(log.Errors);
        Assert.Equal(2, log.Frames.Count);
        Assert.Equal(WebSocketOpcode.Ping, log.Frames[0].Opcode);
        Assert.Equal("ping", log.Frames[0].OpcodeName);
        Assert.False(log.Frames[0].Masked);
        Assert.Equal("Hello", Encoding.UTF8.GetString(log.Frames[0].Payload));
        Assert.Equal(WebSocketOpcode.Pong, log.Frames[1].Opcode);
        Assert.Equal("pong", log.Frames[1].OpcodeName);
        Assert.True(log.Frames[1].Masked);
        Assert.Equal("Hello", Encoding.UTF8.GetString(log.Frames[1].Payload));
        Assert.Equal(18, p.StreamOffset);
    }

    [Fact]
    public void Rfc_256_Byte_Binary_With_16_Bit_Length()
    {
        byte[] body = Pattern(256);
        byte[] wire = Concat(Hex("82 7E 01 00"), body);
        var (p, log) = Log.New();
        p.Feed(wire);
        Assert.Empty(log.Errors);
        var f = Assert.Single(log.Frames);
        Assert.Equal(WebSocketOpcode.Binary, f.Opcode);
        Assert.Equal("binary", f.OpcodeName);
        Assert.Equal(256, f.PayloadLength);
        Assert.Equal(260, f.WireBytes);
        Assert.Equal(body, f.Payload);
    }

    [Fact]
    public void Rfc_64_KiB_Binary_With_64_Bit_Length()
    {
        byte[] body = Pattern(65536);
        byte[] wire = Concat(Hex("82 7F 00 00 00 00 00 01 00 00"), body);
        var (p, log) = Log.New();
        p.Feed(wire[..5]);
        p.Feed(wire[5..1000]);
        p.Feed(wire[1000..]);
        Assert.Empty(log.Errors);
        var f = Assert.Single(log.Frames);
        Assert.Equal(65536, f.PayloadLength);
        Assert.Equal(65546, f.WireBytes);
        Assert.Equal(body, f.Payload);
        Assert.False(f.PayloadTruncated);
    }

    [Fact]
    public void Masked_64_Bit_Length_Frame_Unmasks_Across_Splits()
    {
        byte[] body = Pattern(70000);
        byte[] wire = Frame(0x82, body, MaskKey);
        Assert.Equal(2 + 8 + 4 + 70000, wire.Length);
        var log = Run(wire, [3, 1, 7, 2, 1, 5, 9999, 50000, wire.Length - 60018]);
        Assert.Empty(log.Errors);
        var f = Assert.Single(log.Frames);
        Assert.True(f.Masked);
        Assert.Equal(body, f.Payload);
        Assert.Equal(70014, f.WireBytes);
    }

    [Fact]
    public void Close_Frame_With_Code_And_Reason()
    {
        byte[] payload = Concat([0x03, 0xE8], Encoding.UTF8.GetBytes("going away ✓"));
        var (p, log) = Log.New();
        p.Feed(Frame(0x88, payload, MaskKey));
        p.Feed(Frame(0x88, []));
        Assert.Empty(log.Errors);
        Assert.Equal(2, log.Frames.Count);
        var f = log.Frames[0];
        Assert.Equal(WebSocketOpcode.Close, f.Opcode);
        Assert.Equal("close", f.OpcodeName);
        Assert.Equal((ushort)1000, f.CloseCode);
        Assert.Equal("going away ✓", f.CloseReason);
        Assert.Equal(payload, f.Payload);
        var empty = log.Frames[1];
        Assert.Null(empty.CloseCode);
        Assert.Equal("", empty.CloseReason);
        Assert.Equal(2, empty.WireBytes);
    }

    [Fact]
    public void Close_Frame_Errors_Are_Reported_But_Delivered()
    {
        var (p, log) = Log.New();
        p.Feed(Frame(0x88, [0x03]));
        p.Feed(Frame(0x88, [0x03, 0xED]));
        p.Feed(Frame(0x88, [0x03, 0xE8, 0xC3, 0x28]));
        Assert.Equal(3, log.Frames.Count);
        Assert.Null(log.Frames[0].CloseCode);
        Assert.Equal((ushort)1005, log.Frames[1].CloseCode);
        Assert.Equal((ushort)1000, log.Frames[2].CloseCode);
        Assert.Equal(3, log.Errors.Count);
        Assert.Contains("1-byte", log.Errors[0]);
        Assert.Contains("1005", log.Errors[1]);
        Assert.Contains("UTF-8", log.Errors[2]);
    }

    [Fact]
    public void Compressed_Flag_And_Reserved_Opcode()
    {
        var (p, log) = Log.New();
        p.Feed(Frame(0xC1, [1, 2, 3]));
        p.Feed(Frame(0x83, [4]));
        p.Feed(Frame(0x8B, []));
        Assert.Equal(3, log.Frames.Count);
        Assert.True(log.Frames[0].Compressed);
        Assert.Equal(WebSocketOpcode.Text, log.Frames[0].Opcode);
        Assert.Equal((WebSocketOpcode)3, log.Frames[1].Opcode);
        Assert.Equal("opcode-3", log.Frames[1].OpcodeName);
        Assert.Equal("opcode-11", log.Frames[2].OpcodeName);
        Assert.Equal(2, log.Errors.Count);
        Assert.False(p.Lost);
    }

    [Fact]
    public void Bad_Control_Frames_Are_Errors_But_Delivered()
    {
        var (p, log) = Log.New();
        p.Feed(Frame(0x89, Pattern(126)));
        p.Feed(Frame(0x0A, [1]));
        p.Feed(Frame(0x81, Encoding.ASCII.GetBytes("ok")));
        Assert.Equal(3, log.Frames.Count);
        Assert.Equal(126, log.Frames[0].PayloadLength);
        Assert.Equal(Pattern(126), log.Frames[0].Payload);
        Assert.False(log.Frames[1].Fin);
        Assert.Equal(WebSocketOpcode.Pong, log.Frames[1].Opcode);
        Assert.Equal("ok", Encoding.ASCII.GetString(log.Frames[2].Payload));
        Assert.Equal(2, log.Errors.Count);
        Assert.Contains("exceeds 125", log.Errors[0]);
        Assert.Contains("fragmented control frame", log.Errors[1]);
    }

    [Fact]
    public void Fragmentation_Sequence_Errors()
    {
        var (p, log) = Log.New();
        p.Feed(Frame(0x80, [1]));          // continuation with no message in progress
        p.Feed(Frame(0x02, [2]));          // binary, not final
        p.Feed(Frame(0x89, []));           // ping interleaved: fine
        p.Feed(Frame(0x81, [3]));          // text while a message is in progress
        p.Feed(Frame(0x80, [4]));          // continuation after a final frame
        Assert.Equal(5, log.Frames.Count);
        Assert.Equal(3, log.Errors.Count);
        Assert.Contains("without a fragmented message", log.Errors[0]);
        Assert.Contains("while a fragmented message", log.Errors[1]);
        Assert.Contains("without a fragmented message", log.Errors[2]);
    }

    [Fact]
    public void Byte_At_A_Time_Equals_Whole()
    {
        byte[] wire = Concat(
            Hex("81 05 48 65 6c 6c 6f"),
            Hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"),
            Hex("01 03 48 65 6c 80 02 6c 6f"),
            Hex("89 05 48 65 6c 6c 6f 8a 85 37 fa 21 3d 7f 9f 4d 51 58"),
            Frame(0x82, Pattern(256), MaskKey),
            Frame(0xC2, Pattern(300), null, 8),
            Frame(0x88, Concat([0x03, 0xE9], "bye"u8.ToArray()), [1, 2, 3, 4]),
            Frame(0x82, []));
        var whole = Run(wire, [wire.Length]);
        Assert.Empty(whole.Errors);
        Assert.Equal(10, whole.Frames.Count);
        Assert.Equal(whole.Lines(), Run(wire, Enumerable.Repeat(1, wire.Length)).Lines());
        var rng = new Random(6455);
        for (int i = 0; i < 100; i++)
        {
            Assert.Equal(whole.Lines(), Run(wire, RandomSplits(rng, wire.Length)).Lines());
        }
    }

    [Fact]
    public void Clocks_Follow_First_Header_Byte_And_Completion()
    {
        byte[] a = Frame(0x81, "abc"u8.ToArray(), MaskKey);
        byte[] b = Frame(0x82, Pattern(10));
        var (p, log) = Log.New();
        p.Clock = 100;
        p.Feed(a[..1]);
        p.Clock = 200;
        p.Feed(a[1..]);
        p.Clock = 300;
        p.Feed(b[..6]);
        p.Clock = 400;
        p.Gap(2);
        p.Clock = 500;
        p.Feed(b[8..]);
        Assert.Equal(2, log.Frames.Count);
        Assert.Equal((100, 200), (log.Frames[0].FirstByteClock, log.Frames[0].LastByteClock));
        Assert.Equal((300, 500), (log.Frames[1].FirstByteClock, log.Frames[1].LastByteClock));
    }

    [Fact]
    public void Payload_Cap_Truncates_But_Keeps_Framing()
    {
        byte[] body = Pattern(256);
        byte[] wire = Concat(Frame(0x82, body, MaskKey), Frame(0x81, "after"u8.ToArray(), MaskKey));
        foreach (var splits in new[] { new[] { wire.Length }, Enumerable.Repeat(1, wire.Length).ToArray() })
        {
            var log = Run(wire, splits, max: 10);
            Assert.Empty(log.Errors);
            Assert.Equal(2, log.Frames.Count);
            var f = log.Frames[0];
            Assert.True(f.PayloadTruncated);
            Assert.Equal(256, f.PayloadLength);
            Assert.Equal(body[..10], f.Payload);
            Assert.Equal(264, f.WireBytes);
            Assert.False(log.Frames[1].PayloadTruncated);
            Assert.Equal("after", Encoding.ASCII.GetString(log.Frames[1].Payload));
        }

        var zero = Run(wire, [wire.Length], max: 0);
        Assert.Equal(2, zero.Frames.Count);
        Assert.All(zero.Frames, f => Assert.Empty(f.Payload));
        Assert.All(zero.Frames, f => Assert.True(f.PayloadTruncated));
    }

    [Fact]
    public void Payload_Exactly_At_Cap_Is_Not_Truncated()
    {
        var log = Run(Frame(0x82, Pattern(10)), [12], max: 10);
        Assert.False(Assert.Single(log.Frames).PayloadTruncated);
        Assert.Equal(Pattern(10), log.Frames[0].Payload);
    }

    [Fact]
    public void Gap_Inside_Payload_Keeps_Framing_And_Mask_Phase()
    {
        byte[] body = Pattern(20);
        byte[] a = Frame(0x82, body, MaskKey); // 6-byte header
        byte[] b = Frame(0x81, "next"u8.ToArray(), [9, 8, 7, 6]);
        var (p, log) = Log.New();
        p.Feed(a[..9]);     // header + 3 payload bytes
        p.Gap(5);           // payload bytes 3..7
        p.Feed(a[14..]);    // payload bytes 8..19
        p.Feed(b);
        Assert.Empty(log.Errors);
        Assert.False(p.Lost);
        Assert.Equal(2, log.Frames.Count);
        var f = log.Frames[0];
        Assert.True(f.PayloadLost);
        Assert.False(f.PayloadTruncated);
        Assert.Equal(20, f.PayloadLength);
        Assert.Equal(26, f.WireBytes);
        Assert.Equal(Concat(body[..3], body[8..]), f.Payload);
        Assert.Equal("next", Encoding.ASCII.GetString(log.Frames[1].Payload));
        Assert.False(log.Frames[1].PayloadLost);
        Assert.Equal(a.Length + b.Length, p.StreamOffset);
    }

    [Fact]
    public void Gap_Ending_Exactly_At_Payload_End_Completes_The_Frame()
    {
        byte[] a = Frame(0x82, Pattern(10));
        var (p, log) = Log.New();
        p.Feed(a[..4]);
        p.Gap(8);
        Assert.True(Assert.Single(log.Frames).PayloadLost);
        Assert.Equal(Pattern(10)[..2], log.Frames[0].Payload);
        p.Feed(Frame(0x81, [0x41]));
        Assert.Equal(2, log.Frames.Count);
        Assert.Empty(log.Errors);
        p.End();
        Assert.Empty(log.Errors);
    }

    [Fact]
    public void Gap_Across_A_Header_Loses_Framing_Once()
    {
        byte[] a = Frame(0x81, "one"u8.ToArray());
        byte[] b = Frame(0x81, "two"u8.ToArray());
        var (p, log) = Log.New();
        p.Feed(a);
        p.Feed(b[..1]);
        p.Gap(1);
        Assert.True(p.Lost);
        Assert.Single(log.Errors);
        p.Feed(b[2..]);
        p.Feed(a);
        p.Gap(10);
        p.Feed(a);
        p.End();
        Assert.Single(log.Errors);
        Assert.Single(log.Frames);
        Assert.Equal(1, p.FrameCount);
        Assert.Equal(a.Length * 3 + b.Length + 10, p.StreamOffset);
    }

    [Fact]
    public void Gap_At_A_Frame_Boundary_Or_Past_A_Payload_Loses_Framing()
    {
        var (p, log) = Log.New();
        p.Feed(Frame(0x81, "one"u8.ToArray()));
        p.Gap(3);
        Assert.True(p.Lost);
        Assert.Single(log.Errors);
        Assert.Contains("frame boundary", log.Errors[0]);

        var (q, qlog) = Log.New();
        byte[] big = Frame(0x82, Pattern(10));
        q.Feed(big[..5]);
        q.Gap(8); // 7 payload bytes were left
        Assert.True(q.Lost);
        Assert.Single(qlog.Errors);
        Assert.Empty(qlog.Frames);
        q.Feed(big);
        Assert.Empty(qlog.Frames);
        Assert.Equal(5 + 8 + big.Length, q.StreamOffset);
    }

    [Fact]
    public void Top_Bit_Of_64_Bit_Length_Loses_Framing()
    {
        var (p, log) = Log.New();
        p.Feed(Hex("82 7F 80 00 00 00 00 00 00 01 41 42 43"));
        Assert.True(p.Lost);
        Assert.Single(log.Errors);
        Assert.Contains("most significant bit", log.Errors[0]);
        Assert.Empty(log.Frames);
        p.Feed(Hex("81 01 41"));
        Assert.Empty(log.Frames);
        Assert.Equal(16, p.StreamOffset);
    }

    [Fact]
    public void End_Inside_A_Frame_Is_An_Error_And_Not_Delivered()
    {
        byte[] a = Frame(0x81, "hello"u8.ToArray(), MaskKey);
        for (int cut = 1; cut < a.Length; cut++)
        {
            var (p, log) = Log.New();
            p.Feed(a[..cut]);
            p.End();
            Assert.Empty(log.Frames);
            Assert.Single(log.Errors);
            Assert.Contains("stream ended inside", log.Errors[0]);
            p.End();
            p.Feed(a);
            Assert.Single(log.Errors);
            Assert.Empty(log.Frames);
        }

        var (q, qlog) = Log.New();
        q.Feed(a);
        q.End();
        Assert.Empty(qlog.Errors);
        Assert.Single(qlog.Frames);
    }

    [Fact]
    public void Huge_Announced_Length_Does_Not_Allocate_Up_Front()
    {
        var (p, log) = Log.New();
        byte[] header = Hex("82 7F 00 00 10 00 00 00 00 00"); // announces 2^44 bytes
        byte[] some = Pattern(100);
        long before = GC.GetAllocatedBytesForCurrentThread();
        p.Feed(header);
        p.Feed(some);
        p.Gap(1L << 40);
        // Buffers grow with what arrives (100 bytes), not with the announced length or the cap (16 MiB).
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 * 1024, "allocated up front");
        Assert.Empty(log.Frames);
        Assert.False(p.Lost);
        p.End();
        Assert.Single(log.Errors);
    }

    [Fact]
    public void Fuzz_Random_Bytes_And_Splits_Never_Throw()
    {
        var rng = new Random(20111211);
        byte[] seed = Concat(
            Hex("81 85 37 fa 21 3d 7f 9f 4d 51 58 01 03 48 65 6c 80 02 6c 6f"),
            Frame(0x89, "ping"u8.ToArray(), MaskKey),
            Frame(0x82, Pattern(200), [5, 6, 7, 8]),
            Frame(0x88, Concat([0x03, 0xE8], "x"u8.ToArray())));
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < 4000; i++)
        {
            byte[] input;
            if (i % 3 == 0)
            {
                input = new byte[rng.Next(0, 400)];
                rng.NextBytes(input);
            }
            else
            {
                input = (byte[])seed.Clone();
                for (int m = rng.Next(1, 6); m > 0; m--)
                {
                    input[rng.Next(input.Length)] = (byte)rng.Next(256);
                }
            }

            long max = rng.Next(4) == 0 ? rng.Next(0, 64) : WebSocketFrameParser.DefaultMaxPayloadBytes;

            // Split invariance (no gaps): whole and random splits give the same events.
            var whole = Run(input, [input.Length], max);
            Assert.Equal(whole.Lines(), Run(input, RandomSplits(rng, input.Length), max).Lines());

            // Random gaps: never throws, offsets add up, frames never exceed the cap.
            var (p, log) = Log.New(max);
            int pos = 0;
            long gaps = 0;
            foreach (int n in RandomSplits(rng, input.Length))
            {
                if (rng.Next(15) == 0)
                {
                    long g = rng.Next(1, 40);
                    p.Gap(g);
                    gaps += g;
                }

                p.Clock = pos;
                p.Feed(input.AsSpan(pos, n));
                pos += n;
            }

            p.End();
            Assert.Equal(input.Length + gaps, p.StreamOffset);
            Assert.Equal(log.Frames.Count, p.FrameCount);
            Assert.All(log.Frames, f => Assert.True(f.Payload.Length <= max && f.Payload.Length <= f.PayloadLength));
            Assert.True(log.Errors.Count(e => e.Contains("framing lost")) <= 1);
        }

        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30), $"fuzz took {sw.Elapsed}");
    }
}
