using TlsScope.Sources.Tls.Keys.Layout;


namespace TlsScope.Sources.Tls.Keys.Decoding;

/// <summary>The slots of one record, looked up by kind, with the reason when one is unusable.
/// Handshake-phase slots come from <paramref name="duringHandshake"/> (the record read during
/// the handshake), never from this record.</summary>
internal readonly struct SlotView(KeyLayout layout, IReadOnlyList<byte[]> slots, uint readMask,
    HandshakeTrafficSecrets? duringHandshake = null)
{
    /// <summary>A slot the record cannot do without: absent, unread or zero is an error.</summary>
    public string? Required(SlotKind kind, int length, out ReadOnlySpan<byte> value)
    {
        value = default;
        var i = layout.IndexOf(kind);
        if (i < 0)
        {
            return $"the layout has no {kind} slot";
        }

        if (Get(i, length) is not { } bytes)
        {
            return $"slot {kind} was not read";
        }

        if (bytes.IndexOfAnyExcept((byte)0) < 0 && kind != SlotKind.Version)
        {
            return $"{kind} is zero";
        }

        value = bytes;
        return null;
    }

    /// <summary>The first of two kinds the layout has, as a copy; null when it has neither (the
    /// line is left out); unread or zero sets <paramref name="error"/>.</summary>
    public byte[]? Secret(SlotKind kind, SlotKind fallback, int length, ref string? error)
    {
        var i = layout.IndexOf(kind) is >= 0 and var k ? k : layout.IndexOf(fallback);
        if (i < 0 || error != null)
        {
            return null;
        }

        var actual = layout.Slots[i].Kind;
        return layout.Slots[i].Phase == SlotPhase.Handshake
            ? Stashed(actual, length, ref error)
            : NonZero(i, length, "", ref error);
    }

    /// <summary>A handshake-phase slot of a record read during the handshake, whole (slot size);
    /// null when the layout reads <paramref name="kind"/> after the handshake or not at all.</summary>
    public byte[]? DuringHandshake(SlotKind kind, ref string? error)
    {
        var i = layout.IndexOf(kind);
        if (i < 0 || layout.Slots[i].Phase != SlotPhase.Handshake || error != null)
        {
            return null;
        }

        return NonZero(i, layout.Slots[i].Size, " during the handshake", ref error);
    }

    /// <summary>Slot <paramref name="i"/> as a copy; unread or zero sets <paramref name="error"/>.</summary>
    private byte[]? NonZero(int i, int length, string when, ref string? error)
    {
        var kind = layout.Slots[i].Kind;
        if (Get(i, length) is not { } bytes)
        {
            error = $"slot {kind} was not read{when}";
        }
        else if (bytes.IndexOfAnyExcept((byte)0) < 0)
        {
            error = $"{kind} is zero";
        }
        else
        {
            return bytes.ToArray();
        }

        return null;
    }

    /// <summary>True for a server object; false without a role slot (the layout then has
    /// client/server secrets rather than own/peer ones).</summary>
    public bool IsServer(out string? error)
    {
        error = null;
        var i = layout.IndexOf(SlotKind.Role);
        if (i < 0)
        {
            return false;
        }

        if (Get(i, 1) is not { } bytes)
        {
            error = "slot Role was not read";
            return false;
        }
        return (bytes[0] & layout.Slots[i].Mask) != 0;
    }

    // No earlier record (the capture started mid-handshake, or it was lost): the line is left out.
    private byte[]? Stashed(SlotKind kind, int length, ref string? error)
    {
        var value = kind == SlotKind.ClientHandshakeTrafficSecret ? duringHandshake?.Client : duringHandshake?.Server;
        if (value == null || value.Length < length)
        {
            return null;
        }

        if (value.AsSpan(0, length).IndexOfAnyExcept((byte)0) < 0)
        {
            error = $"{kind} is zero";
            return null;
        }
        return value[..length];
    }

    private byte[]? Get(int i, int length)
    {
        if ((readMask & (1u << i)) == 0 || i >= slots.Count || slots[i] is not { } bytes)
        {
            return null;
        }
        // A slot narrower than the value (a 32-byte slot for a SHA-384 secret) cannot hold it.
        return layout.Slots[i].Size >= length && bytes.Length >= length ? bytes[..length] : null;
    }
}
