using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using TlsScope.KernelTests.Infrastructure;

namespace TlsScope.KernelTests;

/// <summary>
/// OpenSSL programs that read and write through an SSL BIO (<c>BIO_f_ssl</c>), which never calls
/// the exported SSL_read/SSL_write: <c>openssl s_server -WWW</c> serving a file to curl. Both ends
/// are traced; each assertion names its pid and direction.
/// </summary>
public sealed class SslBioTests
{
    [KernelTheory]
    [InlineData("-tls1_2")]
    [InlineData("-tls1_3")]
    public void SServerWwwServesAFileByteExact_AndCurlIsCountedOnce(string version)
    {
        using var dir = new TempDirectory("tlsscope-www-");
        var body = new byte[5 << 20];
        new Random(7).NextBytes(body);
        File.WriteAllBytes(Path.Combine(dir.Path, "big.bin"), body);
        var port = Ports.Free();
        using var scope = TlsScopeRun.Start("-v");
        using var server = Proc.Start("openssl", ["s_server", "-WWW", "-accept", $"127.0.0.1:{port}", "-cert", TestCert.CertPath,
            "-key", TestCert.KeyPath, "-quiet", "-naccept", "1", version], workDir: dir.Path);
        OpenSslServer.WaitListening(port);
        var got = Path.Combine(dir.Path, "got.bin");
        using var curl = Proc.Start("curl", ["-sk", "--http1.1", "-o", got, $"https://127.0.0.1:{port}/big.bin"]);
        Assert.True(curl.WaitForExit(TimeSpan.FromSeconds(60)), "curl did not finish: " + curl.Stderr);
        Assert.Equal(SHA256.HashData(body), SHA256.HashData(File.ReadAllBytes(got)));
        Assert.True(server.WaitForExit(TimeSpan.FromSeconds(20)), "s_server did not end after its one connection");
        scope.StopCleanly();
        Assert.Contains("lost 0 records", scope.Stderr);
        Assert.Matches(@"attached \d+ probes to \S*libssl\.so\.3 \(openssl; internal read/write at 0x", scope.Stderr);
        var records = scope.Records();

        // The server: the request it read through the BIO, the whole file it wrote after its header.
        var request = Encoding.ASCII.GetString(records.Bytes(server.Pid, "read"));
        Assert.StartsWith("GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture) + "\r\n", request);
        Assert.EndsWith("\r\n\r\n", request);
        var written = records.Bytes(server.Pid, "write");
        var header = Encoding.ASCII.GetBytes("HTTP/1.0 200 ok\r\nContent-type: text/plain\r\n\r\n");
        Assert.Equal(header, written[..header.Length]);
        Assert.Equal(header.Length + body.Length, written.Length);
        Assert.Equal(SHA256.HashData(body), SHA256.HashData(written.AsSpan(header.Length)));

        // curl calls SSL_read/SSL_write, which call the probed internal functions: once each.
        Assert.Equal(Encoding.ASCII.GetBytes(request), records.Bytes(curl.Pid, "write"));
        Assert.Equal(SHA256.HashData(written), SHA256.HashData(records.Bytes(curl.Pid, "read")));
        var curlRead = records.DataOf(curl.Pid, "read").First();
        var serverRead = records.DataOf(server.Pid, "read").First();
        Assert.Equal($"127.0.0.1:{port}", curlRead.GetProperty("remote").GetString());
        Assert.Equal(curlRead.GetProperty("local").GetString(), serverRead.GetProperty("remote").GetString());
        Assert.Empty(records.OfType("gap"));
    }

    /// <summary>TLS inside TLS through an SSL BIO (Peers/tls_in_tls.c, both ends in one process):
    /// every inner call runs the outer connection's probed call inside it. Each is its own call:
    /// the inner plaintext is there once per side, and the outer carries the inner's records.</summary>
    [KernelFact]
    public void TlsInsideTlsThroughAnSslBio_KeepsBothLevels()
    {
        const string Request = "GET /inner HTTP/1.1\r\nHost: inner\r\n\r\n";
        var binary = TlsInTls.Value;
        using var scope = TlsScopeRun.Start("--comm", "tls_in_tls");
        using var peer = Proc.Start(binary, [TestCert.CertPath, TestCert.KeyPath, Request]);
        Assert.True(peer.WaitForExit(TimeSpan.FromSeconds(30)), "tls_in_tls did not finish: " + peer.Stderr);
        Assert.Equal(0, peer.Process.ExitCode);
        Assert.Contains("inner reply to GET /inner", peer.Stdout);
        scope.StopCleanly();
        var records = scope.Records();

        var streams = records.Data.GroupBy(r => (r.GetProperty("conn").GetUInt64(), r.GetProperty("direction").GetString()))
            .ToDictionary(g => g.Key, g => Encoding.ASCII.GetString([.. g.SelectMany(r => Convert.FromBase64String(r.GetProperty("data").GetString()!))]));
        // Four connection objects: outer and inner, client and server. The inner request was
        // written once (client) and read once (server); the reply likewise.
        Assert.Equal(4, streams.Keys.Select(k => k.Item1).Distinct().Count());
        Assert.Single(streams, s => s.Key.Item2 == "write" && s.Value == Request);
        Assert.Single(streams, s => s.Key.Item2 == "read" && s.Value == Request);
        Assert.Single(streams, s => s.Key.Item2 == "write" && s.Value == "inner reply to " + Request);
        Assert.Single(streams, s => s.Key.Item2 == "read" && s.Value == "inner reply to " + Request);
    }

    private static readonly Lazy<string> TlsInTls = new(() => PeerCompiler.Compile("tls_in_tls", "-lssl", "-lcrypto", "-lpthread"));
}
