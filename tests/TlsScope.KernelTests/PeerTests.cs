using System.Text.RegularExpressions;
using TlsScope.KernelTests.Infrastructure;

namespace TlsScope.KernelTests;

/// <summary>
/// The test peers and helpers the key log and pcapng tests drive, proven without TlsScope: the
/// BoringSSL client, the clients' own key logs, network namespaces and tshark.
/// </summary>
public sealed partial class PeerTests
{
    private static readonly string[] Tls13Labels =
        ["CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"];

    [Theory]
    [InlineData(TlsVersion.Tls12, "-tls1_2", "TLSv1.2")]
    [InlineData(TlsVersion.Tls13, "-tls1_3", "TLSv1.3")]
    public void BoringClientTalksToSServerAndLogsItsKeys(TlsVersion version, string serverFlag, string negotiated)
    {
        using var server = OpenSslServer.Start(serverFlag);
        var dir = Directory.CreateTempSubdirectory("tlsscope-peer-").FullName;
        var keylog = Path.Combine(dir, "keys.log");
        using var client = BoringClient.Start("127.0.0.1", server.Port, "/boring", version, keylog);
        server.WaitForRequest();
        Assert.StartsWith("GET /boring HTTP/1.1\nHost: 127.0.0.1:", server.Received);
        server.Send("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello\n");
        Assert.True(client.WaitForExit(TimeSpan.FromSeconds(20)), "boring_client did not finish: " + client.Stderr);
        Assert.Equal(0, client.Process.ExitCode);
        Assert.Equal("HTTP/1.1 200 OK\nContent-Length: 6\n\nhello\n", client.Stdout);
        Assert.Contains($"boring_client: {negotiated} ", client.Stderr);
        AssertKeylog(version, KeylogClients.ReadKeylog(keylog));
        Directory.Delete(dir, recursive: true);
    }

    public static TheoryData<string, TlsVersion> Clients() => new()
    {
        { "curl", TlsVersion.Tls12 }, { "curl", TlsVersion.Tls13 },
        { "python", TlsVersion.Tls12 }, { "python", TlsVersion.Tls13 },
        { "node", TlsVersion.Tls12 }, { "node", TlsVersion.Tls13 },
        { "boring", TlsVersion.Tls12 }, { "boring", TlsVersion.Tls13 },
    };

    [Theory]
    [MemberData(nameof(Clients))]
    public void ClientsSendTwoRequestsOnOneConnectionAndReturnTheirOwnKeyLog(string client, TlsVersion version)
    {
        using var server = NodeHttpServer.Start();
        var run = client switch
        {
            "curl" => KeylogClients.Curl(server.Port, "/keys", version, count: 2),
            "python" => KeylogClients.Python(server.Port, "/keys", version, count: 2),
            "node" => KeylogClients.Node(server.Port, "/keys", version, count: 2),
            _ => BoringClient.Run(server.Port, "/keys", version, count: 2),
        };
        Assert.Equal(2, Regex.Count(run.Stdout, "hello /keys\n"));
        if (client == "python")
        {
            Assert.Contains($"pid={run.Pid}\n", run.Stderr); // the pid returned is python's own
        }

        AssertKeylog(version, run.Lines);
    }

    /// <summary>One connection's lines: for TLS 1.2 one CLIENT_RANDOM, for 1.3 the four traffic
    /// secrets (and what else the library adds), all of one client random.</summary>
    private static void AssertKeylog(TlsVersion version, IReadOnlyList<string> lines)
    {
        Assert.All(lines, l => Assert.Matches(KeyLine(), l));
        Assert.Single(lines.Select(l => l.Split(' ')[1]).Distinct());
        var labels = lines.Select(l => l.Split(' ')[0]).ToList();
        if (version == TlsVersion.Tls12)
        {
            Assert.Equal(["CLIENT_RANDOM"], labels);
        }
        else
        {
            Assert.Subset(labels.ToHashSet(), Tls13Labels.ToHashSet());
        }
    }

    [GeneratedRegex("^[A-Z_0-9]+ [0-9a-f]{64} [0-9a-f]{64,96}$")]
    private static partial Regex KeyLine();

