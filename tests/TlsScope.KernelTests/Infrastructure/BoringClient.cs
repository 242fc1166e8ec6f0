using System.Globalization;

namespace TlsScope.KernelTests.Infrastructure;

/// <summary>
/// Peers/boring_client.c: an HTTPS/1.1 client on Debian's BoringSSL (android-libboringssl-dev),
/// compiled with gcc once per test run. It sends COUNT GETs on one connection (the last with
/// Connection: close), writes the responses to stdout and "boring_client: &lt;version&gt; &lt;cipher&gt;"
/// to stderr, and with a key log path, BoringSSL's own key log lines there.
/// </summary>
public static class BoringClient
{
    public const string LibDir = "/usr/lib/x86_64-linux-gnu/android";
    public const string LibSsl = LibDir + "/libssl.so.0";
    public const string LibCrypto = LibDir + "/libcrypto.so.0";
    private const string IncludeDir = "/usr/include/android";

    private static readonly Lazy<string> Compiled = new(Compile);

    /// <summary>The compiled client (built on first use).</summary>
    public static string BinaryPath => Compiled.Value;

    /// <summary>Starts the client against HOST:PORT/PATH; with <paramref name="ns"/>, inside it.</summary>
    public static Proc Start(string host, int port, string path, TlsVersion version = TlsVersion.Default,
        string? keylogPath = null, int count = 1, NetNs? ns = null) =>
        NetNs.StartIn(ns, BinaryPath, Args(host, port, path, version, keylogPath, count));

    /// <summary>Runs the client to completion with a key log of its own; throws if it fails.</summary>
    public static KeylogRun Run(int port, string path, TlsVersion version = TlsVersion.Default, int count = 1,
        string host = "127.0.0.1", NetNs? ns = null) =>
        KeylogClients.RunWithKeylog(ns, BinaryPath, keylog => (Args(host, port, path, version, keylog, count), null));

    private static List<string> Args(string host, int port, string path, TlsVersion version, string? keylogPath, int count)
    {
        List<string> args = [host, port.ToString(CultureInfo.InvariantCulture), path];
        if (version != TlsVersion.Default)
        {
            args.Add(version == TlsVersion.Tls12 ? "--tls12" : "--tls13");
        }

        if (keylogPath is not null)
        {
            args.AddRange(["--keylog", keylogPath]);
        }

        args.AddRange(["--count", count.ToString(CultureInfo.InvariantCulture)]);
        return args;
    }

    private static string Compile()
    {
        if (!File.Exists(Path.Combine(IncludeDir, "openssl/ssl.h")) || !File.Exists(LibSsl) || !File.Exists(LibCrypto))
        {
            throw new InvalidOperationException("BoringSSL is missing: install the android-libboringssl-dev package (scripts/setup test)");
        }

        Tools.Require("gcc", "gcc");
        var source = Path.Combine(Repo.Root, "tests/TlsScope.KernelTests/Peers/boring_client.c");
        var binary = Path.Combine(TempDirectory.ForRun("tlsscope-boring-"), "boring_client");
        // Linked by soname with an rpath: the libraries sit outside the loader's search path.
        var (code, _, err) = Proc.Run("gcc", ["-O1", "-Wall", "-Wextra", "-Werror", "-I" + IncludeDir, "-o", binary, source,
            "-L" + LibDir, "-l:libssl.so.0", "-l:libcrypto.so.0", "-Wl,-rpath," + LibDir]);
        if (code != 0)
        {
            throw new InvalidOperationException("compiling boring_client.c failed: " + err);
        }

        return binary;
    }
}
