using TlsScope.Sources.Tls.Keys.Layout;


namespace TlsScope.Sources.Tls.Keys.Calibration;

/// <summary>
/// Turns the observations of many handshakes (both ends, TLS 1.2 and 1.3) into one layout: a
/// path is kept only if it held its value in every observation the value was known in; of the
/// survivors the shallowest, lowest one wins.
/// </summary>
public static class LayoutChooser
{
    private const int SecretSize = 48; // the largest TLS 1.3 hash (SHA-384) and the TLS 1.2 master key

    /// <exception cref="CalibrationException">Not enough was found for any protocol version.</exception>
    public static KeyLayout Choose(IReadOnlyList<Observation> observations, string origin)
    {
        ArgumentNullException.ThrowIfNull(observations);
        if (observations.Count == 0)
        {
            throw new CalibrationException("no handshakes to calibrate from");
        }

        var slots = new List<KeySlot>();
        Add(slots, observations, SlotKind.ClientRandom, 32, required: true);
        Add(slots, observations, SlotKind.Version, 2, required: true);
        var hasCipher = Add(slots, observations, SlotKind.CipherId, 4);
        var tls12 = Add(slots, observations, SlotKind.MasterKey, SecretSize);
        var tls13 = hasCipher && AddTls13(slots, observations);
        if (!tls12 && !tls13)
        {
            throw new CalibrationException("found neither the TLS 1.2 master key nor the TLS 1.3 application secrets");
        }

        return new KeyLayout(origin, slots);
    }

    private static bool AddTls13(List<KeySlot> slots, IReadOnlyList<Observation> observations)
    {
        var start = slots.Count;
        bool apps;
        if (Best(observations, SlotKind.ClientAppSecret) is not null && Best(observations, SlotKind.ServerAppSecret) is not null)
        {
            Add(slots, observations, SlotKind.ClientAppSecret, SecretSize);
            Add(slots, observations, SlotKind.ServerAppSecret, SecretSize);
            apps = true;
        }
        else
        {
            // Own/peer secrets (BoringSSL) mean something only with the object's role.
            var role = Best(observations, SlotKind.WriteAppSecret) is not null
                && Best(observations, SlotKind.ReadAppSecret) is not null
                    ? RoleFinder.Find(observations)
                    : null;
            apps = role != null;
            if (role != null)
            {
                slots.Add(role);
                Add(slots, observations, SlotKind.WriteAppSecret, SecretSize);
                Add(slots, observations, SlotKind.ReadAppSecret, SecretSize);
            }
        }
        if (!apps)
        {
            slots.RemoveRange(start, slots.Count - start);
            return false;
        }
        Add(slots, observations, SlotKind.ExporterSecret, SecretSize);
        var stored = Best(observations, SlotKind.ClientHandshakeTrafficSecret) is not null
            && Best(observations, SlotKind.ServerHandshakeTrafficSecret) is not null;
        if (stored)
        {
            Add(slots, observations, SlotKind.ClientHandshakeTrafficSecret, SecretSize);
            Add(slots, observations, SlotKind.ServerHandshakeTrafficSecret, SecretSize);
        }
        else if (Best(observations, SlotKind.HandshakeSecret) is not null && Best(observations, SlotKind.HandshakeTrafficHash) is not null)
        {
            Add(slots, observations, SlotKind.HandshakeSecret, SecretSize);
            Add(slots, observations, SlotKind.HandshakeTrafficHash, SecretSize);
        }
        else if (Best(observations, SlotKind.ClientHandshakeTrafficSecret, handshake: true) is { } client
            && Best(observations, SlotKind.ServerHandshakeTrafficSecret, handshake: true) is { } server)
        {
            // Gone after the handshake (BoringSSL): the kernel reads them during it.
            slots.Add(new KeySlot(SlotKind.ClientHandshakeTrafficSecret, client, SecretSize, Phase: SlotPhase.Handshake));
            slots.Add(new KeySlot(SlotKind.ServerHandshakeTrafficSecret, server, SecretSize, Phase: SlotPhase.Handshake));
        }
        return true;
    }

    private static bool Add(List<KeySlot> slots, IReadOnlyList<Observation> observations, SlotKind kind, int size, bool required = false)
    {
        if (Best(observations, kind) is { } path)
        {
            slots.Add(new KeySlot(kind, path, size));
            return true;
        }
        if (required)
        {
            throw new CalibrationException($"no place holds the {kind} in every handshake");
        }

        return false;
    }

    /// <summary>The preferred path that held <paramref name="kind"/> in every observation where
    /// its value was known (<paramref name="handshake"/>: during the handshake); null when there
    /// is none (or it was never known).</summary>
    public static KeyPath? Best(IReadOnlyList<Observation> observations, SlotKind kind, bool handshake = false)
    {
        HashSet<KeyPath>? common = null;
        foreach (var o in observations)
        {
            if (!(handshake ? o.HandshakePaths : o.Paths).TryGetValue(kind, out var paths))
            {
                continue;
            }

            if (common == null)
            {
                common = [.. paths];
            }
            else
            {
                common.IntersectWith(paths);
            }
        }
        if (common == null || common.Count == 0)
        {
            return null;
        }

        var list = common.ToList();
        list.Sort(KeyPath.Compare);
        return list[0];
    }
}
