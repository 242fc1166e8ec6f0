using TlsScope.KernelTests.Infrastructure;

namespace TlsScope.KernelTests;

/// <summary>
/// --keylog against the libraries' own key logs: the lines TlsScope reads from the process's
/// memory must equal, byte for byte, what the library's key log callback wrote for the same
/// connection.
/// </summary>
public sealed class KeyTests
{
    [KernelTheory]
    [InlineData(TlsVersion.Tls12)]
    [InlineData(TlsVersion.Tls13)]
    public void CurlKeysEqualItsSslKeyLogFile(TlsVersion version)
    {
        using var server = NodeHttpServer.Start();
        using var scope = KeylogScope.Start("--comm", "curl");
        var curl = KeylogClients.Curl(server.Port, "/k", version, count: 2);
        Assert.Equal("hello /k\nhello /k\n", curl.Stdout);
        AssertSameLines(curl.Lines, scope.Lines(curl.Lines.Count), version);
        Assert.Equal(0, scope.Run.Stop(Proc.SIGTERM));
        Assert.Contains("tlsscope: keys: 1 handshakes", scope.Run.Stderr);
    }

    [KernelTheory]
    [InlineData(TlsVersion.Tls12)]
    [InlineData(TlsVersion.Tls13)]
    public void PythonKeysEqualItsKeylogFilename(TlsVersion version)
    {
        using var server = NodeHttpServer.Start();
        using var scope = KeylogScope.Start("--comm", "python3");
        var py = KeylogClients.Python(server.Port, "/py", version);
        AssertSameLines(py.Lines, scope.Lines(py.Lines.Count), version);
        Assert.Equal(0, scope.Run.Stop(Proc.SIGTERM));
    }

    /// <summary>node links OpenSSL into its executable: no library to calibrate with, so the
    /// layout comes from the table of known versions. Client and server are both node here:
    /// one handshake seen from both ends must give one set of lines.</summary>
    [KernelTheory]
    [InlineData(TlsVersion.Tls12)]
    [InlineData(TlsVersion.Tls13)]
    public void NodeKeysEqualItsTlsKeylogAndBothEndsGiveOneSet(TlsVersion version)
    {
        using var server = NodeHttpServer.Start();
        using var scope = KeylogScope.Start("--comm", "node");
        var node = KeylogClients.Node(server.Port, "/n", version, count: 2);
        Assert.Equal("hello /n\nhello /n\n", node.Stdout);
        AssertSameLines(node.Lines, scope.Lines(node.Lines.Count), version);
        Assert.Equal(0, scope.Run.Stop(Proc.SIGTERM));
        Assert.Equal(node.Lines.Count, File.ReadAllLines(scope.Path).Length); // no duplicates
    }

    /// <summary>BoringSSL keeps different structures, and frees its TLS 1.3 handshake secrets
    /// before the first read or write: those are read during the handshake. Calibration finds
    /// them all in the very library. The proof: the lines equal the client's own, and tshark
    /// decrypts the client's traffic with TlsScope's keys alone.</summary>
    [KernelTheory]
    [InlineData(TlsVersion.Tls12)]
    [InlineData(TlsVersion.Tls13)]
    public void BoringSslKeysDecryptItsTraffic(TlsVersion version)
    {
        using var server = NodeHttpServer.Start();
        using var scope = KeylogScope.Start("--libssl", BoringClient.LibSsl, "--comm", "boring_client");
        var dir = Directory.CreateTempSubdirectory("tlsscope-boring-").FullName;
        var pcap = Path.Combine(dir, "lo.pcap");
        using var dump = Proc.Start("tcpdump", ["-i", "lo", "--immediate-mode", "-U", "-w", pcap, "tcp", "port", server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Proc.WaitFor(() => dump.Stderr.Contains("listening on"), TimeSpan.FromSeconds(10), "tcpdump listening");
        var client = BoringClient.Run(server.Port, "/boring/secret-path", version);
        Assert.Contains("hello /boring/secret-path", client.Stdout);
        var ours = scope.Lines(version == TlsVersion.Tls12 ? 1 : 5);
        Thread.Sleep(300);
        dump.Signal(Proc.SIGTERM);
        Assert.True(dump.WaitForExit(TimeSpan.FromSeconds(10)));
        Assert.Equal(0, scope.Run.Stop(Proc.SIGTERM));

        AssertSameLines(client.Lines, ours, version);
        var uris = Tshark.FieldsWithKeylog(pcap, scope.Path, "http.request", "http.request.uri");
        Assert.Equal(["/boring/secret-path"], uris.Select(r => r[0]));
        Assert.Empty(Tshark.Fields(pcap, "http.request", "http.request.uri")); // and nothing without them
    }

    [KernelFact]
    public void KeylogFileIsOwnerOnly()
    {
        using var server = NodeHttpServer.Start();
        using var scope = KeylogScope.Start("--comm", "curl");
        var curl = KeylogClients.Curl(server.Port, "/mode", TlsVersion.Tls13);
        scope.Lines(curl.Lines.Count);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(scope.Path));
        Assert.Equal(0, scope.Run.Stop(Proc.SIGTERM));
    }

    private static void AssertSameLines(IReadOnlyList<string> library, IReadOnlyList<string> ours, TlsVersion version)
    {
        Assert.Equal(version == TlsVersion.Tls12 ? 1 : 5, library.Count);
        Assert.Equal(library.Order(StringComparer.Ordinal), ours.Order(StringComparer.Ordinal));
    }

    /// <summary>A TlsScope run writing --keylog; Lines waits for the file to hold n lines
    /// (keys are flushed as soon as they are known, so no stop is needed to see them).</summary>
    private sealed class KeylogScope : IDisposable
    {
        private KeylogScope(TlsScopeRun run, string path)
        {
            Run = run;
            Path = path;
        }

        public TlsScopeRun Run { get; }

        public string Path { get; }

        public static KeylogScope Start(params string[] args)
        {
            var dir = Directory.CreateTempSubdirectory("tlsscope-keys-").FullName;
            var path = System.IO.Path.Combine(dir, "keys.log");
            return new KeylogScope(TlsScopeRun.Start(["--keylog", path, .. args]), path);
        }

        public IReadOnlyList<string> Lines(int n)
        {
            Proc.WaitFor(() => File.Exists(Path) && File.ReadAllLines(Path).Length >= n, TimeSpan.FromSeconds(15),
                $"{n} key lines in {Path}; tlsscope said: {Run.Stderr}");
            return File.ReadAllLines(Path);
        }

        public void Dispose() => Run.Dispose();
    }
}
