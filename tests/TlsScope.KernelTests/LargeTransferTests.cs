using System.Security.Cryptography;
using System.Text;
using TlsScope.KernelTests.Infrastructure;

namespace TlsScope.KernelTests;

public sealed class LargeTransferTests
{
    [KernelFact]
    public void TenMegabyteResponseIsCapturedWholeWithNoLoss()
    {
        var body = new byte[10 << 20];
        new Random(42).NextBytes(body);
        var header = Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n");
        var response = header.Concat(body).ToArray();

        using var server = OpenSslServer.Start();
        using var scope = TlsScopeRun.Start();
        var dir = Directory.CreateTempSubdirectory("tlsscope-big-").FullName;
        var file = Path.Combine(dir, "body.bin");
        using var curl = Proc.Start("curl", ["-sk", "--http1.1", "-o", file, $"https://127.0.0.1:{server.Port}/big"]);
        server.WaitForRequest();
        server.Send(response);
        Assert.True(curl.WaitForExit(TimeSpan.FromSeconds(60)), "curl did not finish");
        Assert.Equal(SHA256.HashData(body), SHA256.HashData(File.ReadAllBytes(file)));

        scope.StopCleanly(); // 3 would mean something was lost
        Assert.Contains("lost 0 records", scope.Stderr);
        var got = scope.Records();
        Assert.Equal(SHA256.HashData(response), SHA256.HashData(got.Bytes(curl.Pid, "read")));
        Assert.Equal(SHA256.HashData(response), SHA256.HashData(got.Bytes(server.Pid, "write")));
        Assert.Empty(got.OfType("gap"));
        Directory.Delete(dir, true);
    }
}
