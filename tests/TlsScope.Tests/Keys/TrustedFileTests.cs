using TlsScope.Sources.Tls.Keys.Resolution;


namespace TlsScope.Tests.Keys;

/// <summary>Calibration loads a library as root: only files root alone could have written.</summary>
public sealed class TrustedFileTests
{
    [Fact]
    public void SystemLibraryIsTrusted() => Assert.Null(TrustedFile.Check("/usr/lib/x86_64-linux-gnu/libssl.so.3"));

    [Fact]
    public void FileInAWorldWritableDirectoryIsNot()
    {
        var dir = Directory.CreateTempSubdirectory("tlsscope-trust-");
        try
        {
            var copy = Path.Combine(dir.FullName, "libssl.so.3");
            File.Copy("/usr/lib/x86_64-linux-gnu/libssl.so.3", copy);
            File.SetUnixFileMode(dir.FullName, File.GetUnixFileMode(dir.FullName) | UnixFileMode.OtherWrite);
            Assert.Equal($"{dir.FullName} is writable by other users", TrustedFile.Check(copy));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void ContainerPathIsNot() =>
        Assert.Equal("it lives in another mount namespace (a container's)", TrustedFile.Check("/proc/1/root/usr/lib/x86_64-linux-gnu/libssl.so.3"));
}
