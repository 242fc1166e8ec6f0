namespace TlsScope.Sources.Tls.Keys.Calibration;

/// <summary>One kind of handshake calibration runs: a protocol cap and the suites to offer.
/// <paramref name="MaxVersion"/> 0 leaves the library's default (TLS 1.3).</summary>
public sealed record HandshakeCase(string Name, ushort MaxVersion, string? CipherList, string? Tls13Suites)
{
    public static readonly HandshakeCase Tls12Aes128 = new("TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256", 0x0303, "ECDHE-RSA-AES128-GCM-SHA256", null);
    public static readonly HandshakeCase Tls12Aes256 = new("TLS 1.2 ECDHE-RSA-AES256-GCM-SHA384", 0x0303, "ECDHE-RSA-AES256-GCM-SHA384", null);
    public static readonly HandshakeCase Tls13Aes128 = new("TLS 1.3 TLS_AES_128_GCM_SHA256", 0, null, "TLS_AES_128_GCM_SHA256");
    public static readonly HandshakeCase Tls13Aes256 = new("TLS 1.3 TLS_AES_256_GCM_SHA384", 0, null, "TLS_AES_256_GCM_SHA384");

    public static IReadOnlyList<HandshakeCase> All { get; } = [Tls12Aes128, Tls12Aes256, Tls13Aes128, Tls13Aes256];
}
