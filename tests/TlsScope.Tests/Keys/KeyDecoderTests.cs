using TlsScope.Sources.Tls.Keys.Decoding;
using TlsScope.Sources.Tls.Keys.Layout;


namespace TlsScope.Tests.Keys;

public class KeyDecoderTests
{
    [Fact]
    public void Tls12_GivesOneClientRandomLine()
    {
        var m = KeyTestData.Tls12(1, 100);
        Assert.True(KeyDecoder.TryDecode(KeyTestData.Layout(), m.Slots, m.ReadMask, out var keys, out _));
        var line = Assert.Single(keys!.Lines);
        Assert.Equal($"CLIENT_RANDOM {Convert.ToHexStringLower(m.Slots[0][..32])} {Convert.ToHexStringLower(m.Slots[3][..48])}", line);
    }

    [Fact]
    public void Tls13_UsesTheCipherHashLengthAndOpenSslOrder()
    {
        var slots = KeyTestData.Empty();
        KeyTestData.Fill(slots[0], 32, 1);
        slots[1][0] = 0x04;
        slots[1][1] = 0x03;
        BitConverter.GetBytes(0x03001302u).CopyTo(slots[2], 0);
        KeyTestData.Fill(slots[4], 48, 50);
        KeyTestData.Fill(slots[5], 48, 150);
        Assert.True(KeyDecoder.TryDecode(KeyTestData.Layout(), slots, 0b110111, out var keys, out _));
        Assert.Equal(["SERVER_TRAFFIC_SECRET_0", "CLIENT_TRAFFIC_SECRET_0"], keys!.Lines.Select(l => l.Split(' ')[0]));
        Assert.All(keys.Lines, l => Assert.Equal(96, l.Split(' ')[2].Length)); // SHA-384: 48 bytes
    }

    [Fact]
    public void Extractor_DedupesByClientRandomAndCountsIncomplete()
    {
        var sink = new KeyTestData.Collect();
        var extractor = new KeyExtractor(sink);
        extractor.SetLayout(0, KeyTestData.Layout());
        extractor.OnKeyMaterial(KeyTestData.Tls12(1, 100));
        extractor.OnKeyMaterial(KeyTestData.Tls12(1, 100)); // the other end of the same connection
        extractor.OnKeyMaterial(KeyTestData.Tls12(2, 0));
        var zero = KeyTestData.Tls12(3, 0);
        Array.Clear(zero.Slots[3]);
        extractor.OnKeyMaterial(zero);
        extractor.OnKeyMaterial(KeyTestData.Tls12(4, 100, readMask: 0b110111)); // master key unread
        extractor.OnKeyMaterial(KeyTestData.Tls12(5, 100) with { LibraryIndex = 9 });
        Assert.Equal(2, sink.Sets.Count);
        Assert.Equal(2, extractor.Sets);
        Assert.Equal(1, extractor.Duplicates);
        Assert.Equal(2, extractor.Incomplete);
        Assert.Equal(1, extractor.NoLayout);
        Assert.Contains("MasterKey", extractor.LastIncompleteReason);
    }

    [Fact]
    public void Layout_JsonRoundTripAndKernelForm()
    {
        var layout = KeyTestData.Layout();
        var back = KeyLayoutJson.Read(KeyLayoutJson.Write(layout));
        Assert.Equal(layout.Slots, back.Slots);
        var kernel = back.ToKernel();
        Assert.Equal(1u, kernel.Valid);
        Assert.Equal(1u, kernel.VersionSlot);
        Assert.Equal(3u, kernel.ReadySlot12);
        Assert.Equal(4u, kernel.ReadySlot13);
        var cipher = TlsScope.Sources.Tls.Keys.Layout.KernelKeyLayout.Slot(ref kernel, 2);
        Assert.Equal(1u, cipher.Deref);
        Assert.Equal(4u, cipher.Size);
        Assert.Throws<ArgumentException>(() => new KeyLayout("x", [new KeySlot(SlotKind.Version, new KeyPath([0]), 2)]));
        Assert.Throws<FormatException>(() => KeyLayoutJson.Read("{\"slots\":[{\"kind\":\"Nope\"}]}"));
    }
}
