using System.Globalization;

namespace TlsScope.KernelTests.Infrastructure;

/// <summary>Peers/gnutls_again.c, compiled with gcc once per test run against Debian's GnuTLS
/// (libgnutls28-dev): sends through a non-blocking socket and repeats each send that returned
/// GNUTLS_E_AGAIN with NULL, 0.</summary>
public static class GnutlsAgainClient
{
    private static readonly Lazy<string> Compiled = new(Compile);

    public static Proc Start(int port, int bytes) =>
        Proc.Start(Compiled.Value, [port.ToString(CultureInfo.InvariantCulture), bytes.ToString(CultureInfo.InvariantCulture)]);

    /// <summary>What the client sends: 64-byte lines of one letter each.</summary>
    public static byte[] Data(int bytes) =>
        [.. Enumerable.Range(0, bytes).Select(i => i % 64 == 63 ? (byte)'\n' : (byte)('a' + (i / 64) % 26))];

    private static string Compile()
    {
        if (!File.Exists("/usr/include/gnutls/gnutls.h"))
        {
            throw new InvalidOperationException("GnuTLS's headers are missing: install the libgnutls28-dev package (scripts/setup test)");
        }

        return PeerCompiler.Compile("gnutls_again", "-lgnutls");
    }
}
