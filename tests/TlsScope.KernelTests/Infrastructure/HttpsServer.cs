using System.Globalization;

namespace TlsScope.KernelTests.Infrastructure;

/// <summary>`openssl s_server -www` on loopback: any number of connections, each answered with a
/// status page, for tests about the clients (the server's own reads go through an SSL BIO).</summary>
public sealed class HttpsServer : IDisposable
{
    private readonly Proc _proc;

    public HttpsServer()
    {
        Port = Ports.Free();
        _proc = Proc.Start("openssl", ["s_server", "-accept", $"127.0.0.1:{Port}", "-cert", TestCert.CertPath, "-key", TestCert.KeyPath, "-www", "-quiet"]);
        OpenSslServer.WaitListening(Port);
    }

    public int Port { get; }

    public string Url(string path) => string.Create(CultureInfo.InvariantCulture, $"https://127.0.0.1:{Port}{path}");

    public void Dispose() => _proc.Dispose();
}
