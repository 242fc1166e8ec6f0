using TlsScope.Protocols.Http1;

namespace TlsScope.Tests.Http1;

/// <summary>Valid HTTP/1 streams shared by the equivalence and fuzz tests.</summary>
internal static class Http1Fixtures
{
    public static readonly string[] Methods = ["GET", "HEAD", "POST", "GET", "GET", "GET"];

    public static IEnumerable<(Http1Role Role, byte[] Wire)> All()
    {
        yield return (Http1Role.Request, Http1Run.Bytes(
            "GET / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n" +
            "POST /p HTTP/1.1\r\nContent-Length: 11\r\nContent-Type: text/plain\r\n\r\nhello world" +
            "PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n" +
            "GET /folded HTTP/1.0\r\nX-Long: part one\r\n  part two\r\n\r\n"));
        yield return (Http1Role.Response, Http1Run.Bytes(
            "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody" +
            "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n" +
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwiki\r\n5;e=1\r\npedia\r\n0\r\nX-T: 1\r\n\r\n" +
            "HTTP/1.1 204 No Content\r\n\r\n" +
            "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n" +
            "HTTP/1.0 200 OK\r\n\r\nclose-delimited tail"));
        yield return (Http1Role.Response, Http1Run.Bytes(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x02hi"));
    }
}
