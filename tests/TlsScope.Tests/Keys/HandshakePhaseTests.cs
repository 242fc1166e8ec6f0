using TlsScope.Sources.Tls.Keys.Decoding;
using TlsScope.Sources.Tls.Keys.Layout;


namespace TlsScope.Tests.Keys;

public class HandshakePhaseTests
{
    private static (KeyExtractor, KeyTestData.Collect) Extractor()
    {
        var sink = new KeyTestData.Collect();
        var extractor = new KeyExtractor(sink);
        extractor.SetLayout(0, KeyTestData.HandshakeLayout());
        return (extractor, sink);
    }

    private static string Hex(byte seed, int length)
    {
        var bytes = new byte[length];
        KeyTestData.Fill(bytes, length, seed);
        return Convert.ToHexStringLower(bytes);
    }

    [Fact]
    public void Extractor_MergesTheStashedHandshakeSecretsInOpenSslOrder()
    {
        var (extractor, sink) = Extractor();
        extractor.OnKeyMaterial(KeyTestData.Tls13(1, duringHandshake: true));
        Assert.Empty(sink.Sets); // waits for the record after the handshake
        extractor.OnKeyMaterial(KeyTestData.Tls13(1, duringHandshake: false));
        var set = Assert.Single(sink.Sets);
        var random = Hex(1, 32);
        // SHA-256 suite: the 48-byte slots are cut to 32 bytes.
        Assert.Equal([
            $"SERVER_HANDSHAKE_TRAFFIC_SECRET {random} {Hex(70, 32)}",
            $"EXPORTER_SECRET {random} {Hex(50, 32)}",
            $"SERVER_TRAFFIC_SECRET_0 {random} {Hex(40, 32)}",
            $"CLIENT_HANDSHAKE_TRAFFIC_SECRET {random} {Hex(60, 32)}",
            $"CLIENT_TRAFFIC_SECRET_0 {random} {Hex(30, 32)}",
        ], set.Lines);
        Assert.Equal(1, extractor.Sets);
        Assert.Equal(0, extractor.Incomplete);
    }

    [Fact]
    public void Extractor_WithoutAStashEmitsTheRestAndDedupesLaterRecords()
    {
        var (extractor, sink) = Extractor();
        extractor.OnKeyMaterial(KeyTestData.Tls13(2, duringHandshake: false));
        Assert.Equal(["EXPORTER_SECRET", "SERVER_TRAFFIC_SECRET_0", "CLIENT_TRAFFIC_SECRET_0"],
            Assert.Single(sink.Sets).Lines.Select(l => l.Split(' ')[0]));
        // The other end of the same handshake: nothing more, counted once as a duplicate.
        extractor.OnKeyMaterial(KeyTestData.Tls13(2, duringHandshake: true));
        extractor.OnKeyMaterial(KeyTestData.Tls13(2, duringHandshake: false));
        Assert.Single(sink.Sets);
        Assert.Equal(1, extractor.Duplicates);
    }

    [Fact]
    public void Extractor_StashIsPerClientRandomAndUnreadSlotsAreIncomplete()
    {
        var (extractor, sink) = Extractor();
        extractor.OnKeyMaterial(KeyTestData.Tls13(3, duringHandshake: true));
        extractor.OnKeyMaterial(KeyTestData.Tls13(4, duringHandshake: true) with { ReadMask = 0b01000001 });
        extractor.OnKeyMaterial(KeyTestData.Tls13(4, duringHandshake: false));
        extractor.OnKeyMaterial(KeyTestData.Tls13(3, duringHandshake: false));
        Assert.Equal(3, sink.Sets[0].Lines.Count); // 4: its record during the handshake lacked a slot
        Assert.Equal(5, sink.Sets[1].Lines.Count);
        Assert.Equal(1, extractor.Incomplete);
        Assert.Contains("ServerHandshakeTrafficSecret", extractor.LastIncompleteReason);
    }

    [Fact]
    public void Extractor_StashForgetsTheOldestPast4096()
    {
        var (extractor, sink) = Extractor();
        for (var i = 0; i <= 4096; i++)
        {
            var m = KeyTestData.Tls13(0, duringHandshake: true);
            BitConverter.GetBytes(i).CopyTo(m.Slots[0], 0);
            extractor.OnKeyMaterial(m);
        }
        foreach (var i in (int[])[0, 4096])
        {
            var m = KeyTestData.Tls13(0, duringHandshake: false);
            BitConverter.GetBytes(i).CopyTo(m.Slots[0], 0);
            extractor.OnKeyMaterial(m);
        }
        Assert.Equal([3, 5], sink.Sets.Select(s => s.Lines.Count));
    }

    [Fact]
    public void Layout_HandshakePhaseInJsonAndKernelMask()
    {
        var layout = KeyTestData.HandshakeLayout();
        var json = KeyLayoutJson.Write(layout);
        Assert.Contains("\"phase\": \"handshake\"", json);
        var back = KeyLayoutJson.Read(json);
        Assert.Equal(layout.Slots, back.Slots);
        Assert.Equal(0b11000000u, back.ToKernel().HandshakeMask);
        Assert.Equal(0u, KeyTestData.Layout().ToKernel().HandshakeMask);
        Assert.Throws<ArgumentException>(() => new KeyLayout("x", [
            new KeySlot(SlotKind.ClientRandom, new KeyPath([0]), 32),
            new KeySlot(SlotKind.Version, new KeyPath([0x20]), 2, Phase: SlotPhase.Handshake)]));
        var error = Assert.Throws<FormatException>(() => KeyLayoutJson.Read(json.Replace("\"handshake\"", "\"later\"", StringComparison.Ordinal)));
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Decoder_IgnoresHandshakePhaseSlotsAfterTheHandshake()
    {
        var m = KeyTestData.Tls13(5, duringHandshake: false);
        KeyTestData.Fill(m.Slots[6], 48, 99); // garbage through a stale pointer
        Assert.True(KeyDecoder.TryDecode(KeyTestData.HandshakeLayout(), m.Slots, m.ReadMask | 0b11000000, out var keys, out _));
        Assert.Equal(["EXPORTER_SECRET", "SERVER_TRAFFIC_SECRET_0", "CLIENT_TRAFFIC_SECRET_0"], keys!.Lines.Select(l => l.Split(' ')[0]));
    }
}
