using TlsScope.KernelTests.Infrastructure;

namespace TlsScope.KernelTests;

/// <summary>Every bad input gives one clear line on stderr and exit status 1, never a trace.</summary>
public sealed class BadInputTests
{
    private static void AssertOneLineError(int code, string stderr, string expected)
    {
        Assert.Equal(1, code);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var line = Assert.Single(lines);
        Assert.StartsWith("tlsscope: ", line);
        Assert.Contains(expected, line);
        Assert.DoesNotContain("   at ", stderr);
    }

    [KernelFact]
    public void UnknownPid()
    {
        var (code, err) = TlsScopeRun.RunToEnd("--pid", "999999", "--duration", "1");
        AssertOneLineError(code, err, "--pid 999999: no such process");
    }

    [KernelFact]
    public void LibsslThatIsNotAnElfFile()
    {
        var path = Path.GetTempFileName();
        File.WriteAllText(path, "not a library\n");
        var (code, err) = TlsScopeRun.RunToEnd("--libssl", path, "--duration", "1");
        AssertOneLineError(code, err, $"--libssl {path}: ");
        Assert.Contains("not an elf", err.ToLowerInvariant());
        File.Delete(path);
    }

    [KernelFact]
    public void LibsslWithoutSslSymbols()
    {
        var (code, err) = TlsScopeRun.RunToEnd("--libssl", "/usr/lib/x86_64-linux-gnu/libc.so.6", "--duration", "1");
        AssertOneLineError(code, err, "no TLS functions found");
    }

    [KernelFact]
    public void LibsslThatDoesNotExist()
    {
        var (code, err) = TlsScopeRun.RunToEnd("--libssl", "/nonexistent/libssl.so", "--duration", "1");
        AssertOneLineError(code, err, "--libssl /nonexistent/libssl.so: no such file");
    }

    [KernelFact]
    public void UnwritableOutput()
    {
        var (code, err) = TlsScopeRun.RunToEnd("-o", "/nonexistent-dir/out.txt", "--duration", "1");
        AssertOneLineError(code, err, "/nonexistent-dir/out.txt");
    }

    [KernelFact]
    public void UnknownFormatAndBadNumbers()
    {
        var (code, err) = TlsScopeRun.RunToEnd("--format", "xml");
        AssertOneLineError(code, err, "xml");
        (code, err) = TlsScopeRun.RunToEnd("--pid", "abc");
        AssertOneLineError(code, err, "abc");
        (code, err) = TlsScopeRun.RunToEnd("--comm", "a-name-longer-than-15", "--duration", "1");
        AssertOneLineError(code, err, "15-byte");
    }

    [KernelFact]
    public void NotRoot()
    {
        var (code, _, err) = Proc.Run("setpriv",
            ["--reuid=65534", "--regid=65534", "--clear-groups", "env", "HOME=/tmp", "DOTNET_CLI_HOME=/tmp",
             "dotnet", TlsScopeRun.Dll, "--duration", "1"]);
        AssertOneLineError(code, err, "needs root");
    }
}
