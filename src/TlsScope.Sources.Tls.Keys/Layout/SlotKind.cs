namespace TlsScope.Sources.Tls.Keys.Layout;

/// <summary>What the bytes of one key layout slot mean.</summary>
public enum SlotKind
{
    /// <summary>The 32-byte client random: the handshake's identity (always slot 0).</summary>
    ClientRandom,
    /// <summary>The negotiated protocol version, 2 bytes little endian (0x0303, 0x0304).</summary>
    Version,
    /// <summary>The 4-byte SSL_CIPHER id, e.g. 0x03001301; gives the TLS 1.3 hash length.</summary>
    CipherId,
    /// <summary>TLS 1.2 master secret (48 bytes).</summary>
    MasterKey,
    /// <summary>TLS 1.3 handshake secret, from which the handshake traffic secrets derive.</summary>
    HandshakeSecret,
    /// <summary>Transcript hash ClientHello..ServerHello, the context of that derivation.</summary>
    HandshakeTrafficHash,
    ClientHandshakeTrafficSecret,
    ServerHandshakeTrafficSecret,
    /// <summary>CLIENT_TRAFFIC_SECRET_0.</summary>
    ClientAppSecret,
    /// <summary>SERVER_TRAFFIC_SECRET_0.</summary>
    ServerAppSecret,
    ExporterSecret,
    /// <summary>A byte whose <see cref="KeySlot.Mask"/> bits are set in server objects only.</summary>
    Role,
    /// <summary>The object's own (write) application traffic secret: client's or server's by role.</summary>
    WriteAppSecret,
    /// <summary>The peer's (read) application traffic secret.</summary>
    ReadAppSecret,
}
