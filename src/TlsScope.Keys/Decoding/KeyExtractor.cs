using TlsScope.Capture.Model;
using TlsScope.Keys.Layout;

namespace TlsScope.Keys.Decoding;

/// <summary>
/// Turns the kernel's key records into <see cref="TlsKeySet"/>s for the key sinks: one set per
/// handshake, even when both ends of a connection are traced (dedupe by client random).
/// Records that cannot be decoded are counted, never passed on half-filled.
/// </summary>
public sealed class KeyExtractor : IKeyMaterialSink
{
    // Client randoms remembered for dedupe; the oldest are forgotten past this many.
    private const int RememberedHandshakes = 65536;

    private readonly IKeySink[] _sinks;
    private readonly Dictionary<uint, KeyLayout> _layouts = [];
    private readonly HashSet<string> _seen = [];
    private readonly Queue<string> _seenOrder = new();
    private readonly Lock _lock = new();

    public KeyExtractor(IEnumerable<IKeySink> sinks)
    {
        ArgumentNullException.ThrowIfNull(sinks);
        _sinks = sinks.ToArray();
    }

    /// <summary>Sets passed to the sinks.</summary>
    public long Sets { get; private set; }

    /// <summary>Records of a handshake already passed on (the other end, a repeated read).</summary>
    public long Duplicates { get; private set; }

    /// <summary>Records with a missing piece: an unread slot, a zero secret, an unknown version.</summary>
    public long Incomplete { get; private set; }

    /// <summary>Records of a library without a layout.</summary>
    public long NoLayout { get; private set; }

    /// <summary>Why the last incomplete record was skipped (for -v diagnostics).</summary>
    public string? LastIncompleteReason { get; private set; }

    public void SetLayout(uint libraryIndex, KeyLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        lock (_lock)
            _layouts[libraryIndex] = layout;
    }

    public void OnKeyMaterial(KeyMaterial material)
    {
        ArgumentNullException.ThrowIfNull(material);
        TlsKeySet set;
        lock (_lock)
        {
            if (!_layouts.TryGetValue(material.LibraryIndex, out var layout))
            {
                NoLayout++;
                return;
            }
            if (!KeyDecoder.TryDecode(layout, material.Slots, material.ReadMask, out var keys, out var reason))
            {
                Incomplete++;
                LastIncompleteReason = reason;
                return;
            }
            if (!Remember(Convert.ToHexStringLower(keys!.ClientRandom)))
            {
                Duplicates++;
                return;
            }
            Sets++;
            set = new TlsKeySet(material.TimeUnixNs, material.Connection, material.Process, material.Library, keys.ClientRandom, keys.Lines);
        }
        foreach (var sink in _sinks)
            sink.OnKeys(set);
    }

    private bool Remember(string clientRandom)
    {
        if (!_seen.Add(clientRandom))
            return false;
        _seenOrder.Enqueue(clientRandom);
        if (_seenOrder.Count > RememberedHandshakes)
            _seen.Remove(_seenOrder.Dequeue());
        return true;
    }
}
