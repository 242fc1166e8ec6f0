using System.Buffers.Binary;
using System.Text;
using TlsScope.Protocols.Http2;

namespace TlsScope.Tests.Http2;

/// <summary>Builds HTTP/2 byte streams frame by frame for tests.</summary>
internal sealed class FrameBuilder
{
    private readonly List<byte> _bytes = new();

    public static byte[] Hex(string text) =>
        Convert.FromHexString(new string(text.Where(Uri.IsHexDigit).ToArray()));

    public FrameBuilder Preface()
    {
        _bytes.AddRange(Http2DirectionParser.ClientPreface.ToArray());
        return this;
    }

    public FrameBuilder Frame(byte type, byte flags, int stream, ReadOnlySpan<byte> payload)
    {
        _bytes.Add((byte)(payload.Length >> 16));
        _bytes.Add((byte)(payload.Length >> 8));
        _bytes.Add((byte)payload.Length);
        _bytes.Add(type);
        _bytes.Add(flags);
        var id = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(id, stream);
        _bytes.AddRange(id);
        _bytes.AddRange(payload.ToArray());
        return this;
    }

    public FrameBuilder Settings(params (ushort Id, uint Value)[] settings)
    {
        var p = new byte[settings.Length * 6];
        for (int i = 0; i < settings.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(i * 6), settings[i].Id);
            BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(i * 6 + 2), settings[i].Value);
        }

        return Frame(Http2FrameType.Settings, 0, 0, p);
    }

    public FrameBuilder SettingsAck() => Frame(Http2FrameType.Settings, Http2Flags.Ack, 0, []);

    public FrameBuilder Headers(int stream, byte[] block, bool endStream, bool endHeaders = true, byte extraFlags = 0) =>
        Frame(Http2FrameType.Headers,
            (byte)((endStream ? Http2Flags.EndStream : 0) | (endHeaders ? Http2Flags.EndHeaders : 0) | extraFlags), stream, block);

    public FrameBuilder Continuation(int stream, byte[] fragment, bool endHeaders) =>
        Frame(Http2FrameType.Continuation, endHeaders ? Http2Flags.EndHeaders : (byte)0, stream, fragment);

    public FrameBuilder Data(int stream, string text, bool endStream) => Data(stream, Encoding.ASCII.GetBytes(text), endStream);

    public FrameBuilder Data(int stream, byte[] data, bool endStream) =>
        Frame(Http2FrameType.Data, endStream ? Http2Flags.EndStream : (byte)0, stream, data);

    public FrameBuilder PaddedData(int stream, string text, int pad, bool endStream)
    {
        var p = new List<byte> { (byte)pad };
        p.AddRange(Encoding.ASCII.GetBytes(text));
        p.AddRange(new byte[pad]);
        return Frame(Http2FrameType.Data, (byte)(Http2Flags.Padded | (endStream ? Http2Flags.EndStream : 0)), stream, p.ToArray());
    }

    public FrameBuilder RstStream(int stream, uint code)
    {
        var p = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(p, code);
        return Frame(Http2FrameType.RstStream, 0, stream, p);
    }

    public FrameBuilder GoAway(int last, uint code, string debug = "")
    {
        var p = new byte[8 + debug.Length];
        BinaryPrimitives.WriteInt32BigEndian(p, last);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(4), code);
        Encoding.ASCII.GetBytes(debug).CopyTo(p, 8);
        return Frame(Http2FrameType.GoAway, 0, 0, p);
    }

    public FrameBuilder Ping(ulong data, bool ack = false)
    {
        var p = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(p, data);
        return Frame(Http2FrameType.Ping, ack ? Http2Flags.Ack : (byte)0, 0, p);
    }

    public FrameBuilder WindowUpdate(int stream, uint increment)
    {
        var p = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(p, increment);
        return Frame(Http2FrameType.WindowUpdate, 0, stream, p);
    }

    public FrameBuilder Raw(byte[] bytes)
    {
        _bytes.AddRange(bytes);
        return this;
    }

    public int Length => _bytes.Count;

    public byte[] ToArray() => _bytes.ToArray();

    /// <summary>A header block of literal-without-indexing fields with raw (non-Huffman) new names.</summary>
    public static byte[] Literals(params (string Name, string Value)[] fields)
    {
        var b = new List<byte>();
        foreach (var (n, v) in fields)
        {
            b.Add(0x00);
            AddString(b, n);
            AddString(b, v);
        }

        return b.ToArray();
    }

    private static void AddString(List<byte> b, string s)
    {
        byte[] raw = Encoding.UTF8.GetBytes(s);
        // 7-bit prefix integer (RFC 7541 Section 5.1), no Huffman.
        int len = raw.Length;
        if (len < 127)
        {
            b.Add((byte)len);
        }
        else
        {
            b.Add(127);
            len -= 127;
            while (len >= 128)
            {
                b.Add((byte)(len % 128 + 128));
                len /= 128;
            }

            b.Add((byte)len);
        }

        b.AddRange(raw);
    }
}

/// <summary>Records every event of a direction parser as one line of text, for comparisons.</summary>
internal sealed class EventLog
{
    public List<string> Lines { get; } = new();

    public List<(int Stream, List<(string Name, string Value)> Headers, bool End)> Headers { get; } = new();

    public List<(int Stream, byte[] Data, bool End)> Data { get; } = new();

    public List<string> Errors { get; } = new();

    public static EventLog Attach(Http2DirectionParser p)
    {
        var log = new EventLog();
        p.HeadersDecoded += (s, h, e) =>
        {
            log.Headers.Add((s, h, e));
            log.Lines.Add($"H {s} {e} {string.Join(";", h.Select(x => x.Name + "=" + x.Value))}");
        };
        p.HeadersUndecodable += (s, e, r) => log.Lines.Add($"HU {s} {e} {r}");
        p.Data += (s, d, e) =>
        {
            log.Data.Add((s, d.ToArray(), e));
            log.Lines.Add($"D {s} {e} {Convert.ToHexString(d.Span)}");
        };
        p.DataLost += (s, e) => log.Lines.Add($"DL {s} {e}");
        p.StreamReset += (s, c) => log.Lines.Add($"R {s} {c}");
        p.GoAway += (s, c) => log.Lines.Add($"G {s} {c}");
        p.SettingsReceived += (l, a) => log.Lines.Add($"S {a} {string.Join(";", l.Select(x => $"{x.Id}={x.Value}"))}");
        p.PushPromise += (s, pr, h) => log.Lines.Add($"PP {s} {pr} {(h is null ? "null" : string.Join(";", h.Select(x => x.Name + "=" + x.Value)))}");
        p.Ping += (a, d) => log.Lines.Add($"P {a} {d}");
        p.WindowUpdate += (s, i) => log.Lines.Add($"W {s} {i}");
        p.Priority += (s, d, w, x) => log.Lines.Add($"PR {s} {d} {w} {x}");
        p.ProtocolError += m =>
        {
            log.Errors.Add(m);
            log.Lines.Add("E " + m);
        };
        return log;
    }
}
