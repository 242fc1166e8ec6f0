using TlsScope.Sources.Tls.Keys.Calibration;
using TlsScope.Sources.Tls.Keys.Layout;


namespace TlsScope.Tests.Keys;

public class CalibrationTests
{
    [Fact]
    public void OpenSsl3_LayoutDecodesFreshHandshakesLikeTheKeylogCallback()
    {
        var layout = LayoutCalibrator.Calibrate(KeyTestData.OpenSsl3);
        Assert.Equal(SlotKind.ClientRandom, layout.Slots[0].Kind);
        foreach (var kind in (SlotKind[])[SlotKind.Version, SlotKind.CipherId, SlotKind.MasterKey, SlotKind.ClientAppSecret,
            SlotKind.ServerAppSecret, SlotKind.ExporterSecret, SlotKind.HandshakeSecret, SlotKind.HandshakeTrafficHash])
        {
            Assert.True(layout.Has(kind), $"no {kind}");
        }
        // OpenSSL keeps everything: the decoded lines are exactly the callback's, both ends.
        foreach (var c in HandshakeCase.All)
        {
            using var live = LiveHandshake.Run(KeyTestData.OpenSsl3, c);
            Assert.Equal(Sorted(live.ClientLines), Sorted(LayoutCalibrator.DecodeLive(layout, live.Client)));
            Assert.Equal(Sorted(live.ServerLines), Sorted(LayoutCalibrator.DecodeLive(layout, live.Server)));
        }
    }

    [Fact]
    public void BoringSsl_LayoutDecodesFreshHandshakesLikeTheKeylogCallback()
    {
        var layout = LayoutCalibrator.Calibrate(KeyTestData.BoringSsl);
        foreach (var kind in (SlotKind[])[SlotKind.Version, SlotKind.CipherId, SlotKind.MasterKey, SlotKind.Role,
            SlotKind.WriteAppSecret, SlotKind.ReadAppSecret, SlotKind.ExporterSecret])
        {
            Assert.True(layout.Has(kind), $"no {kind}");
        }
        // BoringSSL frees its handshake state (and the handshake traffic secrets) once the
        // handshake is done: those two are read during the handshake, as the kernel does.
        foreach (var kind in (SlotKind[])[SlotKind.ClientHandshakeTrafficSecret, SlotKind.ServerHandshakeTrafficSecret])
        {
            Assert.Equal(SlotPhase.Handshake, layout.Slots[layout.IndexOf(kind)].Phase);
        }

        foreach (var serverFirst in (bool[])[false, true])
        {
            foreach (var c in HandshakeCase.All)
            {
                var probe = new HandshakeReadProbe(layout);
                using var live = LiveHandshake.Run(KeyTestData.BoringSsl, c, serverFirst, probe: probe);
                foreach (var (ssl, lines) in (ReadOnlySpan<(nint, IReadOnlyList<string>)>)[(live.Client, live.ClientLines), (live.Server, live.ServerLines)])
                {
                    var during = c.MaxVersion == 0 ? probe.Secrets(ssl) : null;
                    Assert.Equal(c.MaxVersion == 0 ? 5 : 1, lines.Count);
                    Assert.Equal(Sorted(lines), Sorted(LayoutCalibrator.DecodeLive(layout, ssl, during)));
                }
            }
        }
    }

    [Fact]
    public void Search_FindsTheClientRandomOfALiveObject()
    {
        using var live = LiveHandshake.Run(KeyTestData.OpenSsl3, HandshakeCase.Tls13Aes256);
        using var memory = ProcessMemory.Self();
        var observation = SecretSearch.Search(memory, (ulong)live.Server, live.Describe(server: true));
        Assert.NotEmpty(observation.Paths[SlotKind.ClientRandom]);
        Assert.NotEmpty(observation.Paths[SlotKind.HandshakeSecret]);
        Assert.Equal(0x0304, live.Describe(server: true).Version);
        Assert.Equal(0x03001302u, live.Describe(server: true).CipherId);
    }

    [Fact]
    public void Helper_BadArgumentsAreOneLineErrors()
    {
        Assert.Equal(2, CalibrationHelper.Run([]));
        var error = Assert.Throws<CalibrationException>(() => LayoutCalibrator.Calibrate("/usr/lib/x86_64-linux-gnu/libz.so.1"));
        Assert.DoesNotContain('\n', error.Message);
        Assert.Contains("not found", error.Message);
    }

    private static List<string> Sorted(IEnumerable<string> lines) => lines.Order(StringComparer.Ordinal).ToList();
}
