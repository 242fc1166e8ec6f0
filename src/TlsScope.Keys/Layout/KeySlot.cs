namespace TlsScope.Keys.Layout;

/// <summary>One value the kernel reads: its meaning, where it is and how many bytes.
/// <paramref name="Mask"/> is used by <see cref="SlotKind.Role"/> only.</summary>
public sealed record KeySlot(SlotKind Kind, KeyPath Path, int Size, byte Mask = 0);
