using TlsScope.Capture.Events;
using TlsScope.Capture.Model;
using TlsScope.Keys.Layout;

namespace TlsScope.Tests.Keys;

/// <summary>A synthetic layout and records for decoder, extractor and sink tests.</summary>
internal static class KeyTestData
{
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
            slot[i] = (byte)(seed + i);
    }
}
