namespace TlsScope.Sources.Tls.Keys.Layout;

/// <summary>One value the kernel reads: its meaning, where it is and how many bytes.
/// <paramref name="Mask"/> is used by <see cref="SlotKind.Role"/> only; <paramref name="Phase"/>
/// says when the value can be read.</summary>
public sealed record KeySlot(SlotKind Kind, KeyPath Path, int Size, byte Mask = 0, SlotPhase Phase = SlotPhase.Established);

/// <summary>When a slot holds its value.</summary>
public enum SlotPhase
{
    /// <summary>From the end of the handshake on: read at the first SSL_read/SSL_write return.</summary>
    Established,
    /// <summary>Only while the handshake runs (BoringSSL frees its handshake state at the end):
    /// read at the socket sends inside SSL_do_handshake. TLS 1.3 handshake traffic secrets only.</summary>
    Handshake,
}
