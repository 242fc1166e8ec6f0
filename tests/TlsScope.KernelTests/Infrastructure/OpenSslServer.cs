using System.Globalization;
using System.Text;

namespace TlsScope.KernelTests.Infrastructure;

/// <summary>
/// `openssl s_server` in its plain mode, which calls SSL_read/SSL_write itself: what a client
/// sends shows on its stdout, and what the test writes to its stdin is sent to the client.
/// Serves one connection (-naccept 1).
/// </summary>
public sealed class OpenSslServer : IDisposable
{
    private readonly Proc _proc;

    private OpenSslServer(Proc proc, int port)
    {
        _proc = proc;
        Port = port;
    }

    public int Port { get; }

    public int Pid => _proc.Pid;

    public string Received => _proc.Stdout;

    public static OpenSslServer Start(string? tlsVersion = null, bool ipv6 = false)
    {
        var port = Ports.Free();
        List<string> args = ["s_server", "-accept", ipv6 ? $"[::1]:{port}" : $"127.0.0.1:{port}", "-cert", TestCert.CertPath, "-key", TestCert.KeyPath, "-quiet", "-naccept", "1"];
        if (tlsVersion is not null)
        {
            args.Add(tlsVersion);
        }

        var proc = Proc.Start("openssl", args, redirectStdin: true);
        WaitListening(port);
        return new OpenSslServer(proc, port);
    }

    /// <summary>Waits until something listens on the loopback port (from /proc/net/tcp), so no
    /// probing connection uses up the server's single accept.</summary>
    public static void WaitListening(int port)
    {
        var hex = port.ToString("X4", CultureInfo.InvariantCulture);
        Proc.WaitFor(() => File.ReadLines("/proc/net/tcp").Concat(File.ReadLines("/proc/net/tcp6"))
                .Any(l => l.Contains($":{hex} ", StringComparison.Ordinal) && l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3] == "0A"),
            TimeSpan.FromSeconds(10), $"a listener on port {port}");
    }

    /// <summary>Waits for the client's request to arrive (its blank line).</summary>
    public void WaitForRequest(string marker = "\n\n") =>
        Proc.WaitFor(() => Received.Contains(marker, StringComparison.Ordinal), TimeSpan.FromSeconds(20), "the request at s_server");

    public void Send(byte[] bytes)
    {
        var stdin = _proc.Process.StandardInput.BaseStream;
        stdin.Write(bytes);
        stdin.Flush();
    }

    public void Send(string text) => Send(Encoding.ASCII.GetBytes(text));

    public bool WaitForExit(TimeSpan timeout) => _proc.Process.WaitForExit(timeout);

    public void Dispose() => _proc.Dispose();
}
