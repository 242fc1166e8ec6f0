using System.Text;
using TlsScope.KernelTests.Infrastructure;

namespace TlsScope.KernelTests;

/// <summary>
/// NSS (libssl3.so) with its own tools: tstclnt against selfserv, both traced, in a namespace of
/// the test's own. Only TLS sockets reach the probed SSL-layer methods: a certutil run, which
/// reads and writes its database through the same NSPR, gives no event.
/// </summary>
public sealed class NssTests
{
    [KernelTheory]
    [InlineData("tls1.2:tls1.2")]
    [InlineData("tls1.3:tls1.3")]
    public void TstclntAndSelfservAreCapturedWhole_WithTuples_AndNoFileIo(string versions)
    {
        using var peers = new NssPeers();
        var request = "GET /from-tstclnt HTTP/1.0\r\nX-Test: " + versions + "\r\n\r\n";
        using var scope = TlsScopeRun.Start("-v", "--keylog", "/dev/null");
        using var server = peers.StartServer(versions);
        var certutil = Proc.Start("certutil", ["-L", "-d", peers.Database]);
        Assert.True(certutil.WaitForExit(TimeSpan.FromSeconds(30)), "certutil did not end");
        Assert.Contains("server", certutil.Stdout);
        var (client, responseFile) = peers.StartClient(versions, request);
        using var _ = client;
        Assert.True(client.WaitForExit(TimeSpan.FromSeconds(30)), "tstclnt did not end: " + client.Stderr);
        var response = File.ReadAllText(responseFile);
        Assert.StartsWith("HTTP/1.0 200 OK", response);
        scope.StopCleanly();
        var got = scope.Records();

        // The client: its request once (stdin read whole, written once), the response it printed.
        Assert.Equal(request, Encoding.ASCII.GetString(got.Bytes(client.Pid, "write")));
        Assert.Equal(response, Encoding.ASCII.GetString(got.Bytes(client.Pid, "read")));
        // The server (selfserv echoes the request in its response): what it read and wrote.
        Assert.Equal(request, Encoding.ASCII.GetString(got.Bytes(server.Pid, "read")));
        Assert.Equal(response, Encoding.ASCII.GetString(got.Bytes(server.Pid, "write")));
        var mine = got.DataOf(client.Pid, "write").First();
        var theirs = got.DataOf(server.Pid, "read").First();
        Assert.Equal(NssPeers.Library, mine.GetProperty("library").GetString());
        Assert.Equal($"127.0.0.1:{peers.Port}", mine.GetProperty("remote").GetString());
        Assert.Equal(mine.GetProperty("local").GetString(), theirs.GetProperty("remote").GetString());
        Assert.True(mine.GetProperty("fd").GetInt32() >= 3);

        Assert.DoesNotContain(got.All, r => r.TryGetProperty("pid", out var pid) && pid.GetInt32() == certutil.Pid);
        Assert.Contains("nss: keys not available (NSS keeps its secrets as PKCS#11 objects", scope.Stderr);
    }
}
