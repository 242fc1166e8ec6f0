using TlsScope.Sources.Tls.Keys.Calibration;
using TlsScope.Sources.Tls.Keys.Resolution;


namespace TlsScope.Tests.Keys;

/// <summary>How the calibration helper is started: never a PATH lookup, and as root it drops to
/// nobody with an empty environment before the library is loaded.</summary>
public sealed class HelperCommandTests
{
    [Fact]
    public void AsRootTheHelperRunsAsNobodyWithAnEmptyEnvironment()
    {
        var start = HelperProcessCalibrator.DefaultCommand("/usr/lib/x86_64-linux-gnu/libssl.so.3");
        var args = start.ArgumentList.ToList();
        if (Environment.UserName != "root")
        {
            Assert.True(Path.IsPathRooted(start.FileName), start.FileName);
            Assert.Equal("0", start.Environment["DOTNET_EnableDiagnostics"]);
            return; // not root: nothing to drop
        }
        Assert.Equal("/usr/bin/setpriv", start.FileName);
        Assert.Equal(["--reuid=65534", "--regid=65534", "--clear-groups", "--no-new-privs", "/usr/bin/env", "-i"], args[..6]);
        Assert.Equal(["PATH=/usr/bin:/bin", "HOME=/nonexistent", "DOTNET_EnableDiagnostics=0"], args[6..9]); // no diagnostic socket in /tmp
        Assert.True(Path.IsPathRooted(args[9]), args[9]); // the dotnet host, by absolute path
        Assert.Equal([CalibrationHelper.Command, "/usr/lib/x86_64-linux-gnu/libssl.so.3"], args[^2..]);
    }

    [Fact]
    public void TheUnprivilegedHelperReallyCalibrates()
    {
        if (Environment.UserName != "root")
        {
            return; // covered by the in-process calibration tests
        }

        var layout = new HelperProcessCalibrator().Calibrate("/usr/lib/x86_64-linux-gnu/libssl.so.3");
        Assert.Contains("calibrated", layout.Origin, StringComparison.Ordinal);
    }
}
