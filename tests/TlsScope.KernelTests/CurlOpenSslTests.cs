using System.Text;
using TlsScope.KernelTests.Infrastructure;

namespace TlsScope.KernelTests;

/// <summary>curl -> openssl s_server on loopback: both sides captured byte-exact, with the
/// right processes, directions and 4-tuples.</summary>
public sealed class CurlOpenSslTests
{
    private const string Body = "hello from s_server\n";

    [KernelFact]
    public void BothSidesAreCapturedByteExactWithTheirTuples()
    {
        using var server = OpenSslServer.Start();
        using var scope = TlsScopeRun.Start();
        using var curl = Proc.Start("curl", ["-sk", "--http1.1", "-H", "X-Test: one", $"https://127.0.0.1:{server.Port}/hello"]);
        server.WaitForRequest();
        var response = $"HTTP/1.1 200 OK\r\nContent-Length: {Body.Length}\r\nConnection: close\r\n\r\n{Body}";
        server.Send(response);
        Assert.True(curl.WaitForExit(TimeSpan.FromSeconds(20)), "curl did not finish");
        Assert.Equal(Body, curl.Stdout);
        server.WaitForExit(TimeSpan.FromSeconds(10));
        scope.StopCleanly();
        var got = scope.Records();

        var request = Encoding.ASCII.GetString(got.Bytes(curl.Pid, "write"));
        Assert.StartsWith($"GET /hello HTTP/1.1\r\nHost: 127.0.0.1:{server.Port}\r\n", request);
        Assert.Contains("\r\nX-Test: one\r\n", request);
        Assert.EndsWith("\r\n\r\n", request);
        Assert.Equal(got.Bytes(curl.Pid, "write"), got.Bytes(server.Pid, "read"));
        Assert.Equal(response, Encoding.ASCII.GetString(got.Bytes(server.Pid, "write")));
        Assert.Equal(got.Bytes(server.Pid, "write"), got.Bytes(curl.Pid, "read"));

        var client = got.DataOf(curl.Pid, "write").First();
        var served = got.DataOf(server.Pid, "read").First();
        Assert.Equal("curl", client.GetProperty("comm").GetString());
        Assert.Equal("openssl", served.GetProperty("comm").GetString());
        Assert.Equal($"127.0.0.1:{server.Port}", client.GetProperty("remote").GetString());
        Assert.Equal($"127.0.0.1:{server.Port}", served.GetProperty("local").GetString());
        Assert.Equal(client.GetProperty("local").GetString(), served.GetProperty("remote").GetString());
        Assert.StartsWith("127.0.0.1:", client.GetProperty("local").GetString());
        Assert.True(client.GetProperty("fd").GetInt32() >= 3);
        Assert.Equal(curl.Pid, client.GetProperty("tid").GetInt32());
        Assert.Equal(0u, client.GetProperty("uid").GetUInt32());
        Assert.Equal("libssl.so.3", client.GetProperty("library").GetString());
        // Every record of one connection carries one stable id.
        Assert.Single(got.DataOf(curl.Pid, "write").Concat(got.DataOf(curl.Pid, "read")).Select(r => r.GetProperty("conn").GetUInt64()).Distinct());
        Assert.Empty(got.OfType("gap"));
    }
}
