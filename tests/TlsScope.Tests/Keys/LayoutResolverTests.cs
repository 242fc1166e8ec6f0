using TlsScope.Sources.Tls.Keys.Layout;
using TlsScope.Sources.Tls.Keys.Resolution;
using TlsScope.Sources.Tls.Keys.Calibration;


namespace TlsScope.Tests.Keys;

public sealed class LayoutResolverTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("tlsscope-layouts");

    private sealed class CountingCalibrator(Func<string, KeyLayout> calibrate) : ILayoutCalibrator
    {
        public int Calls { get; private set; }

        public KeyLayout Calibrate(string libraryPath)
        {
            Calls++;
            return calibrate(libraryPath);
        }
    }

    public void Dispose() => _dir.Delete(recursive: true);

    private LayoutCache Cache => new(Path.Combine(_dir.FullName, "cache"));

    [Fact]
    public void SharedLibrary_IsCalibratedOnceThenCached()
    {
        var calibrator = new CountingCalibrator(_ => KeyTestData.Layout());
        var first = new LayoutResolver(Cache, calibrator).Resolve(KeyTestData.OpenSsl3);
        var again = new LayoutResolver(Cache, calibrator).Resolve(KeyTestData.OpenSsl3);
        Assert.Equal(1, calibrator.Calls);
        Assert.Equal(first.Slots, again.Slots);
        var cacheDir = new DirectoryInfo(Cache.Directory);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, cacheDir.UnixFileMode);
        Assert.Single(cacheDir.GetFiles("*.json"));
    }

    [Fact]
    public void Cache_IgnoresEntriesOfAnOlderLayoutFormat()
    {
        var cache = Cache;
        Directory.CreateDirectory(cache.Directory);
        File.WriteAllText(Path.Combine(cache.Directory, "abc.json"), KeyLayoutJson.Write(KeyTestData.Layout()));
        Assert.Null(cache.Load("abc")); // written before handshake-phase slots: calibrate again
        Assert.True(cache.Store("abc", KeyTestData.HandshakeLayout()));
        Assert.Equal(KeyTestData.HandshakeLayout().Slots, cache.Load("abc")!.Slots);
    }

    [Fact]
    public void FailedCalibration_FallsBackToTheVersionTable()
    {
        var calibrator = new CountingCalibrator(_ => throw new CalibrationException("boom"));
        var layout = new LayoutResolver(Cache, calibrator).Resolve(KeyTestData.OpenSsl3);
        Assert.Equal(1, calibrator.Calls);
        Assert.Contains("OpenSSL 3.0", layout.Origin);
    }

    [Fact]
    public void Node_GetsTheOpenSsl30TableEntryWithoutCalibration()
    {
        Assert.StartsWith("OpenSSL 3.0.", VersionScanner.Find("/usr/bin/node"));
        var calibrator = new CountingCalibrator(_ => throw new InvalidOperationException("must not calibrate an executable"));
        var layout = new LayoutResolver(Cache, calibrator).Resolve("/usr/bin/node");
        Assert.Same(KnownLayouts.Find("OpenSSL 3.0.19 27 Jan 2026"), layout);
        Assert.Equal(0, calibrator.Calls);
    }

    [Fact]
    public void TableEntry_MatchesTheCalibratedSystemLibrary()
    {
        var calibrated = LayoutCalibrator.Calibrate(KeyTestData.OpenSsl3);
        Assert.Equal(calibrated.Slots, KnownLayouts.Find("OpenSSL 3.0.22")!.Slots);
    }

    [Fact]
    public void BadInput_IsOneLine()
    {
        var resolver = new LayoutResolver(Cache, new CountingCalibrator(_ => throw new CalibrationException("no")));
        var text = Path.Combine(_dir.FullName, "notes.so");
        File.WriteAllText(text, "hello");
        AssertOneLine(resolver, "/nonexistent/libssl.so.3", "no key layout for /nonexistent/libssl.so.3: file not found");
        AssertOneLine(resolver, text, $"no key layout for {text}: not an ELF file");
        AssertOneLine(resolver, "/usr/lib/x86_64-linux-gnu/libz.so.1", "no key layout for /usr/lib/x86_64-linux-gnu/libz.so.1: no SSL_read/SSL_write");
    }

    private static void AssertOneLine(LayoutResolver resolver, string path, string expectedStart)
    {
        Assert.Null(resolver.TryResolve(path, out var error));
        Assert.NotNull(error);
        Assert.StartsWith(expectedStart, error);
        Assert.DoesNotContain('\n', error);
    }
}
