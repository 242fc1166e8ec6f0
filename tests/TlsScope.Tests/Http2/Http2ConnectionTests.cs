using System.Text;
using TlsScope.Protocols.Http2;
using static TlsScope.Tests.Http2.FrameBuilder;

namespace TlsScope.Tests.Http2;

public sealed class Http2ConnectionTests
{
    // RFC 7541 Appendix C.3 (requests, no Huffman) and C.5 (responses, table limit 256).
    private static readonly string[] C3 =
    [
        "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        "8286 84be 5808 6e6f 2d63 6163 6865",
        "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
    ];

    private static readonly string[] C5 =
    [
        "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        "4803 3330 37c1 c0bf",
        "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
    ];

    private sealed class Capture
    {
        public List<Http2Message> Requests { get; } = new();

        public List<Http2Message> Responses { get; } = new();

        public List<string> Errors { get; } = new();

        public static Capture On(Http2Connection c)
        {
            var cap = new Capture();
            c.RequestCompleted += cap.Requests.Add;
            c.ResponseCompleted += cap.Responses.Add;
            c.ProtocolError += (_, m) => cap.Errors.Add(m);
            return cap;
        }
    }

    private static (byte[] Client, byte[] Server) ThreeRequests()
    {
        var client = new FrameBuilder().Preface()
            .Settings((Http2SettingId.HeaderTableSize, 256), (Http2SettingId.EnablePush, 0))
            .WindowUpdate(0, 65535)
            .Headers(1, Hex(C3[0]), endStream: true)
            .SettingsAck()
            .Headers(3, Hex(C3[1]), endStream: true)
            .Headers(5, Hex(C3[2]), endStream: true);
        var server = new FrameBuilder()
            .Settings((Http2SettingId.MaxConcurrentStreams, 100))
            .SettingsAck()
            .Headers(1, Hex(C5[0]), endStream: false)
            .Data(1, "moved", endStream: true)
            .Headers(3, Hex(C5[1]), endStream: true)
            .Headers(5, Hex(C5[2]), endStream: false)
            .Data(5, "hello ", endStream: false)
            .Data(5, "world", endStream: true)
            .Ping(42, ack: true);
        return (client.ToArray(), server.ToArray());
    }