    [KernelFact]
    public void NetNsRunsAServerOnItsOwnLoopbackAndDisposeRemovesIt()
    {
        var dir = WebRoot();
        var port = Ports.Free();
        string name;
        int serverPid;
        using (var ns = NetNs.Create())
        {
            name = ns.Name;
            Assert.Contains(name, NetNs.List());
            Assert.Contains("UP", ns.Check("ip", "-br", "link", "show", "lo"));
            var server = StartHttpServer(ns, "127.0.0.1", port, dir);
            serverPid = server.Pid;
            Assert.Equal("inside\n", ns.Check("curl", "-s", $"http://127.0.0.1:{port}/hello.txt"));
            // The pid is the server's own (ip netns exec execs), and the host sees no such listener.
            Assert.Contains("http.server", File.ReadAllText($"/proc/{server.Pid}/cmdline"));
            Assert.NotEqual(0, Proc.Run("curl", ["-s", "-o", "/dev/null", "--max-time", "5", $"http://127.0.0.1:{port}/"]).Code);
        }
        Assert.DoesNotContain(name, NetNs.List());
        Assert.False(Directory.Exists($"/proc/{serverPid}"), "the server inside outlived the namespace");
        Directory.Delete(dir, recursive: true);
    }

    [KernelFact]
    public void DeleteStaleRemovesOnlyNamespacesWhoseOwnerIsGone()
    {
        using var live = NetNs.Create();
        using var gone = Proc.Start("true", []);
        gone.WaitForExit(TimeSpan.FromSeconds(10));
        var stale = $"tscope-{gone.Pid}-0stale";
        Assert.Equal(0, Proc.Run("ip", ["netns", "add", stale]).Code);
        Assert.Contains(stale, NetNs.DeleteStale());
        Assert.DoesNotContain(stale, NetNs.List());
        Assert.Contains(live.Name, NetNs.List());
    }

    [KernelFact]
    public void VethToTheHostCarriesTrafficAndTcFiltersAreListed()
    {
        var dir = WebRoot();
        using var ns = NetNs.Create();
        var veth = ns.AddVeth();
        using var server = StartHttpServer(ns, veth.Address, 8000, dir);
        var (code, output, err) = Proc.Run("curl", ["-s", "--max-time", "10", $"http://{veth.Address}:8000/hello.txt"]);
        Assert.True(code == 0, err);
        Assert.Equal("inside\n", output);

        Assert.False(ns.HasClsact(veth.Name));
        Assert.Empty(ns.TcFilters(veth.Name, "egress"));
        var obj = CompileTcProgram(dir);
        ns.Check("tc", "qdisc", "add", "dev", veth.Name, "clsact");
        ns.Check("tc", "filter", "add", "dev", veth.Name, "egress", "bpf", "da", "obj", obj, "sec", "tc");
        Assert.True(ns.HasClsact(veth.Name));
        Assert.Empty(ns.TcFilters(veth.Name, "ingress"));
        var filter = Assert.Single(ns.TcFilters(veth.Name, "egress"));
        Assert.Equal(("bpf", "all", "tscope_probe", true), (filter.Kind, filter.Protocol, filter.ProgramName, filter.DirectAction));
        Assert.True(filter.ProgramId > 0);

        var both = ns.AddVeth(peerInside: true);
        var links = ns.Check("ip", "-br", "addr");
        Assert.Contains(both.Name, links);
        Assert.Contains(both.PeerAddress + "/24", links);
        Directory.Delete(dir, recursive: true);
    }

    [KernelFact]
    public void TsharkReadsTheUriOfATcpdumpCaptureAndFrameComments()
    {
        var dir = WebRoot();
        using var ns = NetNs.Create();
        using var server = StartHttpServer(ns, "127.0.0.1", 8000, dir);
        var pcap = Path.Combine(dir, "lo.pcap");
        using (var dump = StartTcpdump(ns, pcap, "tcp port 8000"))
        {
            ns.Check("curl", "-s", "-o", "/dev/null", "http://127.0.0.1:8000/tshark-uri?x=1");
            StopTcpdump(dump);
        }
        Assert.Equal([["/tshark-uri?x=1", "GET"]], Tshark.Fields(pcap, "http.request", "http.request.uri", "http.request.method"));

        var commented = Path.Combine(dir, "commented.pcapng");
        Assert.Equal(0, Proc.Run("editcap", ["-F", "pcapng", "-a", "1:first frame", pcap, commented]).Code);
        var comments = Tshark.Comments(commented);
        Assert.Equal("first frame", comments[0]);
        Assert.All(comments.Skip(1), c => Assert.Equal("", c));
        Directory.Delete(dir, recursive: true);
    }

