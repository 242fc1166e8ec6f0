namespace TlsScope.Sources.Tls.Keys.Calibration;

/// <summary>
/// What is known about one connection object, to be looked for in its memory: its role and
/// version, the secrets its key log callback wrote (by NSS label), the ClientHello..ServerHello
/// transcript hash (TLS 1.3) and the addresses SSL_get_session / SSL_get_current_cipher return.
/// </summary>
public sealed record KnownSecrets(
    bool IsServer,
    ushort Version,
    uint CipherId,
    byte[] ClientRandom,
    IReadOnlyDictionary<string, byte[]> LogSecrets,
    byte[]? HandshakeTrafficHash,
    ulong SessionAddress,
    ulong CipherAddress)
{
    public const string MasterKeyLabel = "CLIENT_RANDOM";
    public const string ClientHandshakeLabel = "CLIENT_HANDSHAKE_TRAFFIC_SECRET";
    public const string ServerHandshakeLabel = "SERVER_HANDSHAKE_TRAFFIC_SECRET";
    public const string ClientAppLabel = "CLIENT_TRAFFIC_SECRET_0";
    public const string ServerAppLabel = "SERVER_TRAFFIC_SECRET_0";
    public const string ExporterLabel = "EXPORTER_SECRET";

    public byte[]? Secret(string label) => LogSecrets.TryGetValue(label, out var s) ? s : null;
}