    [Fact]
    public void Three_Requests_Share_Dynamic_Tables_And_Settings_Limit()
    {
        var (client, server) = ThreeRequests();
        var c = new Http2Connection();
        var cap = Capture.On(c);
        c.Feed(Http2Role.ClientToServer, client);
        c.Feed(Http2Role.ServerToClient, server);
        c.End();

        Assert.Empty(cap.Errors);
        Assert.Equal(256, c.ServerToClient.Decoder.MaxTableSizeLimit);
        Assert.Equal(4096, c.ClientToServer.Decoder.MaxTableSizeLimit);
        Assert.Equal([1, 3, 5], cap.Requests.Select(r => r.StreamId));
        Assert.All(cap.Requests, r => Assert.True(r.Complete));
        Assert.Equal([(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")], cap.Requests[0].Headers);
        Assert.Equal(
            [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com"), ("cache-control", "no-cache")],
            cap.Requests[1].Headers);
        Assert.Equal(
            [(":method", "GET"), (":scheme", "https"), (":path", "/index.html"), (":authority", "www.example.com"), ("custom-key", "custom-value")],
            cap.Requests[2].Headers);

        Assert.Equal([1, 3, 5], cap.Responses.Select(r => r.StreamId));
        Assert.Equal("302", cap.Responses[0].Status);
        Assert.Equal("moved", Encoding.ASCII.GetString(cap.Responses[0].Body.Span));
        Assert.Equal("307", cap.Responses[1].Status);
        Assert.Equal("https://www.example.com", cap.Responses[1].GetHeader("location"));
        Assert.Equal(
            [(":status", "200"), ("cache-control", "private"), ("date", "Mon, 21 Oct 2013 20:13:22 GMT"), ("location", "https://www.example.com"),
             ("content-encoding", "gzip"), ("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1")],
            cap.Responses[2].Headers);
        Assert.Equal("hello world", Encoding.ASCII.GetString(cap.Responses[2].Body.Span));
        Assert.All(cap.Responses, r => Assert.True(r.Complete));
        Assert.Equal(0, c.ActiveStreams);
    }

    [Fact]
    public void Byte_At_A_Time_Equals_Whole()
    {
        var (client, server) = ThreeRequests();
        string Run(int chunk)
        {
            var c = new Http2Connection();
            var cap = Capture.On(c);
            for (int i = 0; i < Math.Max(client.Length, server.Length); i += chunk)
            {
                if (i < client.Length)
                {
                    c.Feed(Http2Role.ClientToServer, client.AsSpan(i, Math.Min(chunk, client.Length - i)));
                }

                if (i < server.Length)
                {
                    c.Feed(Http2Role.ServerToClient, server.AsSpan(i, Math.Min(chunk, server.Length - i)));
                }
            }

            c.End();
            return string.Join("\n", cap.Requests.Concat(cap.Responses).Select(m =>
                $"{m.StreamId} {m.IsRequest} {m.Complete} {string.Join(";", m.Headers)} {Convert.ToHexString(m.Body.Span)}"))
                + string.Join("\n", cap.Errors);
        }

        string whole = Run(int.MaxValue / 2);
        Assert.Equal(whole, Run(1));
        Assert.Equal(whole, Run(7));
    }

    [Fact]
    public void Interleaved_Streams_Trailers_And_Reset()
    {
        var client = new FrameBuilder().Preface().Settings()
            .Headers(1, Literals((":method", "POST"), (":path", "/a"), (":scheme", "https"), (":authority", "h")), endStream: false)
            .Headers(3, Literals((":method", "POST"), (":path", "/b"), (":scheme", "https"), (":authority", "h")), endStream: false)
            .Data(1, "a1", false)
            .Data(3, "b1", false)
            .Data(1, "a2", true)
            .Data(3, "b2", true)
            .Headers(7, Literals((":method", "GET"), (":path", "/c"), (":scheme", "https"), (":authority", "h")), endStream: true);
        var server = new FrameBuilder().Settings()
            .Headers(3, Literals((":status", "200")), endStream: false)
            .Headers(1, Literals((":status", "100")), endStream: false)
            .Headers(1, Literals((":status", "201")), endStream: false)
            .Data(3, "B", false)
            .Data(1, "A", false)
            .Headers(1, Literals(("x-trailer", "t1")), endStream: true)
            .Headers(3, Literals(("grpc-status", "0")), endStream: true)
            .RstStream(7, 8)
            .GoAway(7, 0, "bye");
        var c = new Http2Connection();
        var cap = Capture.On(c);
        var goaways = new List<(Http2Role, int, uint)>();
        c.GoAwayReceived += (r, l, e) => goaways.Add((r, l, e));
        c.Feed(Http2Role.ClientToServer, client.ToArray());
        c.Feed(Http2Role.ServerToClient, server.ToArray());

        Assert.Empty(cap.Errors);
        var reqA = cap.Requests.Single(r => r.StreamId == 1);
        var reqB = cap.Requests.Single(r => r.StreamId == 3);
        Assert.Equal("a1a2", Encoding.ASCII.GetString(reqA.Body.Span));
        Assert.Equal("b1b2", Encoding.ASCII.GetString(reqB.Body.Span));
        Assert.Equal("/b", reqB.Path);
        var respA = cap.Responses.Single(r => r.StreamId == 1);
        Assert.Equal("201", respA.Status);
        Assert.Single(respA.InformationalHeaders);
        Assert.Equal([("x-trailer", "t1")], respA.Trailers!);
        Assert.Equal("A", Encoding.ASCII.GetString(respA.Body.Span));
        var respB = cap.Responses.Single(r => r.StreamId == 3);
        Assert.Equal([("grpc-status", "0")], respB.Trailers!);
        var reqC = cap.Requests.Single(r => r.StreamId == 7);
        Assert.True(reqC.Complete);
        Assert.False(reqC.Reset);
        Assert.Equal([(Http2Role.ServerToClient, 7, 0u)], goaways);
        Assert.Equal(0, c.ActiveStreams);
    }

    [Fact]
    public void Reset_Stream_Delivers_Incomplete_Messages()
    {
        var client = new FrameBuilder().Preface()
            .Headers(1, Literals((":method", "POST"), (":path", "/up")), endStream: false)
            .Data(1, "part", false);
        var server = new FrameBuilder().RstStream(1, 0x8);
        var c = new Http2Connection();
        var cap = Capture.On(c);
        c.Feed(Http2Role.ClientToServer, client.ToArray());
        Assert.Empty(cap.Requests);
        c.Feed(Http2Role.ServerToClient, server.ToArray());
        var req = Assert.Single(cap.Requests);
        Assert.True(req.Reset);
        Assert.False(req.Complete);
        Assert.Equal(8u, req.ResetErrorCode);
        Assert.Equal("part", Encoding.ASCII.GetString(req.Body.Span));
    }

    [Fact]
    public void Grpc_Request_And_Response_Messages_Recognised()
    {
        byte[] body = [0, 0, 0, 0, 3, 1, 2, 3, 1, 0, 0, 0, 2, 9, 9];
        var client = new FrameBuilder().Preface()
            .Headers(1, Literals((":method", "POST"), (":path", "/pkg.Svc/Call"), ("content-type", "application/grpc+proto"), ("te", "trailers")), false)
            .Data(1, body[..6], false)
            .Data(1, body[6..], true);
        var server = new FrameBuilder()
            .Headers(1, Literals((":status", "200"), ("content-type", "application/grpc")), false)
            .Data(1, body, false)
            .Headers(1, Literals(("grpc-status", "0")), true);
        var c = new Http2Connection();
        var cap = Capture.On(c);
        c.Feed(Http2Role.ClientToServer, client.ToArray());
        c.Feed(Http2Role.ServerToClient, server.ToArray());
        foreach (var m in new[] { Assert.Single(cap.Requests), Assert.Single(cap.Responses) })
        {
            Assert.True(m.IsGrpc);
            Assert.True(m.TryGetGrpcMessages(out var msgs));
            Assert.Equal([(false, 3), (true, 2)], msgs);
        }

        Assert.Equal("0", cap.Responses[0].Trailers!.Single().Value);
    }

    [Fact]
    public void Grpc_Parse_Edge_Cases()
    {
        Assert.True(GrpcMessages.TryParse([], out var none));
        Assert.Empty(none);
        Assert.False(GrpcMessages.TryParse([0, 0, 0, 0, 5, 1], out var partial));
        Assert.Empty(partial);
        Assert.False(GrpcMessages.TryParse([0, 0, 0, 0, 0, 0, 0], out var trailing));
        Assert.Single(trailing);
        Assert.False(GrpcMessages.TryParse([2, 0, 0, 0, 0], out _));
        Assert.False(GrpcMessages.TryParse([0, 0xff, 0xff, 0xff, 0xff], out _));
        Assert.True(GrpcMessages.IsGrpcContentType("application/grpc-web"));
        Assert.False(GrpcMessages.IsGrpcContentType("application/json"));
        Assert.False(GrpcMessages.IsGrpcContentType(null));
    }

    [Fact]
    public void Push_Promise_Becomes_A_Pushed_Request()
    {
        var pp = new List<byte> { 0, 0, 0, 2 };
        pp.AddRange(Literals((":method", "GET"), (":path", "/style.css")));
        var server = new FrameBuilder()
            .Frame(Http2FrameType.PushPromise, Http2Flags.EndHeaders, 1, pp.ToArray())
            .Headers(2, Literals((":status", "200")), false)
            .Data(2, "css", true);
        var c = new Http2Connection();
        var cap = Capture.On(c);
        c.Feed(Http2Role.ServerToClient, server.ToArray());
        var req = Assert.Single(cap.Requests);
        Assert.True(req.IsPushed);
        Assert.Equal(2, req.StreamId);
        Assert.Equal("/style.css", req.Path);
        Assert.Equal("css", Encoding.ASCII.GetString(Assert.Single(cap.Responses).Body.Span));
    }

    [Fact]
    public void End_Delivers_Unfinished_Messages()
    {
        var client = new FrameBuilder().Preface()
            .Headers(1, Literals((":method", "GET"), (":path", "/")), endStream: false);
        var c = new Http2Connection();
        var cap = Capture.On(c);
        c.Feed(Http2Role.ClientToServer, client.ToArray());
        c.End();
        var req = Assert.Single(cap.Requests);
        Assert.False(req.Complete);
        Assert.Equal("/", req.Path);
    }

    [Fact]
    public void Gap_Makes_Headers_Undecodable_But_Data_Still_Arrives()
    {
        var server1 = new FrameBuilder().Headers(1, Literals((":status", "200")), false).Data(1, "one", true).ToArray();
        var server2 = new FrameBuilder().Headers(3, Literals((":status", "404")), false).Data(3, "two", false).Data(3, "!", true).ToArray();
        var c = new Http2Connection();
        var cap = Capture.On(c);
        c.Feed(Http2Role.ServerToClient, server1);
        c.Gap(Http2Role.ServerToClient, 500);
        c.Feed(Http2Role.ServerToClient, server2);
        Assert.True(c.ServerToClient.Desynchronised);
        Assert.Equal(2, cap.Responses.Count);
        Assert.Equal("200", cap.Responses[0].Status);
        var r = cap.Responses[1];
        Assert.True(r.HeadersUndecodable);
        Assert.Empty(r.Headers);
        Assert.True(r.Complete);
        Assert.Equal("two!", Encoding.ASCII.GetString(r.Body.Span));
    }

    [Fact]
    public void Late_Frames_Of_A_Reset_Stream_Are_Ignored()
    {
        var c = new Http2Connection();
        var cap = Capture.On(c);
        c.Feed(Http2Role.ClientToServer, new FrameBuilder().Preface().Headers(1, Literals((":path", "/")), false).RstStream(1, 8).ToArray());
        c.Feed(Http2Role.ServerToClient, new FrameBuilder().Headers(1, Literals((":status", "200")), false).Data(1, "x", true).ToArray());
        c.End();
        Assert.Single(cap.Requests);
        Assert.Empty(cap.Responses);
        Assert.Equal(0, c.ActiveStreams);
    }

    [Fact]
    public void Frames_After_End_Stream_Leave_The_Delivered_Message_Alone()
    {
        var c = new Http2Connection();
        var cap = Capture.On(c);
        var frames = new FrameBuilder().Preface().Headers(1, Literals((":path", "/")), false).Data(1, "abc", true);
        var wire = frames.ToArray().Length - Http2DirectionParser.ClientPreface.Length; // its frames
        c.Feed(Http2Role.ClientToServer, frames.Data(1, "late", false).Headers(1, Literals(("x-trailer", "1")), true).ToArray());
        var r = Assert.Single(cap.Requests);
        Assert.Equal(3, r.BodyLength);
        Assert.Equal("abc", Encoding.ASCII.GetString(r.Body.Span));
        Assert.Null(r.Trailers);
        Assert.Equal(wire, r.WireBytes);
        c.Feed(Http2Role.ServerToClient, new FrameBuilder().Headers(1, Literals((":status", "200")), true).ToArray());
        Assert.Single(cap.Responses);
        Assert.Equal(0, c.ActiveStreams);
    }

    [Fact]
    public void Body_Cap_Truncates()
    {
        var c = new Http2Connection(maxBodyBytes: 4);
        var cap = Capture.On(c);
        c.Feed(Http2Role.ServerToClient, new FrameBuilder().Headers(1, Literals((":status", "200")), false).Data(1, "abc", false).Data(1, "def", true).ToArray());
        var r = Assert.Single(cap.Responses);
        Assert.True(r.BodyTruncated);
        Assert.Equal(6, r.BodyLength);
        Assert.Equal("abcd", Encoding.ASCII.GetString(r.Body.Span));
    }
}
