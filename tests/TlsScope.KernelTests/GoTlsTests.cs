using System.Globalization;
using System.Text;
using System.Text.Json;
using TlsScope.KernelTests.Infrastructure;

namespace TlsScope.KernelTests;

/// <summary>
/// Go crypto/tls, proven with real Go programs (tests/TlsScope.KernelTests/Peers/go) built by four
/// toolchains (1.15: the stack ABI; 1.19; 1.23; 1.26: textStart 0) in five ways each (default,
/// stripped, PIE, PIE + stripped, external linking). Each test asserts the side it means: the
/// client's pid and the server's pid separately, with each one's own direction and tuple.
/// </summary>
public sealed class GoTlsTests
{
    private const string Request = "GET /hello HTTP/1.1\r\nHost: go.test\r\nX-Probe: go-matrix\r\nConnection: close\r\n\r\n";

    [KernelTheory]
    [MemberData(nameof(GoPeers.Matrix), MemberType = typeof(GoPeers))]
    public void ClientAndServerAreCapturedByteExactWithFdAndTuple(string version, string variant)
    {
        var binary = GoPeers.Binary(version, variant);
        using var server = GoServer.Start(binary);
        using var scope = TlsScopeRun.Start("--binary", binary, "--comm", "gopeer");
        var raw = GoPeers.RunRaw(binary, server.Port, Request); // exits as soon as it has the reply
        Assert.Equal(0, raw.ExitCode);
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", raw.ReceivedText);
        Assert.EndsWith(GoServer.HelloBody, raw.ReceivedText);
        StopClean(scope);
        var got = scope.Records();

        // The client: what it wrote and read, on its own socket, seen from its side.
        Assert.Equal(Request, Encoding.ASCII.GetString(got.Bytes(raw.Pid, "write")));
        Assert.Equal(raw.Received, got.Bytes(raw.Pid, "read"));
        AssertOneSocket(got, raw.Pid, local: raw.Local, remote: raw.Remote);
        // The server: the same bytes the other way round, on the accepted socket.
        Assert.Equal(Request, Encoding.ASCII.GetString(got.Bytes(server.Pid, "read")));
        Assert.Equal(raw.Received, got.Bytes(server.Pid, "write"));
        AssertOneSocket(got, server.Pid, local: raw.Remote, remote: raw.Local);
        Assert.DoesNotContain(got.Data, r => r.GetProperty("pid").GetInt32() != raw.Pid && r.GetProperty("pid").GetInt32() != server.Pid);
    }

    [KernelFact]
    public void Http2BetweenAGoClientAndAGoServerDecodesOnBothSides()
    {
        var binary = GoPeers.Default;
        using var server = GoServer.Start(binary, h2: true);
        using var scope = TlsScopeRun.StartHttp("--comm", "gopeer");
        var body = "{\"hello\":\"from a go client\"}";
        var client = GoPeers.RunClient(binary, server.Url("/echo?x=1"), new GoClientOptions
        {
            Method = "POST",
            Body = body,
            Headers = ["X-Custom: go-h2"],
            Http2 = true,
        });
        Assert.Equal(0, client.ExitCode);
        Assert.Equal("HTTP/2.0", client.Single.Proto);
        StopClean(scope);
        var records = scope.Records();
        var exchanges = records.OfType("http_exchange").ToList();

        var mine = Assert.Single(exchanges, e => e.GetProperty("pid").GetInt32() == client.Pid);
        var theirs = Assert.Single(exchanges, e => e.GetProperty("pid").GetInt32() == server.Pid);
        Assert.Equal("client", Side(mine));
        Assert.Equal("server", Side(theirs));
        foreach (var (e, pid) in new[] { (mine, client.Pid), (theirs, server.Pid) })
        {
            Assert.Equal("HTTP/2", e.GetProperty("version").GetString());
            Assert.Equal("POST", e.GetProperty("method").GetString());
            Assert.EndsWith("/echo?x=1", e.GetProperty("url").GetString());
            Assert.Equal(200, e.GetProperty("status").GetInt32());
            Assert.True(e.GetProperty("complete").GetBoolean());
            var request = Assert.Single(records.OfType("http_request"), r => r.GetProperty("pid").GetInt32() == pid);
            Assert.Equal("go-h2", Header(request, "x-custom"));
            Assert.Equal(body, Encoding.UTF8.GetString(request.GetProperty("body").GetBytesFromBase64()));
            var response = Assert.Single(records.OfType("http_response"), r => r.GetProperty("pid").GetInt32() == pid);
            Assert.Equal(body, Encoding.UTF8.GetString(response.GetProperty("body").GetBytesFromBase64()));
            Assert.Equal(body.Length.ToString(CultureInfo.InvariantCulture), Header(response, "x-echo-len"));
        }

        Assert.Equal($"127.0.0.1:{server.Port}", mine.GetProperty("remote").GetString());
        Assert.Equal(mine.GetProperty("local").GetString(), theirs.GetProperty("remote").GetString());
    }

