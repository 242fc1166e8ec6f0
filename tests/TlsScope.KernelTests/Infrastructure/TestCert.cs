namespace TlsScope.KernelTests.Infrastructure;

/// <summary>A self-signed key and certificate for loopback servers, made once per test run.</summary>
public static class TestCert
{
    private static readonly Lazy<(string Cert, string Key)> Files = new(Make);

    public static string CertPath => Files.Value.Cert;
    public static string KeyPath => Files.Value.Key;

    private static (string, string) Make()
    {
        var dir = TempDirectory.ForRun("tlsscope-cert-");
        var cert = Path.Combine(dir, "cert.pem");
        var key = Path.Combine(dir, "key.pem");
        var (code, _, err) = Proc.Run("openssl",
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"]);
        if (code != 0)
        {
            throw new InvalidOperationException("openssl req failed: " + err);
        }

        return (cert, key);
    }
}
