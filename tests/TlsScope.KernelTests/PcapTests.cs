using System.Globalization;
using System.Text;
using TlsScope.KernelTests.Infrastructure;

namespace TlsScope.KernelTests;

/// <summary>
/// --pcapng and --pcapng-plaintext, proven by tshark. Every test runs in a network namespace of
/// its own: TC filters go on that namespace's loopback and vanish with it.
/// </summary>
public sealed class PcapTests
{
    private const int Port = 4433;

    [KernelTheory]
    [InlineData("-tls1_2")]
    [InlineData("-tls1_3")]
    public void TsharkDecryptsTheRequestWithTheKeysInsideThePcapng(string version)
    {
        using var ns = NetNs.Create();
        using var temp = new TempDirectory("tlsscope-pcap-");
        var dir = temp.Path;
        var (pcap, plain, keys) = (Path.Combine(dir, "c.pcapng"), Path.Combine(dir, "p.pcapng"), Path.Combine(dir, "k.log"));
        using var scope = TlsScopeRun.StartIn(ns, ["--format", "json", "--raw"], ["--pcapng", pcap, "--pcapng-plaintext", plain, "--keylog", keys]);
        var curl = Exchange(ns, version, "/pcap/path?x=1");
        scope.StopCleanly(Proc.SIGTERM);

        // No key file given: the Decryption Secrets Blocks are what decrypts.
        var rows = Tshark.Fields(pcap, "http.request", "http.request.uri", "frame.comment");
        var row = Assert.Single(rows);
        Assert.Equal("/pcap/path?x=1", row[0]);
        Assert.Contains($"pid={curl.Pid} comm=curl cmdline=curl -sk --http1.1 https://127.0.0.1:{Port}/pcap/path?x=1", row[1]);
        Assert.Equal(NoLeftovers, LeftFilters(ns));
        // No packet went out before its keys (they either came first or the packets waited for
        // them), none is missing or out of order, and each is there once (loopback is hooked on
        // one side only). A real retransmission (a tail-loss probe on a loaded host) is allowed:
        // it differs from its original in IP id and timestamp; a packet written twice would not.
        Assert.Matches(@"1 key sets; held until their keys: \d+ packets; written without keys: 0 packets of 0 TLS connections", scope.Stderr);
        Assert.Empty(Tshark.Fields(pcap, "tcp.analysis.lost_segment || tcp.analysis.ack_lost_segment || tcp.analysis.out_of_order", "frame.number"));
        var segments = Tshark.Fields(pcap, "tcp", "ip.id", "tcp.srcport", "tcp.seq_raw", "tcp.ack_raw", "tcp.len", "tcp.flags", "tcp.options.timestamp.tsval")
            .Select(s => string.Join(',', s)).ToList();
        Assert.True(segments.Count >= 10, $"{segments.Count} TCP segments");
        Assert.Equal(segments.Count, segments.Distinct().Count());
        // The same capture fed the key log too: one set, the DSB's lines.
        Assert.Equal(version == "-tls1_2" ? 1 : 5, File.ReadAllLines(keys).Length);

        // The plaintext capture of the same exchange: plain HTTP on the real 4-tuple, once, though
        // both ends were traced (whichever end was seen first is the one written).
        var prow = Assert.Single(Tshark.Fields(plain, "http.request", "http.request.uri", "tcp.dstport", "frame.comment"));
        Assert.Equal("/pcap/path?x=1", prow[0]);
        Assert.Equal(Port.ToString(CultureInfo.InvariantCulture), prow[1]);
        Assert.Matches($"pid=({curl.Pid} comm=curl|\\d+ comm=openssl)", prow[2]);
        Assert.Empty(Tshark.Fields(plain, "tcp.analysis.flags", "frame.number")); // no retransmission, no hole
        Assert.Single(Tshark.Fields(plain, "http.response", "http.response.code"));
    }

    [KernelFact]
    public void FilterExpressionKeepsOnlyMatchingPackets()
    {
        using var ns = NetNs.Create();
        using var temp = new TempDirectory("tlsscope-pcap-");
        var pcap = temp.File("f.pcapng");
        using var scope = TlsScopeRun.StartIn(ns, ["--format", "json", "--raw"], ["--pcapng", pcap, "--filter", $"tcp port {Port}"]);
        Exchange(ns, "-tls1_3", "/filtered");
        // Other traffic on the same interface: a UDP datagram and a TCP connection elsewhere.
        ns.Run("bash", "-c", "echo hi > /dev/udp/127.0.0.1/9999; (echo x > /dev/tcp/127.0.0.1/5555) 2>/dev/null; true");
        scope.StopCleanly(Proc.SIGTERM);

        Assert.Matches(@"\(([1-9]\d*) filtered out\)", scope.Stderr); // the other traffic was seen, and dropped
        var ports = Tshark.Fields(pcap, null, "tcp.srcport", "tcp.dstport", "udp.port");
        Assert.NotEmpty(ports);
        Assert.All(ports, p => Assert.Contains(Port.ToString(CultureInfo.InvariantCulture), p[0] + "," + p[1]));
        Assert.Single(Tshark.Fields(pcap, "http.request", "http.request.uri"));
    }