    /// <summary>Three requests of one Go client on one HTTP/2 connection: the later ones' headers are
    /// HPACK indexes into the table the first one filled, on each side's own connection state.</summary>
    [KernelFact]
    public void Http2HeadersStayDecodedAcrossTheRequestsOfOneConnection()
    {
        var binary = GoPeers.Binary("1.19", "pie-stripped");
        using var server = GoServer.Start(binary, h2: true);
        using var scope = TlsScopeRun.StartHttp("--comm", "gopeer");
        var client = GoPeers.RunClient(binary, server.Url("/hello?n=3"), new GoClientOptions
        {
            Headers = ["X-Custom: same-every-time"],
            Http2 = true,
            Count = 3,
        });
        Assert.Equal((3, 3, 0), (client.Done, client.Ok, client.Bad));
        StopClean(scope);
        var records = scope.Records();

        foreach (var (pid, side) in new[] { (client.Pid, "client"), (server.Pid, "server") })
        {
            var exchanges = records.OfType("http_exchange").Where(e => e.GetProperty("pid").GetInt32() == pid).ToList();
            Assert.Equal(3, exchanges.Count);
            Assert.All(exchanges, e => Assert.Equal(side, Side(e)));
            Assert.Equal([1, 3, 5], exchanges.Select(e => e.GetProperty("stream").GetInt32()));
            Assert.Single(exchanges.Select(e => e.GetProperty("conn").GetUInt64()).Distinct());
            var requests = records.OfType("http_request").Where(r => r.GetProperty("pid").GetInt32() == pid).ToList();
            Assert.Equal(3, requests.Count);
            Assert.All(requests, r => Assert.Equal("same-every-time", Header(r, "x-custom")));
            Assert.True(requests[2].GetProperty("wire_size").GetInt64() < requests[0].GetProperty("wire_size").GetInt64(),
                "the third request's headers should be table indexes");
            var bodies = records.OfType("http_response").Where(r => r.GetProperty("pid").GetInt32() == pid)
                .Select(r => Encoding.ASCII.GetString(r.GetProperty("body").GetBytesFromBase64()));
            Assert.All(bodies, b => Assert.Equal(GoServer.HelloBody, b));
        }
    }

    [KernelTheory]
    [InlineData("1.26", TlsVersion.Tls12)]
    [InlineData("1.26", TlsVersion.Tls13)]
    [InlineData("1.15", TlsVersion.Tls12)] // the stack ABI's writeKeyLog arguments
    [InlineData("1.15", TlsVersion.Tls13)]
    public void KeylogEqualsTheGoClientsOwnAndTsharkDecryptsThePcapng(string version, TlsVersion tls)
    {
        var binary = GoPeers.Binary(version, "stripped");
        using var ns = NetNs.Create();
        using var dir = new TempDirectory("tlsscope-go-keys-");
        var (ours, theirs, pcap) = (dir.File("ours.log"), dir.File("go.log"), dir.File("c.pcapng"));
        using var server = GoServer.Start(binary, ns: ns);
        using var scope = TlsScopeRun.StartIn(ns, ["--format", "json", "--raw"], ["--keylog", ours, "--pcapng", pcap, "--comm", "gopeer"]);
        var client = GoPeers.RunClient(binary, server.Url("/hello?keys=1"), new GoClientOptions { Tls = tls, Keylog = theirs }, ns);
        Assert.Equal(0, client.ExitCode);
        StopClean(scope, Proc.SIGTERM);

        var expected = File.ReadAllLines(theirs).Where(l => l.Length > 0).ToList();
        Assert.Equal(tls == TlsVersion.Tls12 ? 1 : 4, expected.Count);
        Assert.StartsWith(tls == TlsVersion.Tls12 ? "CLIENT_RANDOM " : "CLIENT_HANDSHAKE_TRAFFIC_SECRET ", expected[0]);
        // Both ends were traced: the handshake's set is written once, in Go's own order.
        Assert.Equal(expected, File.ReadAllLines(ours).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList());
        Assert.Contains("keys: 1 handshakes (1 seen again", scope.Stderr); // the server's copy of the same set

        var uris = Tshark.Fields(pcap, "http.request", "http.request.uri");
        Assert.Equal("/hello?keys=1", Assert.Single(uris)[0]);
    }

