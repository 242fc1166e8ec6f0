using TlsScope.Sources.Tls.Keys.Layout;


namespace TlsScope.Sources.Tls.Keys.Calibration;

/// <summary>
/// Finds where a connection object keeps its TLS 1.3 handshake traffic secrets while the
/// handshake runs: searched in the key log callback that logs each (right after the library
/// derived it), then re-read at every later callback of the handshake up to its end, so only
/// paths still holding the secret when the kernel reads (the sends after it) are kept.
/// </summary>
public sealed class HandshakeSecretProbe : IHandshakeProbe
{
    private sealed record Candidates(byte[] Secret, HashSet<KeyPath> Paths);

    private readonly Dictionary<nint, Dictionary<SlotKind, Candidates>> _found = [];
    private readonly HashSet<nint> _done = [];
    private readonly Lock _lock = new();

    /// <summary>The paths that held each handshake secret of <paramref name="ssl"/> from its
    /// logging to the handshake's end; a kind is present when its secret was logged.</summary>
    public Dictionary<SlotKind, HashSet<KeyPath>> Paths(nint ssl)
    {
        lock (_lock)
        {
            var result = new Dictionary<SlotKind, HashSet<KeyPath>>();
            if (_found.TryGetValue(ssl, out var kinds))
            {
                foreach (var (kind, c) in kinds)
                {
                    result[kind] = _done.Contains(ssl) ? [.. c.Paths] : []; // unfinished: unproven
                }
            }

            return result;
        }
    }

    public void OnKeylog(nint ssl, string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        var parts = line.Split(' ');
        var kind = parts.Length != 3 ? (SlotKind?)null : parts[0] switch
        {
            KnownSecrets.ClientHandshakeLabel => SlotKind.ClientHandshakeTrafficSecret,
            KnownSecrets.ServerHandshakeLabel => SlotKind.ServerHandshakeTrafficSecret,
            _ => null,
        };
        lock (_lock)
        {
            if (_done.Contains(ssl))
            {
                return;
            }

            using var memory = Memory();
            if (memory == null)
            {
                return;
            }

            Recheck(memory, ssl);
            if (kind is { } k && Convert.FromHexString(parts[2]) is { Length: > 0 } secret)
            {
                if (!_found.TryGetValue(ssl, out var kinds))
                {
                    _found[ssl] = kinds = [];
                }

                kinds[k] = new Candidates(secret, HandshakeSearch.Find(memory, (ulong)ssl, secret));
            }
        }
    }

    public void OnMessage(nint ssl, bool written) => Check(ssl, done: false);

    public void OnHandshakeDone(nint ssl) => Check(ssl, done: true);

    private void Check(nint ssl, bool done)
    {
        lock (_lock)
        {
            if (_done.Contains(ssl) || !_found.ContainsKey(ssl))
            {
                return;
            }

            using var memory = Memory();
            if (memory != null)
            {
                Recheck(memory, ssl);
            }
            else
            {
                foreach (var c in _found[ssl].Values)
                {
                    c.Paths.Clear(); // unverifiable: proven nowhere
                }
            }

            if (done)
            {
                _done.Add(ssl);
            }
        }
    }

    private void Recheck(ProcessMemory memory, nint ssl)
    {
        if (!_found.TryGetValue(ssl, out var kinds))
        {
            return;
        }

        foreach (var c in kinds.Values)
        {
            var bytes = new byte[c.Secret.Length];
            c.Paths.RemoveWhere(path => LayoutReader.Resolve(memory, (ulong)ssl, path) is not { } address
                || memory.Read(address, bytes) != bytes.Length || !bytes.AsSpan().SequenceEqual(c.Secret));
        }
    }

    // The maps are read anew each time: the heap may have grown.
    private static ProcessMemory? Memory()
    {
        try
        {
            return ProcessMemory.Self();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
