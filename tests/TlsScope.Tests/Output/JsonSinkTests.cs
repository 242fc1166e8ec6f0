using System.Net;
using System.Text;
using System.Text.Json;
using TlsScope.Outputs.Json;
using TlsScope.Engine.Model;

namespace TlsScope.Tests.Output;

public sealed class JsonSinkTests
{
    private static readonly string[] DataKeys =
    [
        "type", "time", "pid", "tid", "uid", "comm", "library", "direction", "fd", "local", "remote",
        "conn", "len", "truncated", "data",
    ];

    [Fact]
    public void DataObjectHasEveryKeyInOrder()
    {
        DataChunk chunk = Chunks.Data("GET / HTTP/1.1\r\n\r\n"u8.ToArray(), offset: 4096);

        using JsonDocument line = Assert.Single(Render(sink => sink.OnData(chunk)));
        JsonElement root = line.RootElement;

        string[] keys = [.. root.EnumerateObject().Select(p => p.Name)];
        Assert.Equal(DataKeys, keys[..15]);
        Assert.Equal(["offset", "start"], keys[15..]);

        Assert.Equal("data", root.GetProperty("type").GetString());
        Assert.Equal("2026-11-22T15:04:05.123456789Z", root.GetProperty("time").GetString());
        Assert.Equal(1234, root.GetProperty("pid").GetInt32());
        Assert.Equal(1235, root.GetProperty("tid").GetInt32());
        Assert.Equal(1000u, root.GetProperty("uid").GetUInt32());
        Assert.Equal("curl", root.GetProperty("comm").GetString());
        Assert.Equal("/usr/lib/x86_64-linux-gnu/libssl.so.3", root.GetProperty("library").GetString());
        Assert.Equal("write", root.GetProperty("direction").GetString());
        Assert.Equal(5, root.GetProperty("fd").GetInt32());
        Assert.Equal("127.0.0.1:43210", root.GetProperty("local").GetString());
        Assert.Equal("127.0.0.1:8443", root.GetProperty("remote").GetString());
        Assert.Equal(7ul, root.GetProperty("conn").GetUInt64());
        Assert.Equal(18, root.GetProperty("len").GetInt32());
        Assert.False(root.GetProperty("truncated").GetBoolean());
        Assert.Equal("GET / HTTP/1.1\r\n\r\n", Encoding.UTF8.GetString(root.GetProperty("data").GetBytesFromBase64()));
        Assert.Equal(4096, root.GetProperty("offset").GetInt64());
        Assert.Equal("2026-11-22T15:04:05.123455789Z", root.GetProperty("start").GetString());
    }

    [Fact]
    public void ACgroupAndItsContainerFollowTheProcess()
    {
        const string id = "4f2c1a9b8e7d6c5b4a3928171615141312111009080706050403020100ffeedd";
        DataChunk chunk = Chunks.Data("x"u8.ToArray(), process: Chunks.Curl with { Cgroup = 4321, Container = id });

        using JsonDocument line = Assert.Single(Render(sink => sink.OnData(chunk)));

        string[] keys = [.. line.RootElement.EnumerateObject().Select(p => p.Name)];
        Assert.Equal(["comm", "cgroup", "container", "library"], keys[5..9]);
        Assert.Equal(4321ul, line.RootElement.GetProperty("cgroup").GetUInt64());
        Assert.Equal(id, line.RootElement.GetProperty("container").GetString());
    }

    [Fact]
    public void TruncatedChunkAddsDropped()
    {
        DataChunk chunk = Chunks.Data(new byte[3], direction: Direction.Read, truncated: true, dropped: 99);

        using JsonDocument line = Assert.Single(Render(sink => sink.OnData(chunk)));
        JsonElement root = line.RootElement;

        Assert.True(root.GetProperty("truncated").GetBoolean());
        Assert.Equal("read", root.GetProperty("direction").GetString());
        Assert.Equal(3, root.GetProperty("len").GetInt32());
        Assert.Equal(99, root.GetProperty("dropped").GetInt64());
        Assert.Equal(["offset", "dropped", "start"], root.EnumerateObject().Skip(15).Select(p => p.Name));
    }

    [Fact]
    public void Base64RoundTripsRandomData()
    {
        byte[] data = new byte[100 * 1024];
        new Random(7).NextBytes(data);

        using JsonDocument line = Assert.Single(Render(sink => sink.OnData(Chunks.Data(data))));

        Assert.Equal(data, line.RootElement.GetProperty("data").GetBytesFromBase64());
        Assert.Equal(data.Length, line.RootElement.GetProperty("len").GetInt32());
    }

    [Fact]
    public void IPv6EndpointsAreBracketed()
    {
        var address = new ConnectionAddress(
            new IPEndPoint(IPAddress.Parse("2001:db8::5"), 50123),
            new IPEndPoint(IPAddress.IPv6Loopback, 443));

        using JsonDocument line = Assert.Single(Render(sink => sink.OnData(Chunks.Data([1], address: address))));

        Assert.Equal("[2001:db8::5]:50123", line.RootElement.GetProperty("local").GetString());
        Assert.Equal("[::1]:443", line.RootElement.GetProperty("remote").GetString());
    }

