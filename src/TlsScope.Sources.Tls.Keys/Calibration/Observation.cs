using TlsScope.Sources.Tls.Keys.Layout;


namespace TlsScope.Sources.Tls.Keys.Calibration;

/// <summary>An object seen during a search: the path of the pointer to it (null: the connection
/// object itself), its bytes up to its allocation's end where known, and per 8-byte word
/// whether that word looks like a pointer.</summary>
public sealed record ObjectBytes(KeyPath? Pointer, byte[] Data, bool[] PointerWords);

/// <summary>Where one connection object held each known value at one moment: every matching
/// path per kind, plus the bytes of the object and of the objects it points to (role search).</summary>
public sealed class Observation(KnownSecrets known, IReadOnlyList<ObjectBytes> objects)
{
    public KnownSecrets Known { get; } = known;

    /// <summary>Candidate paths by kind; a kind is present when the value was known (applicable),
    /// even if no path held it.</summary>
    public Dictionary<SlotKind, HashSet<KeyPath>> Paths { get; } = [];

    /// <summary>Candidate paths found during the handshake (<see cref="HandshakeSecretProbe"/>):
    /// values that exist only then. Present as <see cref="Paths"/> are.</summary>
    public Dictionary<SlotKind, HashSet<KeyPath>> HandshakePaths { get; } = [];

    /// <summary>The connection object first, then each object it points to directly.</summary>
    public IReadOnlyList<ObjectBytes> Objects { get; } = objects;

    public HashSet<KeyPath> For(SlotKind kind)
    {
        if (!Paths.TryGetValue(kind, out var set))
        {
            Paths[kind] = set = [];
        }

        return set;
    }
}
