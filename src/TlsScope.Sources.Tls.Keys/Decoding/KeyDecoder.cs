using System.Buffers.Binary;
using TlsScope.Sources.Tls.Keys.Layout;
using TlsScope.Sources.Tls.Keys.Calibration;

namespace TlsScope.Sources.Tls.Keys.Decoding;

/// <summary>One handshake's key log lines and the client random they belong to.</summary>
public sealed record DecodedKeys(byte[] ClientRandom, IReadOnlyList<string> Lines);

/// <summary>The TLS 1.3 handshake traffic secrets read during a handshake, as read (slot size:
/// the hash length is known only from the later record's cipher); null: the layout has none.</summary>
public sealed record HandshakeTrafficSecrets(byte[]? Client, byte[]? Server);

/// <summary>
/// Gives the bytes read at a <see cref="KeyLayout"/>'s slots their meaning: NSS key log lines,
/// byte for byte what the library's own key log callback writes for the client.
/// </summary>
public static class KeyDecoder
{
    private const int Tls13 = 0x0304;
    private const int MasterKeyLength = 48;

    /// <summary>Decodes one record read after the handshake; on failure <paramref name="reason"/>
    /// says what was missing (an unread slot, a zero secret, a version the layout cannot decode).
    /// Handshake-phase slots are not taken from it (their state is freed by then) but from
    /// <paramref name="duringHandshake"/>, the same handshake's earlier record, when there is one.</summary>
    public static bool TryDecode(KeyLayout layout, IReadOnlyList<byte[]> slots, uint readMask,
        out DecodedKeys? keys, out string? reason, HandshakeTrafficSecrets? duringHandshake = null)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(slots);
        keys = null;
        var view = new SlotView(layout, slots, readMask, duringHandshake);
        reason = view.Required(SlotKind.ClientRandom, 32, out var clientRandom);
        ReadOnlySpan<byte> versionBytes = default;
        reason ??= view.Required(SlotKind.Version, 2, out versionBytes);
        if (reason != null)
        {
            return false;
        }

        var version = BinaryPrimitives.ReadUInt16LittleEndian(versionBytes);
        var lines = new List<string>(5);
        var random = Convert.ToHexStringLower(clientRandom);
        reason = version switch
        {
            0 => "protocol version not set yet",
            Tls13 => Tls13Lines(view, random, lines),
            > Tls13 => $"unknown protocol version 0x{version:x4}",
            _ => Tls12Lines(view, random, lines),
        };
        if (reason != null)
        {
            return false;
        }

        keys = new DecodedKeys(clientRandom.ToArray(), lines);
        return true;
    }

    /// <summary>Reads a record taken during the handshake: the client random and the
    /// handshake-phase secrets (each must be read and non-zero).</summary>
    public static bool TryReadDuringHandshake(KeyLayout layout, IReadOnlyList<byte[]> slots, uint readMask,
        out byte[]? clientRandom, out HandshakeTrafficSecrets? secrets, out string? reason)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(slots);
        clientRandom = null;
        secrets = null;
        var view = new SlotView(layout, slots, readMask);
        reason = view.Required(SlotKind.ClientRandom, 32, out var random);
        if (reason != null)
        {
            return false;
        }

        var client = view.DuringHandshake(SlotKind.ClientHandshakeTrafficSecret, ref reason);
        var server = view.DuringHandshake(SlotKind.ServerHandshakeTrafficSecret, ref reason);
        if (reason == null && client == null && server == null)
        {
            reason = "the layout has no handshake-phase slots";
        }

        if (reason != null)
        {
            return false;
        }

        clientRandom = random.ToArray();
        secrets = new HandshakeTrafficSecrets(client, server);
        return true;
    }

    private static string? Tls12Lines(SlotView view, string random, List<string> lines)
    {
        if (view.Required(SlotKind.MasterKey, MasterKeyLength, out var master) is { } missing)
        {
            return missing;
        }

        lines.Add($"{KnownSecrets.MasterKeyLabel} {random} {Convert.ToHexStringLower(master)}");
        return null;
    }

    private static string? Tls13Lines(SlotView view, string random, List<string> lines)
    {
        if (view.Required(SlotKind.CipherId, 4, out var idBytes) is { } missing)
        {
            return missing;
        }

        var cipher = BinaryPrimitives.ReadUInt32LittleEndian(idBytes);
        if (!CipherSuites.IsTls13(cipher))
        {
            return $"cipher 0x{cipher:x8} is not a TLS 1.3 suite";
        }

        var length = CipherSuites.HashLength(cipher);

        var isServer = view.IsServer(out var roleError);
        if (roleError != null)
        {
            return roleError;
        }

        string? error = null;
        var clientHs = HandshakeSecret(view, SlotKind.ClientHandshakeTrafficSecret, "c hs traffic", cipher, ref error);
        var serverHs = HandshakeSecret(view, SlotKind.ServerHandshakeTrafficSecret, "s hs traffic", cipher, ref error);
        var clientApp = view.Secret(SlotKind.ClientAppSecret, isServer ? SlotKind.ReadAppSecret : SlotKind.WriteAppSecret, length, ref error);
        var serverApp = view.Secret(SlotKind.ServerAppSecret, isServer ? SlotKind.WriteAppSecret : SlotKind.ReadAppSecret, length, ref error);
        var exporter = view.Secret(SlotKind.ExporterSecret, SlotKind.ExporterSecret, length, ref error);
        if (error != null)
        {
            return error;
        }

        if (clientApp == null || serverApp == null)
        {
            return "the layout has no TLS 1.3 application secrets";
        }

        // The order OpenSSL's callback writes them in for a client.
        Add(lines, KnownSecrets.ServerHandshakeLabel, random, serverHs);
        Add(lines, KnownSecrets.ExporterLabel, random, exporter);
        Add(lines, KnownSecrets.ServerAppLabel, random, serverApp);
        Add(lines, KnownSecrets.ClientHandshakeLabel, random, clientHs);
        Add(lines, KnownSecrets.ClientAppLabel, random, clientApp);
        return null;
    }

    /// <summary>The stored handshake traffic secret, else derived from the handshake secret and
    /// the ClientHello..ServerHello transcript hash; null when the layout has neither.</summary>
    private static byte[]? HandshakeSecret(SlotView view, SlotKind stored, string label, uint cipher, ref string? error)
    {
        var length = CipherSuites.HashLength(cipher);
        var direct = view.Secret(stored, stored, length, ref error);
        if (direct != null || error != null)
        {
            return direct;
        }

        var secret = view.Secret(SlotKind.HandshakeSecret, SlotKind.HandshakeSecret, length, ref error);
        var hash = view.Secret(SlotKind.HandshakeTrafficHash, SlotKind.HandshakeTrafficHash, length, ref error);
        if (secret == null || hash == null)
        {
            return null;
        }

        return TlsKdf.ExpandLabel(CipherSuites.Hash(cipher), secret, label, hash, length);
    }

    private static void Add(List<string> lines, string label, string random, byte[]? secret)
    {
        if (secret != null)
        {
            lines.Add($"{label} {random} {Convert.ToHexStringLower(secret)}");
        }
    }
}
