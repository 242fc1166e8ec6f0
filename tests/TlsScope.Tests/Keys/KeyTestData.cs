using TlsScope.Engine.Model;
using TlsScope.Sources.Tls.Keys.Layout;


namespace TlsScope.Tests.Keys;

/// <summary>A synthetic layout and records for decoder, extractor and sink tests.</summary>
internal static class KeyTestData
{
    /// <summary>A key sink that keeps every set.</summary>
    public sealed class Collect : IKeySink
    {
        public List<TlsKeySet> Sets { get; } = [];
        public void OnKeys(TlsKeySet keys) => Sets.Add(keys);
    }

    public const string OpenSsl3 = "/usr/lib/x86_64-linux-gnu/libssl.so.3";
    public const string BoringSsl = "/usr/lib/x86_64-linux-gnu/android/libssl.so.0";

    // Slots: 0 client random, 1 version, 2 cipher, 3 master key, 4 client app, 5 server app.
    public static KeyLayout Layout() => new("test", [
        new KeySlot(SlotKind.ClientRandom, new KeyPath([0x10]), 32),
        new KeySlot(SlotKind.Version, new KeyPath([0x0]), 2),
        new KeySlot(SlotKind.CipherId, new KeyPath([0x8, 0x18]), 4),
        new KeySlot(SlotKind.MasterKey, new KeyPath([0x20, 0x50]), 48),
        new KeySlot(SlotKind.ClientAppSecret, new KeyPath([0x100]), 48),
        new KeySlot(SlotKind.ServerAppSecret, new KeyPath([0x140]), 48),
    ]);

    // Slots: 0 client random, 1 version, 2 cipher, 3 client app, 4 server app, 5 exporter,
    // 6 client and 7 server handshake traffic secrets, read during the handshake.
    public static KeyLayout HandshakeLayout() => new("test", [
        new KeySlot(SlotKind.ClientRandom, new KeyPath([0x10]), 32),
        new KeySlot(SlotKind.Version, new KeyPath([0x0]), 2),
        new KeySlot(SlotKind.CipherId, new KeyPath([0x8, 0x18]), 4),
        new KeySlot(SlotKind.ClientAppSecret, new KeyPath([0x100]), 48),
        new KeySlot(SlotKind.ServerAppSecret, new KeyPath([0x140]), 48),
        new KeySlot(SlotKind.ExporterSecret, new KeyPath([0x180]), 48),
        new KeySlot(SlotKind.ClientHandshakeTrafficSecret, new KeyPath([0x30, 0x110, 0x88]), 48, Phase: SlotPhase.Handshake),
        new KeySlot(SlotKind.ServerHandshakeTrafficSecret, new KeyPath([0x30, 0x110, 0xb8]), 48, Phase: SlotPhase.Handshake),
    ]);

    /// <summary>A <see cref="HandshakeLayout"/> record: during the handshake slots 0, 6 and 7
    /// (secrets seeded 60 and 70), after it the others (seeded 30, 40, 50; cipher
    /// TLS_AES_128_GCM_SHA256), with 6 and 7 unread.</summary>
    public static KeyMaterial Tls13(byte randomSeed, bool duringHandshake)
    {
        var slots = Empty();
        Fill(slots[0], 32, randomSeed);
        if (duringHandshake)
        {
            Fill(slots[6], 48, 60);
            Fill(slots[7], 48, 70);
            return Material(slots, 0b11000001) with { DuringHandshake = true };
        }
        slots[1][0] = 0x04;
        slots[1][1] = 0x03;
        BitConverter.GetBytes(0x03001301u).CopyTo(slots[2], 0);
        Fill(slots[3], 48, 30);
        Fill(slots[4], 48, 40);
        Fill(slots[5], 48, 50);
        return Material(slots, 0b00111111);
    }

    public static KeyMaterial Tls12(byte randomSeed, byte masterSeed, uint readMask = 0b111111)
    {
        var slots = Empty();
        Fill(slots[0], 32, randomSeed);
        slots[1][0] = 0x03;
        slots[1][1] = 0x03;
        Fill(slots[3], 48, masterSeed);
        return Material(slots, readMask);
    }

    public static KeyMaterial Material(byte[][] slots, uint readMask) =>
        new(0, 1, new ProcessInfo(1, 1, 0, "test"), 0, "libtest.so", 0x1000, readMask, slots);

    public static byte[][] Empty() =>
        Enumerable.Range(0, KernelKeyLayout.Slots).Select(_ => new byte[KernelKeyLayout.SlotSize]).ToArray();

    public static void Fill(byte[] slot, int length, byte seed)
    {
        for (var i = 0; i < length; i++)
        {
            slot[i] = (byte)(seed + i);
        }
    }
}