    /// <summary>--pid, --uid and --comm restrict packets in the kernel: none of another
    /// process's connection is kept.</summary>
    [KernelTheory]
    [InlineData("--pid")]
    [InlineData("--comm")]
    [InlineData("--uid")]
    public void ProcessFiltersDropOtherProcessesPacketsInTheKernel(string option)
    {
        using var ns = NetNs.Create();
        using var temp = new TempDirectory("tlsscope-pcap-");
        var pcap = temp.File("r.pcapng");
        using var sleeper = ns.Start("sleep", ["60"]);
        var value = option switch
        {
            "--pid" => sleeper.Pid.ToString(CultureInfo.InvariantCulture),
            "--comm" => "sleep",
            _ => "4242", // no process of the test runs as that user
        };
        using var scope = TlsScopeRun.StartIn(ns, ["--format", "json", "--raw"], ["--pcapng", pcap, option, value]);
        Exchange(ns, "-tls1_3", "/not-traced");
        scope.StopCleanly(Proc.SIGTERM);
        Assert.Empty(Tshark.Fields(pcap, null, "frame.number"));
        Assert.Matches(@"packets: 0 captured, [1-9]\d* not from traced processes", scope.Stderr); // the kernel kept none
        Assert.Contains("pcapng: 0 packets written", scope.Stderr);
    }

    /// <summary>The other side of the restriction: with --comm curl, curl's connection is kept
    /// (every packet but its SYN, whose port is not known yet when the socket gets an owner),
    /// each packet naming curl, and it decrypts.</summary>
    [KernelFact]
    public void CommKeepsThatProcesssPacketsAndNamesItInEach()
    {
        using var ns = NetNs.Create();
        using var temp = new TempDirectory("tlsscope-pcap-");
        var pcap = temp.File("c.pcapng");
        using var scope = TlsScopeRun.StartIn(ns, ["--format", "json", "--raw"], ["--pcapng", pcap, "--comm", "curl"]);
        var curl = Exchange(ns, "-tls1_3", "/kept");
        scope.StopCleanly(Proc.SIGTERM);
        Assert.Equal(["/kept"], Tshark.Fields(pcap, "http.request", "http.request.uri").Select(r => r[0]));
        var comments = Tshark.Comments(pcap);
        Assert.True(comments.Count >= 8, $"{comments.Count} packets");
        Assert.All(comments, c => Assert.StartsWith($"pid={curl.Pid} comm=curl", c, StringComparison.Ordinal));
        Assert.Empty(Tshark.Fields(pcap, "tcp.flags.syn == 1 && tcp.flags.ack == 0", "frame.number"));
    }

    /// <summary>Two captures cannot share a hook: the second is refused, naming the first,
    /// before it creates its file, and the first goes on.</summary>
    [KernelFact]
    public void ASecondRunOnAHeldHookIsRefused()
    {
        using var ns = NetNs.Create();
        using var temp = new TempDirectory("tlsscope-pcap-");
        var dir = temp.Path;
        using var first = TlsScopeRun.StartIn(ns, ["--format", "json", "--raw"], ["--pcapng", Path.Combine(dir, "a.pcapng"), "-i", "lo"]);
        var (code, _, err) = ns.Run("dotnet", TlsScopeRun.Dll, "--pcapng", Path.Combine(dir, "b.pcapng"), "-i", "lo", "--duration", "1");
        Assert.Equal(1, code);
        Assert.Equal($"tlsscope: another TlsScope (pid {first.Pid}) captures packets on interface 1; stop it first", err.Trim());
        Assert.False(File.Exists(Path.Combine(dir, "b.pcapng")));
        Assert.Single(ns.TcFilters("lo", "egress"));
        first.StopCleanly(Proc.SIGTERM);
    }