    [KernelFact]
    public void AConnectionOpenedBeforeTlsScopeStartedGetsItsTrueTuple()
    {
        var binary = GoPeers.Binary(GoPeers.Versions[^1], "stripped");
        using var server = GoServer.Start(binary);
        using var early = GoPeers.StartRaw(binary, server.Port, Request);
        using var scope = TlsScopeRun.Start("--comm", "gopeer");
        early.Send();
        AssertClientCaptured(scope, early.Finish());
    }

    /// <summary>TLS over a net.Conn that is not a *net.TCPConn (a proxy dialer's wrapper): no netFD to
    /// follow, so each call's socket comes from the syscalls its goroutine makes, whichever thread
    /// it runs on; both ABIs.</summary>
    [KernelTheory]
    [InlineData("1.15")]
    [InlineData("1.19")]
    [InlineData("1.26")]
    public void AWrappedConnectionGetsItsTupleFromTheGoroutinesSyscalls(string version)
    {
        var binary = GoPeers.Binary(version, "stripped");
        using var server = GoServer.Start(binary);
        using var scope = TlsScopeRun.Start("--binary", binary, "--comm", "gopeer");
        AssertClientCaptured(scope, GoPeers.RunRaw(binary, server.Port, Request, wrap: true));
    }

    /// <summary>A Go program started after TlsScope is found at its exec (no --binary), and a
    /// goroutine whose stack grows by tens of kilobytes per request, on a server under concurrent
    /// load, neither crashes nor answers differently; every request is counted on both sides.</summary>
    [KernelTheory]
    [InlineData("1.15")]
    [InlineData("1.26")]
    public void AServerWhoseHandlersGrowTheirStacksUnderLoadIsUnharmedAndFullyCounted(string version)
    {
        const int Requests = 300;
        var binary = GoPeers.Binary(version, "pie-stripped");
        using var scope = TlsScopeRun.StartHttp("--comm", "gopeer");
        using var server = GoServer.Start(binary);
        var client = GoPeers.RunClient(binary, server.Url("/deep?n=400&id=7"), new GoClientOptions { Count = Requests, Concurrency = 8 },
            timeout: TimeSpan.FromMinutes(2));
        Assert.Equal(0, client.ExitCode);
        Assert.Equal((Requests, Requests, 0), (client.Done, client.Ok, client.Bad));
        Assert.False(server.HasExited, "the traced server died: " + server.Stderr);
        var again = GoPeers.RunClient(binary, server.Url("/hello"));
        Assert.Equal(GoServer.HelloBody, again.Single.Body);
        StopClean(scope);

        var records = scope.Records();
        // Go's client reads on its own goroutine: a response can be back before the request's Write
        // returns, so its chunk comes first; it must still pair with its request.
        var orphans = records.OfType("http_exchange").Where(e => e.GetProperty("url").GetString() is null).ToList();
        Assert.True(orphans.Count == 0, "exchanges without a request: " + string.Join("\n", orphans.Select(o => o.GetRawText())));
        var exchanges = records.OfType("http_exchange").Where(e => e.GetProperty("url").GetString()!.EndsWith("/deep?n=400&id=7")).ToList();
        Assert.Equal(Requests, exchanges.Count(e => e.GetProperty("pid").GetInt32() == client.Pid && Side(e) == "client"));
        Assert.Equal(Requests, exchanges.Count(e => e.GetProperty("pid").GetInt32() == server.Pid && Side(e) == "server"));
        var bodies = records.OfType("http_response").Where(r => r.GetProperty("pid").GetInt32() == client.Pid)
            .Select(r => Encoding.ASCII.GetString(r.GetProperty("body").GetBytesFromBase64())).ToList();
        Assert.Equal(Requests, bodies.Count);
        Assert.Equal(Requests, bodies.Count(b => b.StartsWith(GoServer.DeepPrefix(400, 7), StringComparison.Ordinal)));
    }

