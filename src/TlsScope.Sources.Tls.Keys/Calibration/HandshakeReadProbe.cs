using System.Numerics;
using TlsScope.Sources.Tls.Keys.Decoding;
using TlsScope.Sources.Tls.Keys.Layout;

namespace TlsScope.Sources.Tls.Keys.Calibration;

/// <summary>
/// Reads a layout's handshake-phase slots the way the kernel does: at each send (here: each
/// handshake message written) inside the handshake, once, as soon as the first 8 bytes of the
/// lowest handshake-phase slot are non-zero; slot 0 and the handshake-phase slots only.
/// </summary>
public sealed class HandshakeReadProbe : IHandshakeProbe
{
    private readonly KeyLayout _layout;
    private readonly uint _mask;
    private readonly Dictionary<nint, (byte[][] Slots, uint ReadMask)> _records = [];
    private readonly HashSet<nint> _done = [];
    private readonly Lock _lock = new();

    public HandshakeReadProbe(KeyLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        _layout = layout;
        _mask = layout.HandshakeMask;
    }

    /// <summary>The secrets read during <paramref name="ssl"/>'s handshake.</summary>
    /// <exception cref="CalibrationException">Nothing was read, or not both secrets.</exception>
    public HandshakeTrafficSecrets Secrets(nint ssl)
    {
        lock (_lock)
        {
            if (!_records.TryGetValue(ssl, out var record))
            {
                throw new CalibrationException("the handshake-phase slots were never ready during the handshake");
            }

            if (!KeyDecoder.TryReadDuringHandshake(_layout, record.Slots, record.ReadMask, out _, out var secrets, out var reason))
            {
                throw new CalibrationException($"the handshake-phase slots do not decode: {reason}");
            }

            return secrets!;
        }
    }

    public void OnKeylog(nint ssl, string line)
    {
    }

    public void OnMessage(nint ssl, bool written)
    {
        if (!written || _mask == 0)
        {
            return;
        }

        lock (_lock)
        {
            if (_done.Contains(ssl) || _records.ContainsKey(ssl))
            {
                return;
            }

            try
            {
                using var memory = ProcessMemory.Self();
                var ready = _layout.Slots[BitOperations.TrailingZeroCount(_mask)].Path;
                Span<byte> head = stackalloc byte[8];
                if (LayoutReader.Resolve(memory, (ulong)ssl, ready) is not { } address
                    || memory.Read(address, head) != 8 || head.IndexOfAnyExcept((byte)0) < 0)
                {
                    return;
                }

                _records[ssl] = LayoutReader.Read(memory, (ulong)ssl, _layout, _mask | 1);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Not read at this send; a later one may be.
            }
        }
    }

    public void OnHandshakeDone(nint ssl)
    {
        lock (_lock)
        {
            _done.Add(ssl);
        }
    }
}