    [KernelFact]
    public void BoringKeyLogDecryptsATcpdumpCaptureInTshark()
    {
        var dir = WebRoot();
        using var ns = NetNs.Create();
        foreach (var (version, flag) in new[] { (TlsVersion.Tls12, "-tls1_2"), (TlsVersion.Tls13, "-tls1_3") })
        {
            using var server = ns.Start("openssl", ["s_server", "-accept", "127.0.0.1:4433", "-cert", TestCert.CertPath,
                "-key", TestCert.KeyPath, "-www", "-naccept", "1", flag]);
            ns.WaitListening(4433);
            var pcap = Path.Combine(dir, $"{version}.pcap");
            KeylogRun run;
            using (var dump = StartTcpdump(ns, pcap, "tcp port 4433"))
            {
                run = BoringClient.Run(4433, "/decrypt-me", version, ns: ns);
                StopTcpdump(dump);
            }
            Assert.Contains("HTTP/1.0 200 ok", run.Stdout);
            var keys = Path.Combine(dir, $"{version}.keys");
            File.WriteAllLines(keys, run.Lines);
            Assert.Empty(Tshark.Fields(pcap, "http.request", "http.request.uri"));
            Assert.Equal([["/decrypt-me"]], Tshark.FieldsWithKeylog(pcap, keys, "http.request", "http.request.uri"));
        }
        Directory.Delete(dir, recursive: true);
    }

    /// <summary>A directory with hello.txt ("inside\n") for python's http.server.</summary>
    private static string WebRoot()
    {
        var dir = Directory.CreateTempSubdirectory("tlsscope-peer-").FullName;
        File.WriteAllText(Path.Combine(dir, "hello.txt"), "inside\n");
        return dir;
    }

    private static Proc StartHttpServer(NetNs ns, string address, int port, string dir)
    {
        var server = ns.Start("python3", ["-m", "http.server", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--bind", address, "--directory", dir]);
        ns.WaitListening(port);
        return server;
    }

    private static Proc StartTcpdump(NetNs ns, string file, string filter)
    {
        Tools.Require("tcpdump", "tcpdump");
        var dump = ns.Start("tcpdump", ["-i", "lo", "--immediate-mode", "-U", "-w", file, filter]);
        Proc.WaitFor(() => dump.Stderr.Contains("listening on lo") || dump.Process.HasExited, TimeSpan.FromSeconds(10), "tcpdump listening");
        Assert.False(dump.Process.HasExited, dump.Stderr);
        return dump;
    }

    /// <summary>SIGINT makes tcpdump exit; immediate mode and -U made it write each packet as it
    /// came (without them what sits in the capture ring at SIGINT is lost).</summary>
    private static void StopTcpdump(Proc dump)
    {
        dump.Signal(Proc.SIGINT);
        Assert.True(dump.WaitForExit(TimeSpan.FromSeconds(10)), "tcpdump did not stop: " + dump.Stderr);
    }

    /// <summary>The smallest TC program (returns TC_ACT_OK), without kernel headers.</summary>
    private static string CompileTcProgram(string dir)
    {
        var source = Path.Combine(dir, "probe.c");
        var obj = Path.Combine(dir, "probe.o");
        File.WriteAllText(source, """
            __attribute__((section("tc"), used)) int tscope_probe(void *skb) { return 0; }
            char LICENSE[] __attribute__((section("license"), used)) = "GPL";
            """);
        var (code, _, err) = Proc.Run("clang", ["-O2", "-target", "bpf", "-c", source, "-o", obj]);
        Assert.True(code == 0, err);
        return obj;
    }
}