    [Fact]
    public void UnknownAddressIsNullAndUnknownFdIsMinusOne()
    {
        DataChunk chunk = Chunks.Data([1], address: ConnectionAddress.Unknown, fd: -1);

        using JsonDocument line = Assert.Single(Render(sink => sink.OnData(chunk)));
        JsonElement root = line.RootElement;

        Assert.Equal(JsonValueKind.Null, root.GetProperty("local").ValueKind);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("remote").ValueKind);
        Assert.Equal(-1, root.GetProperty("fd").GetInt32());
    }

    [Fact]
    public void GapObject()
    {
        var gap = new StreamGap(Chunks.KnownTimeNs, 7, Direction.Read, Chunks.Curl, 1_048_576, 4096, "ring buffer full");
        var anonymous = gap with { Process = null, Direction = Direction.Write };

        List<JsonDocument> lines = Render(sink =>
        {
            sink.OnGap(gap);
            sink.OnGap(anonymous);
        });

        JsonElement root = lines[0].RootElement;
        Assert.Equal(
            ["type", "time", "conn", "direction", "pid", "comm", "offset", "len", "reason"],
            root.EnumerateObject().Select(p => p.Name));
        Assert.Equal("gap", root.GetProperty("type").GetString());
        Assert.Equal("2026-11-22T15:04:05.123456789Z", root.GetProperty("time").GetString());
        Assert.Equal(7ul, root.GetProperty("conn").GetUInt64());
        Assert.Equal("read", root.GetProperty("direction").GetString());
        Assert.Equal(1234, root.GetProperty("pid").GetInt32());
        Assert.Equal("curl", root.GetProperty("comm").GetString());
        Assert.Equal(1_048_576, root.GetProperty("offset").GetInt64());
        Assert.Equal(4096, root.GetProperty("len").GetInt64());
        Assert.Equal("ring buffer full", root.GetProperty("reason").GetString());

        JsonElement second = lines[1].RootElement;
        Assert.Equal(JsonValueKind.Null, second.GetProperty("pid").ValueKind);
        Assert.Equal(JsonValueKind.Null, second.GetProperty("comm").ValueKind);
        Assert.Equal("write", second.GetProperty("direction").GetString());
        lines.ForEach(d => d.Dispose());
    }

    [Fact]
    public void CloseObject()
    {
        var closed = new ConnectionClosed(Chunks.KnownTimeNs, 7, 1234, 1234, 567);

        using JsonDocument line = Assert.Single(Render(sink => sink.OnClose(closed)));
        JsonElement root = line.RootElement;

        Assert.Equal(
            ["type", "time", "conn", "pid", "read_bytes", "write_bytes"],
            root.EnumerateObject().Select(p => p.Name));
        Assert.Equal("close", root.GetProperty("type").GetString());
        Assert.Equal("2026-11-22T15:04:05.123456789Z", root.GetProperty("time").GetString());
        Assert.Equal(1234, root.GetProperty("read_bytes").GetInt64());
        Assert.Equal(567, root.GetProperty("write_bytes").GetInt64());
    }

    [Fact]
    public void ManyEventsGiveOneCompactObjectPerLine()
    {
        var random = new Random(3);
        var expected = new List<byte[]>();

        var stream = new MemoryStream();
        using (var sink = new JsonSink(stream, leaveOpen: true))
        {
            for (int i = 0; i < 2000; i++)
            {
                byte[] data = new byte[random.Next(0, 3000)];
                random.NextBytes(data);
                expected.Add(data);
                sink.OnData(Chunks.Data(data, connection: (ulong)i, process: new ProcessInfo(i, i, 0, "naïve \"q\"\n")));
                if (i % 100 == 0)
                {
                    sink.Flush();
                }
            }
        }

        byte[] output = stream.ToArray();
        Assert.Equal((byte)'\n', output[^1]);
        string[] lines = Encoding.UTF8.GetString(output).Split('\n');
        Assert.Equal(2001, lines.Length);
        Assert.Equal(string.Empty, lines[^1]);
        for (int i = 0; i < 2000; i++)
        {
            Assert.StartsWith("{\"type\":\"data\",", lines[i]);
            using JsonDocument document = JsonDocument.Parse(lines[i]);
            Assert.Equal((ulong)i, document.RootElement.GetProperty("conn").GetUInt64());
            Assert.Equal("naïve \"q\"\n", document.RootElement.GetProperty("comm").GetString());
            Assert.Equal(expected[i], document.RootElement.GetProperty("data").GetBytesFromBase64());
        }
    }

    [Fact]
    public void NothingReachesTheStreamBeforeFlush()
    {
        var stream = new MemoryStream();
        using var sink = new JsonSink(stream, leaveOpen: true);
        sink.OnData(Chunks.Data([1, 2, 3]));
        Assert.Equal(0, stream.Length);

        sink.Flush();
        Assert.Equal((byte)'\n', stream.ToArray()[^1]);
    }

    private static List<JsonDocument> Render(Action<JsonSink> feed)
    {
        var stream = new MemoryStream();
        using (var sink = new JsonSink(stream, leaveOpen: true))
        {
            feed(sink);
        }

        string text = Encoding.UTF8.GetString(stream.ToArray());
        Assert.EndsWith("\n", text);
        return [.. text[..^1].Split('\n').Select(line => JsonDocument.Parse(line))];
    }
}
