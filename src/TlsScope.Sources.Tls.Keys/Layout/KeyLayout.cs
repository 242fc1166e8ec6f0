
namespace TlsScope.Sources.Tls.Keys.Layout;

/// <summary>
/// Where one library build keeps a handshake's secrets, as memory paths from its SSL object.
/// Slot 0 is always the client random; the slot order is the kernel's slot order.
/// </summary>
public sealed class KeyLayout
{
    public KeyLayout(string origin, IReadOnlyList<KeySlot> slots)
    {
        ArgumentNullException.ThrowIfNull(origin);
        ArgumentNullException.ThrowIfNull(slots);
        if (Validate(slots) is { } error)
        {
            throw new ArgumentException(error, nameof(slots));
        }

        Origin = origin;
        Slots = slots.ToArray();
    }

    /// <summary>Where the layout came from, e.g. "calibrated OpenSSL 3.0.22 1 Jul 2025".</summary>
    public string Origin { get; }

    public IReadOnlyList<KeySlot> Slots { get; }

    /// <summary>Index of the slot of <paramref name="kind"/>, or -1.</summary>
    public int IndexOf(SlotKind kind)
    {
        for (var i = 0; i < Slots.Count; i++)
        {
            if (Slots[i].Kind == kind)
            {
                return i;
            }
        }

        return -1;
    }

    public bool Has(SlotKind kind) => IndexOf(kind) >= 0;

    /// <summary>Bit i: slot i is read during the handshake (<see cref="SlotPhase.Handshake"/>).</summary>
    public uint HandshakeMask
    {
        get
        {
            var mask = 0u;
            for (var i = 0; i < Slots.Count; i++)
            {
                if (Slots[i].Phase == SlotPhase.Handshake)
                {
                    mask |= 1u << i;
                }
            }

            return mask;
        }
    }

    /// <summary>The kernel's form: every slot's path, the version slot, the slots that say a
    /// handshake's keys are complete (TLS 1.2: master key; TLS 1.3: the client or own
    /// application secret) and the slots read during the handshake.</summary>
    public KernelKeyLayout ToKernel()
    {
        var kernel = new KernelKeyLayout { Valid = 1, VersionSlot = (uint)IndexOf(SlotKind.Version) };
        for (var i = 0; i < Slots.Count; i++)
        {
            KernelKeyLayout.Slot(ref kernel, i) = Slots[i].Path.ToKernel((uint)Slots[i].Size);
        }

        kernel.ReadySlot12 = (uint)ReadyIndex(SlotKind.MasterKey, SlotKind.MasterKey);
        kernel.ReadySlot13 = (uint)ReadyIndex(SlotKind.ClientAppSecret, SlotKind.WriteAppSecret);
        kernel.HandshakeMask = HandshakeMask;
        kernel.HandshakeReadySlot = HandshakeMask == 0 ? 0 : (uint)System.Numerics.BitOperations.TrailingZeroCount(HandshakeMask);
        return kernel;
    }

    // A version the layout cannot decode points at slot 0 (always non-zero once known): those
    // records come up and are counted as incomplete rather than vanishing silently.
    private int ReadyIndex(SlotKind first, SlotKind second) =>
        Math.Max(0, IndexOf(first) is >= 0 and var i ? i : IndexOf(second));

    private static string? Validate(IReadOnlyList<KeySlot> slots)
    {
        if (slots.Count is 0 or > KernelKeyLayout.Slots)
        {
            return $"a key layout has 1 to {KernelKeyLayout.Slots} slots, not {slots.Count}";
        }

        if (slots[0].Kind != SlotKind.ClientRandom || slots[0].Size != 32)
        {
            return "slot 0 of a key layout must be the 32-byte client random";
        }

        if (!slots.Any(s => s.Kind == SlotKind.Version))
        {
            return "a key layout needs a version slot";
        }

        foreach (var s in slots)
        {
            if (s.Size is <= 0 or > KernelKeyLayout.SlotSize)
            {
                return $"slot {s.Kind}: size {s.Size} is not 1..{KernelKeyLayout.SlotSize}";
            }

            if (slots.Count(o => o.Kind == s.Kind) > 1)
            {
                return $"slot {s.Kind} appears twice";
            }

            if (s.Kind == SlotKind.Role && s.Mask == 0)
            {
                return "the role slot needs a non-zero mask";
            }

            if (s.Phase == SlotPhase.Handshake && s.Kind is not (SlotKind.ClientHandshakeTrafficSecret or SlotKind.ServerHandshakeTrafficSecret))
            {
                return $"slot {s.Kind} cannot be read during the handshake (handshake traffic secrets only)";
            }
        }
        return null;
    }
}
