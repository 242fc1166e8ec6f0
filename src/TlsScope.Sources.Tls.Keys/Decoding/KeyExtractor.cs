using TlsScope.Engine.Model;
using TlsScope.Sources.Tls.Keys.Layout;
using TlsScope.Engine.Collections;


namespace TlsScope.Sources.Tls.Keys.Decoding;

/// <summary>
/// Turns the kernel's key records into <see cref="TlsKeySet"/>s for the key sinks: one set per
/// handshake, even when both ends of a connection are traced (dedupe by client random).
/// Records that cannot be decoded are counted, never passed on half-filled. A record read during
/// the handshake (layouts with handshake-phase slots) is kept until the same handshake's record
/// after it arrives, and its secrets join that set.
/// </summary>
public sealed class KeyExtractor : IKeyMaterialSink
{
    // Client randoms remembered for dedupe; the oldest are forgotten past this many.
    private const int RememberedHandshakes = 65536;

    // Handshakes read during the handshake, waiting for their record after it; oldest dropped.
    private const int PendingHandshakes = 4096;

    private readonly IKeySink _sink;
    private readonly Dictionary<uint, KeyLayout> _layouts = [];
    private readonly RecentSet<string> _seen = new(RememberedHandshakes);
    private readonly Dictionary<string, HandshakeTrafficSecrets> _pending = [];
    private readonly Queue<string> _pendingOrder = new();
    private readonly Lock _lock = new();
    private readonly LoggedHandshakes _logged = new(PendingHandshakes);

    /// <param name="sink">Where the sets go: the run's fan-out, which isolates failing outputs.</param>
    public KeyExtractor(IKeySink sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        _sink = sink;
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
        {
            _layouts[libraryIndex] = layout;
        }
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
            if (material.DuringHandshake)
            {
                Stash(layout, material);
                return;
            }
            if (!KeyDecoder.TryDecode(layout, material.Slots, material.ReadMask, out var keys, out var reason, Pending(material)))
            {
                Incomplete++;
                LastIncompleteReason = reason;
                return;
            }
            var random = Convert.ToHexStringLower(keys!.ClientRandom);
            if (!_seen.Add(random))
            {
                Duplicates++;
                return;
            }
            _pending.Remove(random);
            Sets++;
            set = new TlsKeySet(material.TimeUnixNs, material.Connection, material.Process, material.Library, keys.ClientRandom, keys.Lines);
        }
        _sink.OnKeys(set);
    }

    /// <summary>A secret the program logged itself: its handshake's set goes out once it holds the
    /// application traffic secrets (TLS 1.3) or the master secret (TLS 1.2).</summary>
    public void OnLoggedSecret(LoggedSecret secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        TlsKeySet? set;
        lock (_lock)
        {
            var random = Convert.ToHexStringLower(secret.ClientRandom);
            // The label comes from the traced program: one that is not an NSS label's shape could
            // write lines of its own into the key log file.
            if (secret.ClientRandom.Length != 32 || secret.Secret.Length == 0 || secret.Label.Length == 0
                || !secret.Label.All(c => c is (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_'))
            {
                Incomplete++;
                LastIncompleteReason = "a logged secret with an unreadable label, client random or secret";
                return;
            }

            if (_seen.Contains(random))
            {
                if (LoggedHandshakes.Completes(secret.Label))
                {
                    Duplicates++; // the other end of a handshake already passed on
                }

                return;
            }

            set = _logged.Add(secret, random);
            if (set is null)
            {
                return;
            }

            _seen.Add(random);
            Sets++;
        }
        _sink.OnKeys(set);
    }

    private void Stash(KeyLayout layout, KeyMaterial material)
    {
        if (!KeyDecoder.TryReadDuringHandshake(layout, material.Slots, material.ReadMask, out var random, out var secrets, out var reason))
        {
            Incomplete++;
            LastIncompleteReason = reason;
            return;
        }
        var key = Convert.ToHexStringLower(random!);
        if (_seen.Contains(key))
        {
            return; // the set is out already (a later read of the other end)
        }

        if (_pending.TryAdd(key, secrets!))
        {
            _pendingOrder.Enqueue(key);
            while (_pendingOrder.Count > PendingHandshakes)
            {
                _pending.Remove(_pendingOrder.Dequeue());
            }
        }
        else
        {
            _pending[key] = secrets!;
        }
    }

    /// <summary>The secrets read during this record's handshake, if any were stashed.</summary>
    private HandshakeTrafficSecrets? Pending(KeyMaterial material)
    {
        if (_pending.Count == 0 || material.Slots.Length == 0 || (material.ReadMask & 1) == 0 || material.Slots[0].Length < 32)
        {
            return null;
        }

        return _pending.GetValueOrDefault(Convert.ToHexStringLower(material.Slots[0].AsSpan(0, 32)));
    }

}
