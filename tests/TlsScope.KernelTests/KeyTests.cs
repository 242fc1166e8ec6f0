using TlsScope.KernelTests.Infrastructure;

namespace TlsScope.KernelTests;

/// <summary>
/// --keylog against the libraries' own key logs: the lines TlsScope reads from the process's
/// memory must equal, byte for byte, what the library's key log callback wrote for the same
/// connection.
/// </summary>
public sealed class KeyTests
{
    public static TheoryData<string, TlsVersion> Clients => new()
    {
        { "curl", TlsVersion.Tls12 }, { "curl", TlsVersion.Tls13 },         // libssl.so.3, calibrated
        { "python3", TlsVersion.Tls12 }, { "python3", TlsVersion.Tls13 },   // the same, through SSL_read_ex
        { "node", TlsVersion.Tls12 }, { "node", TlsVersion.Tls13 },         // OpenSSL inside node: the table
    };

    /// <summary>Two requests on one connection, against a node server. With --comm node the
    /// server is traced too: one handshake seen from both ends must still give one set.</summary>
    [KernelTheory]
    [MemberData(nameof(Clients))]
    public void KeysEqualTheLibrarysOwnKeyLog(string client, TlsVersion version)
    {
        using var server = NodeHttpServer.Start();
        using var scope = KeylogScope.Start("--comm", client);
        var run = client switch
        {
            "curl" => KeylogClients.Curl(server.Port, "/k", version, count: 2),
            "python3" => KeylogClients.Python(server.Port, "/k", version, count: 2),
            _ => KeylogClients.Node(server.Port, "/k", version, count: 2),
        };
        Assert.Equal("hello /k\nhello /k\n", run.Stdout);
        AssertSameLines(run.Lines, scope.LinesAfterStop(run.Lines.Count), version);
        Assert.Contains("tlsscope: keys: 1 handshakes", scope.Run.Stderr);
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
        var dir = TempDirectory.ForRun("tlsscope-boring-");
        var pcap = Path.Combine(dir, "lo.pcap");
        using var dump = Proc.Start("tcpdump", ["-i", "lo", "--immediate-mode", "-U", "-w", pcap, "tcp", "port", server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Proc.WaitFor(() => dump.Stderr.Contains("listening on"), TimeSpan.FromSeconds(10), "tcpdump listening");
        var client = BoringClient.Run(server.Port, "/boring/secret-path", version);
        Assert.Contains("hello /boring/secret-path", client.Stdout);
        var ours = scope.LinesAfterStop(version == TlsVersion.Tls12 ? 1 : 5);
        dump.Signal(Proc.SIGTERM);
        Assert.True(dump.WaitForExit(TimeSpan.FromSeconds(10)));

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
        scope.Run.StopCleanly(Proc.SIGTERM);
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
            var dir = TempDirectory.ForRun("tlsscope-keys-");
            var path = System.IO.Path.Combine(dir, "keys.log");
            return new KeylogScope(TlsScopeRun.Start(["--keylog", path, .. args]), path);
        }

        /// <summary>Waits for n lines, stops the run, and returns the whole file: a duplicate
        /// written late would show.</summary>
        public IReadOnlyList<string> LinesAfterStop(int n)
        {
            Lines(n);
            Run.StopCleanly(Proc.SIGTERM);
            return File.ReadAllLines(Path);
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
