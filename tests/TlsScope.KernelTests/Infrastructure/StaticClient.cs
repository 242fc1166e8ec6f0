namespace TlsScope.KernelTests.Infrastructure;

/// <summary>
/// Peers/static_client.c linked with Debian's libssl.a and libcrypto.a (libssl-dev): OpenSSL in
/// the executable itself, a TLS client that writes within milliseconds of its exec. Built once per
/// test run; <see cref="FreshCopy"/> gives a file no process has run yet.
/// </summary>
public static class StaticClient
{
    private static readonly Lazy<string> Compiled = new(Compile);

    public static string BinaryPath => Compiled.Value;

    /// <summary>A copy under a new path (a new inode): never seen by TlsScope before.</summary>
    public static string FreshCopy(string directory)
    {
        var copy = Path.Combine(directory, $"client-{Guid.NewGuid():N}");
        File.Copy(BinaryPath, copy);
        File.SetUnixFileMode(copy, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return copy;
    }

    private static string Compile()
    {
        if (!File.Exists("/usr/lib/x86_64-linux-gnu/libssl.a"))
        {
            throw new InvalidOperationException("libssl.a is missing: install the libssl-dev package (scripts/setup test)");
        }

        Tools.Require("gcc", "gcc");
        var source = Path.Combine(Repo.Root, "tests/TlsScope.KernelTests/Peers/static_client.c");
        var binary = Path.Combine(TempDirectory.ForRun("tlsscope-static-"), "static_client");
        var (code, _, err) = Proc.Run("gcc", ["-O1", "-Wall", "-Werror", "-o", binary, source,
            "-Wl,-Bstatic", "-lssl", "-lcrypto", "-Wl,-Bdynamic", "-ldl", "-lpthread"]);
        if (code != 0)
        {
            throw new InvalidOperationException("compiling static_client.c failed: " + err);
        }

        return binary;
    }
}
