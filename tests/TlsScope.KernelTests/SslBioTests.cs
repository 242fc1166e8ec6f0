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
        Assert.Equal(0, scope.Stop());
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
}