    /// <summary>A Go program in a directory the start-up index covers (/opt), started after
    /// TlsScope: the index must leave it unseen, so that its exec is held and attached.</summary>
    [KernelFact]
    public void AGoProgramInAnIndexedDirectoryStartedLaterIsCaptured()
    {
        var dir = Path.Combine("/opt", "tlsscope-test-" + Guid.NewGuid().ToString("n")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            var binary = Path.Combine(dir, "gopeer");
            File.Copy(GoPeers.Binary("1.23", "pie-stripped"), binary);
            File.SetUnixFileMode(binary, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            using var scope = TlsScopeRun.Start("--comm", "gopeer", "-v"); // -v: says when the index is done
            Proc.WaitFor(() => scope.Stderr.Contains("tlsscope: index:") || scope.HasExited, TimeSpan.FromSeconds(60), "the index");
            using var server = GoServer.Start(binary);
            AssertClientCaptured(scope, GoPeers.RunRaw(binary, server.Port, Request));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [KernelFact]
    public void AGoBinaryWithoutCryptoTlsIsRefusedWithItsReason()
    {
        using var dir = new TempDirectory("tlsscope-go-notls-");
        var source = dir.File("main.go");
        File.WriteAllText(source, "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"no tls here\") }\n");
        var binary = dir.File("notls");
        GoPeers.BuildSingle(GoPeers.Versions[^1], source, binary);

        var (code, stderr) = TlsScopeRun.RunToEnd("--binary", binary);
        Assert.Equal(1, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Matches(@"^tlsscope: --binary .*/notls: a Go binary \(go1\.26\.\d+\) without crypto/tls's crypto/tls\.\(\*Conn\)\.Read", line);
    }

    /// <summary>Stops the run; anything but a clean exit (3: something was lost) fails with its summary.</summary>
    private static void StopClean(TlsScopeRun scope, int signal = Proc.SIGINT)
    {
        var code = scope.Stop(signal);
        Assert.True(code == 0, $"tlsscope exited {code}: {scope.Stderr}");
    }

    /// <summary>Stops the run; the raw client's request and reply are captured whole, on its socket.</summary>
    private static void AssertClientCaptured(TlsScopeRun scope, GoRawRun raw)
    {
        Assert.Equal(0, raw.ExitCode);
        StopClean(scope);
        var got = scope.Records();
        Assert.Equal(Request, Encoding.ASCII.GetString(got.Bytes(raw.Pid, "write")));
        Assert.Equal(raw.Received, got.Bytes(raw.Pid, "read"));
        AssertOneSocket(got, raw.Pid, local: raw.Local, remote: raw.Remote);
    }

    private static void AssertOneSocket(Captured got, int pid, string local, string remote)
    {
        var records = got.Data.Where(r => r.GetProperty("pid").GetInt32() == pid).ToList();
        Assert.NotEmpty(records);
        Assert.All(records, r =>
        {
            Assert.Equal("gopeer", r.GetProperty("comm").GetString());
            Assert.Equal("gopeer", r.GetProperty("library").GetString());
            Assert.Equal(local, r.GetProperty("local").GetString());
            Assert.Equal(remote, r.GetProperty("remote").GetString());
        });
        var fd = Assert.Single(records.Select(r => r.GetProperty("fd").GetInt32()).Distinct());
        Assert.True(fd >= 3, $"fd {fd}");
        Assert.Single(records.Select(r => r.GetProperty("conn").GetUInt64()).Distinct());
    }

    private static string? Side(JsonElement e) => e.GetProperty("side").GetString();

    private static string? Header(JsonElement message, string name) =>
        message.GetProperty("headers").EnumerateArray()
            .Where(h => string.Equals(h[0].GetString(), name, StringComparison.OrdinalIgnoreCase))
            .Select(h => h[1].GetString()).FirstOrDefault();
}
