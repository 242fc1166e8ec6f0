using System.Security.Cryptography;
using TlsScope.Sources.Tls.Keys.Decoding;

namespace TlsScope.Tests.Keys;

public class TlsKdfTests
{
    // RFC 8448 §3 (simple 1-RTT handshake): the handshake secret, the ClientHello..ServerHello
    // transcript hash, and the handshake traffic secrets derived from them.
    private const string HandshakeSecret = "1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac";
    private const string TranscriptHash = "860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8";
    private const string ClientHandshakeTraffic = "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21";
    private const string ServerHandshakeTraffic = "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38";

    [Fact]
    public void ExpandLabel_DerivesTheRfc8448HandshakeTrafficSecrets()
    {
        var secret = Convert.FromHexString(HandshakeSecret);
        var hash = Convert.FromHexString(TranscriptHash);
        Assert.Equal(ClientHandshakeTraffic, Convert.ToHexStringLower(TlsKdf.ExpandLabel(HashAlgorithmName.SHA256, secret, "c hs traffic", hash, 32)));
        Assert.Equal(ServerHandshakeTraffic, Convert.ToHexStringLower(TlsKdf.ExpandLabel(HashAlgorithmName.SHA256, secret, "s hs traffic", hash, 32)));
    }

    [Fact]
    public void CipherSuites_Sha384OnlyForAes256Gcm()
    {
        Assert.Equal(48, CipherSuites.HashLength(0x03001302));
        Assert.Equal(32, CipherSuites.HashLength(0x03001301));
        Assert.Equal(32, CipherSuites.HashLength(0x03001303));
        Assert.False(CipherSuites.IsTls13(0x0300c02f));
    }
}
