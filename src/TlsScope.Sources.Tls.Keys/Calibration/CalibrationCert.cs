using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace TlsScope.Sources.Tls.Keys.Calibration;

/// <summary>A throwaway self-signed RSA certificate for the in-memory server, as PEM (which both
/// OpenSSL and BoringSSL read), made once per process.</summary>
internal static class CalibrationCert
{
    private static readonly Lazy<(string Cert, string Key)> Pem = new(Create);

    public static (string Cert, string Key) Get() => Pem.Value;

    private static (string, string) Create()
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=tlsscope-calibration", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var now = DateTimeOffset.UtcNow;
        using var cert = request.CreateSelfSigned(now.AddDays(-1), now.AddDays(1));
        return (cert.ExportCertificatePem(), rsa.ExportPkcs8PrivateKeyPem());
    }
}
