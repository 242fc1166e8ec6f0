using System.Net;
using System.Text;
using TlsScope.Engine.Model;
using TlsScope.Outputs.Pcapng;

namespace TlsScope.Tests.Pcap;

public sealed class PlaintextPcapngSinkTests : IDisposable
{
    private const ulong Connection = 7;
    private static readonly ProcessInfo Curl = new(1234, 1234, 0, "curl");

    private readonly string _directory = Directory.CreateTempSubdirectory("tlsscope-plain-").FullName;
    private long _time = 1_700_000_000_000_000_000;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData("127.0.0.1", LinkType.RawIp)]
    [InlineData("::1", LinkType.Ethernet)]
    [InlineData("::ffff:10.0.0.5", LinkType.RawIp)]
    public void TsharkSeesTheHttpExchangeInBothDirectionsWithoutComplaint(string address, int linkType)
    {
        var local = new IPEndPoint(IPAddress.Parse(address), 40000);
        var remote = new IPEndPoint(IPAddress.Parse(address), 4433);
        var offsets = new Dictionary<Direction, long> { [Direction.Read] = 0, [Direction.Write] = 0 };
        DataChunk Next(Direction direction, string text)
        {
            DataChunk chunk = Chunk(direction, offsets[direction], text, local, remote);
            offsets[direction] += text.Length;
            return chunk;
        }

        string path = Write(linkType, sink =>
        {
            sink.OnData(Next(Direction.Write, "GET /x?y=1 HTTP/1.1\r\nHost: a\r\n\r\n"));
            sink.OnData(Next(Direction.Read, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"));
            sink.OnData(Next(Direction.Write, "GET /two HTTP/1.1\r\nHost: a\r\n\r\n"));
            sink.OnData(Next(Direction.Read, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"));
            sink.OnClose(new ConnectionClosed(_time, Connection, 1234, offsets[Direction.Read], offsets[Direction.Write]));
        });

        Assert.Equal(["/x?y=1", "/two"], Tshark.Fields(path, "http.request", "http.request.uri"));
        Assert.Equal(["200", "404"], Tshark.Fields(path, "http.response", "http.response.code"));
        Assert.Equal(10, Tshark.Fields(path, "", "frame.number").Length); // 3 handshake, 4 data, 3 close
        Assert.Empty(Tshark.Fields(path, "tcp.analysis.flags || _ws.malformed || _ws.expert.severity >= warning", "frame.number", "_ws.expert.message"));
        string[] comments = Tshark.Fields(path, "", "frame.comment");
        Assert.Equal(10, comments.Length);
        Assert.All(comments, comment => Assert.StartsWith("pid=1234 comm=curl", comment, StringComparison.Ordinal));
        Assert.Equal(["0x00000002"], Tshark.Fields(path, "http.request.uri == \"/two\"", "frame.packet_flags_direction"));
        Assert.Equal(["good"], Tshark.Fields(path, "frame.number == 4", ["-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE"],
            "tcp.checksum.status").Select(s => s == "1" ? "good" : s).ToArray());
    }

    [Fact]
    public void AGapAndTruncatedBytesShowAsSegmentsNotCaptured()
    {
        var local = new IPEndPoint(IPAddress.Loopback, 40000);
        var remote = new IPEndPoint(IPAddress.Loopback, 4433);
        string path = Write(LinkType.RawIp, sink =>
        {
            sink.OnData(Chunk(Direction.Write, 0, "first", local, remote));
            sink.OnGap(new StreamGap(_time, Connection, Direction.Write, Curl, 5, 100, "ring buffer full"));
            sink.OnData(Chunk(Direction.Write, 105, "second", local, remote) with { Truncated = true, DroppedBytes = 50 });
            sink.OnData(Chunk(Direction.Write, 161, "third", local, remote));
        });

        string[] seq = Tshark.Fields(path, "tcp.len > 0", "tcp.seq", "tcp.len");
        Assert.Equal(["1\t5", "106\t6", "162\t5"], seq);
        Assert.Equal(2, Tshark.Fields(path, "tcp.analysis.lost_segment", "frame.number").Length);
        Assert.Contains("(truncated: 50 more bytes not captured)", Tshark.Fields(path, "tcp.seq == 106", "frame.comment")[0], StringComparison.Ordinal);
    }

    [Fact]
    public void ALargeChunkIsSplitIntoSegmentsThatReassemble()
    {
        var local = new IPEndPoint(IPAddress.Loopback, 40000);
        var remote = new IPEndPoint(IPAddress.Loopback, 4433);
        string body = new('z', 150_000);
        string request = $"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: {body.Length}\r\n\r\n{body}";
        string path = Write(LinkType.RawIp, sink => sink.OnData(Chunk(Direction.Write, 0, request, local, remote)));

        Assert.Equal(["65495", "65495", $"{request.Length - 2 * 65495}"], Tshark.Fields(path, "tcp.len > 0", "tcp.len"));
        Assert.Equal(["/upload\t150000"], Tshark.Fields(path, "http.request", "http.request.uri", "http.content_length"));
        Assert.Empty(Tshark.Fields(path, "tcp.analysis.flags", "frame.number"));
    }

    [Fact]
    public void AnUnknownAddressGetsAStableMadeUpFourTupleSaidSoInTheComment()
    {
        string path = Write(LinkType.RawIp, sink =>
        {
            sink.OnData(Chunk(Direction.Write, 0, "GET /a HTTP/1.1\r\nHost: a\r\n\r\n", null, null));
            sink.OnData(Chunk(Direction.Write, "GET /a HTTP/1.1\r\nHost: a\r\n\r\n".Length, "GET /b HTTP/1.1\r\nHost: a\r\n\r\n", null, null));
        });

        Assert.Equal(["/a\t192.0.2.1\t1024\t198.51.100.1\t80", "/b\t192.0.2.1\t1024\t198.51.100.1\t80"],
            Tshark.Fields(path, "http.request", "http.request.uri", "ip.src", "tcp.srcport", "ip.dst", "tcp.dstport"));
        string[] comments = Tshark.Fields(path, "", "frame.comment");
        Assert.NotEmpty(comments);
        Assert.All(comments, c => Assert.Contains("made-up 4-tuple", c, StringComparison.Ordinal));
    }

    private string Write(int linkType, Action<PlaintextPcapngSink> feed)
    {
        string path = Path.Combine(_directory, $"plain-{Guid.NewGuid():N}.pcapng");
        using (var sink = new PlaintextPcapngSink(path, linkType))
        {
            feed(sink);
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        return path;
    }

    private DataChunk Chunk(Direction direction, long offset, string text, IPEndPoint? local, IPEndPoint? remote)
    {
        _time += 1_000_000;
        return new DataChunk(_time, _time, Connection, direction, Curl, 5, new ConnectionAddress(local, remote), "libssl.so.3",
            offset, Encoding.ASCII.GetBytes(text), false, 0);
    }
}