    [KernelFact]
    public void BadFilterIsOneLineError()
    {
        using var temp = new TempDirectory("tlsscope-bad-");
        var never = temp.File("never.pcapng");
        var (code, err) = TlsScopeRun.RunToEnd("--pcapng", never, "-o", never + ".out", "--filter", "tcp prot 443", "--duration", "1");
        Assert.NotEqual(0, code);
        var line = Assert.Single(err.Trim().Split('\n'));
        Assert.StartsWith("tlsscope: --filter 'tcp prot 443':", line);
        Assert.False(File.Exists(never)); // refused before any output file was created
        Assert.False(File.Exists(never + ".out"));
    }

    [KernelFact]
    public void UnknownInterfaceIsOneLineError()
    {
        using var temp = new TempDirectory("tlsscope-bad-");
        var never = temp.File("never.pcapng");
        var (code, err) = TlsScopeRun.RunToEnd("--pcapng", never, "-i", "nosuch0", "--duration", "1");
        Assert.NotEqual(0, code);
        Assert.Equal("tlsscope: -i nosuch0: no such network interface", err.Trim());
        Assert.False(File.Exists(never));
    }

    /// <summary>A TC filter outlives its process: after SIGKILL it is still there, and the next
    /// run removes it; that run's own filters go on SIGTERM.</summary>
    [KernelFact]
    public void FiltersOfAKilledRunAreRemovedByTheNext()
    {
        using var ns = NetNs.Create();
        var veth = ns.AddVeth(peerInside: true);
        using var temp = new TempDirectory("tlsscope-pcap-");
        var dir = temp.Path;
        using (var killed = TlsScopeRun.StartIn(ns, ["--format", "json", "--raw"], ["--pcapng", Path.Combine(dir, "a.pcapng")]))
        {
            Assert.NotEmpty(ns.TcFilters("lo", "egress"));
            Assert.Empty(ns.TcFilters("lo", "ingress")); // loopback: one side only, each packet once
            Assert.NotEmpty(ns.TcFilters(veth.Name, "ingress"));
            Assert.NotEmpty(ns.TcFilters(veth.Name, "egress"));
            killed.Signal(Proc.SIGKILL);
            Assert.True(SpinWait.SpinUntil(() => killed.HasExited, TimeSpan.FromSeconds(10)));
        }
        Assert.NotEmpty(ns.TcFilters("lo", "egress")); // left behind by the kill

        using var next = TlsScopeRun.StartIn(ns, ["--format", "json", "--raw"], ["--pcapng", Path.Combine(dir, "b.pcapng"), "-i", "lo"]);
        // lo's egress, and both directions of both ends of the pair
        Assert.Contains("removed 5 TC filter(s) left by a killed run", next.Stderr);
        Assert.Empty(ns.TcFilters(veth.Name, "ingress"));
        Assert.Empty(ns.TcFilters(veth.PeerName, "egress"));
        Assert.Single(ns.TcFilters("lo", "egress"));
        next.StopCleanly(Proc.SIGTERM);
        Assert.Equal(NoLeftovers, LeftFilters(ns, veth.Name, veth.PeerName));
    }

    private static readonly string NoLeftovers = "";

    /// <summary>Every filter still on the namespace's interfaces, one per line ("" when none).</summary>
    private static string LeftFilters(NetNs ns, params string[] extra)
    {
        var sb = new StringBuilder();
        foreach (var dev in extra.Prepend("lo"))
        {
            foreach (var dir in new[] { "ingress", "egress" })
            {
                foreach (var f in ns.TcFilters(dev, dir))
                {
                    sb.Append(dev).Append(' ').Append(dir).Append(' ').Append(f).Append('\n');
                }
            }
        }

        return sb.ToString();
    }

    /// <summary>curl → openssl s_server (plain mode: it calls SSL_read/SSL_write itself) inside
    /// the namespace; returns the finished curl.</summary>
    private static Proc Exchange(NetNs ns, string version, string path)
    {
        using var server = ns.Start("openssl", ["s_server", "-accept", $"127.0.0.1:{Port}", "-cert", TestCert.CertPath,
            "-key", TestCert.KeyPath, "-quiet", "-naccept", "1", version], redirectStdin: true);
        ns.WaitListening(Port);
        var curl = ns.Start("curl", ["-sk", "--http1.1", $"https://127.0.0.1:{Port}{path}"]);
        Proc.WaitFor(() => server.Stdout.Contains("\n\n", StringComparison.Ordinal), TimeSpan.FromSeconds(20), "the request at s_server");
        var stdin = server.Process.StandardInput.BaseStream;
        stdin.Write("HTTP/1.0 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"u8);
        stdin.Flush();
        Assert.True(curl.WaitForExit(TimeSpan.FromSeconds(20)), curl.Stderr);
        Assert.Equal("ok\n", curl.Stdout);
        Thread.Sleep(200); // the last ACKs and FINs reach the capture
        return curl;
    }
}
