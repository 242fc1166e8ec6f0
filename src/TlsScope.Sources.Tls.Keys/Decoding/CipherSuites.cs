using System.Security.Cryptography;

namespace TlsScope.Sources.Tls.Keys.Decoding;

/// <summary>The hash of a TLS 1.3 cipher suite, from its SSL_CIPHER id (0x0300XXXX).</summary>
public static class CipherSuites
{
    public const uint Aes256GcmSha384 = 0x03001302;

    public static bool IsTls13(uint cipherId) => (cipherId & 0xffffff00) == 0x03001300;

    /// <summary>Only TLS_AES_256_GCM_SHA384 uses SHA-384; every other TLS 1.3 suite SHA-256.</summary>
    public static HashAlgorithmName Hash(uint cipherId) =>
        cipherId == Aes256GcmSha384 ? HashAlgorithmName.SHA384 : HashAlgorithmName.SHA256;

    public static int HashLength(uint cipherId) => cipherId == Aes256GcmSha384 ? 48 : 32;
}
