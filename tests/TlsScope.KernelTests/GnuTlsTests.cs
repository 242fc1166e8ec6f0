using System.Globalization;
using System.Text;
using TlsScope.KernelTests.Infrastructure;

namespace TlsScope.KernelTests;

/// <summary>
/// GnuTLS (libgnutls.so.30) with Debian's own programs: gnutls-cli and wget as clients, gnutls-serv
/// as a server, each against an OpenSSL peer that is traced too, so every assertion names the pid
/// and direction it means.
/// </summary>
public sealed class GnuTlsTests
{
    private const string Library = "libgnutls.so.30";

    /// <summary>gnutls_record_send tail-jumps into gnutls_record_send2: both are probed, and the
    /// bytes are there once.</summary>
    [KernelFact]
    public void GnutlsCliWritesAndReadsAreCapturedOnceWithTheirTuple()
    {
        const string Hello = "HELLO from gnutls-cli\n";
        const string Reply = "pong from s_server\n";
        using var server = OpenSslServer.Start();
        using var scope = TlsScopeRun.Start();
        using var cli = Proc.Start("gnutls-cli", ["--insecure", "-p", server.Port.ToString(CultureInfo.InvariantCulture), "127.0.0.1"],
            redirectStdin: true);
        Proc.WaitFor(() => cli.Stdout.Contains("Handshake was completed", StringComparison.Ordinal), TimeSpan.FromSeconds(20), "gnutls-cli's handshake");
        cli.Process.StandardInput.Write(Hello);
        cli.Process.StandardInput.Flush();
        server.WaitForRequest(Hello);
        server.Send(Encoding.ASCII.GetBytes(Reply));
        Proc.WaitFor(() => cli.Stdout.Contains(Reply.TrimEnd(), StringComparison.Ordinal), TimeSpan.FromSeconds(20), "the reply at gnutls-cli");
        var cliPid = cli.Pid;
        cli.Process.StandardInput.Close();
        Assert.True(cli.WaitForExit(TimeSpan.FromSeconds(20)), "gnutls-cli did not end: " + cli.Stderr);
        Assert.Equal(0, scope.Stop());
        var got = scope.Records();

        Assert.Equal(Hello, Encoding.ASCII.GetString(got.Bytes(cliPid, "write")));
        Assert.Equal(Reply, Encoding.ASCII.GetString(got.Bytes(cliPid, "read")));
        var mine = got.Data.Where(r => r.GetProperty("pid").GetInt32() == cliPid).ToList();
        Assert.All(mine, r =>
        {
            Assert.Equal(Library, r.GetProperty("library").GetString());
            Assert.Equal($"127.0.0.1:{server.Port}", r.GetProperty("remote").GetString());
            Assert.True(r.GetProperty("fd").GetInt32() >= 3);
        });
        // The other end, OpenSSL's, saw the same bytes on the same connection.
        Assert.Equal(Hello, Encoding.ASCII.GetString(got.Bytes(server.Pid, "read")));
        var theirs = got.DataOf(server.Pid, "read").First();
        Assert.Equal(mine[0].GetProperty("local").GetString(), theirs.GetProperty("remote").GetString());
    }

    [KernelFact]
    public void WgetOverGnutlsIsCaptured()
    {
        const string Body = "hello wget\n";
        using var server = OpenSslServer.Start();
        using var scope = TlsScopeRun.Start("--comm", "wget");
        using var wget = Proc.Start("wget", ["-q", "-O", "-", "--no-check-certificate", $"https://127.0.0.1:{server.Port}/from-wget"]);
        server.WaitForRequest("\n\n"); // s_server's output, read by lines
        var response = $"HTTP/1.1 200 OK\r\nContent-Length: {Body.Length}\r\nConnection: close\r\n\r\n{Body}";
        server.Send(Encoding.ASCII.GetBytes(response));
        Assert.True(wget.WaitForExit(TimeSpan.FromSeconds(30)), "wget did not finish: " + wget.Stderr);
        Assert.Equal(Body, wget.Stdout);
        Assert.Equal(0, scope.Stop());
        var got = scope.Records();

        var request = Encoding.ASCII.GetString(got.Bytes(wget.Pid, "write"));
        Assert.StartsWith("GET /from-wget HTTP/1.1\r\n", request);
        Assert.Equal(response, Encoding.ASCII.GetString(got.Bytes(wget.Pid, "read")));
        Assert.All(got.DataOf(wget.Pid, "write"), r => Assert.Equal(Library, r.GetProperty("library").GetString()));
    }

    [KernelFact]
    public void GnutlsServServerSideIsCaptured()
    {
        var port = Ports.Free();
        using var serv = Proc.Start("gnutls-serv", ["--http", "-a", "-p", port.ToString(CultureInfo.InvariantCulture),
            "--x509certfile", TestCert.CertPath, "--x509keyfile", TestCert.KeyPath]);
        OpenSslServer.WaitListening(port);
        using var scope = TlsScopeRun.Start("--comm", "gnutls-serv");
        using var curl = Proc.Start("curl", ["-sk", "--http1.1", "-H", "X-From: curl", $"https://127.0.0.1:{port}/served"]);
        Assert.True(curl.WaitForExit(TimeSpan.FromSeconds(30)), curl.Stderr);
        Assert.Equal(0, scope.Stop());
        var got = scope.Records();

        var read = Encoding.ASCII.GetString(got.Bytes(serv.Pid, "read"));
        Assert.StartsWith("GET /served HTTP/1.1\r\n", read);
        Assert.Contains("X-From: curl\r\n", read);
        var written = Encoding.ASCII.GetString(got.Bytes(serv.Pid, "write"));
        Assert.StartsWith("HTTP/1.0 200 OK", written);
        var body = written[(written.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
        Assert.Contains("This is <a href", body);
        Assert.Equal(body.Replace("\r", "").TrimEnd('\n'), curl.Stdout.Replace("\r", "").TrimEnd('\n')); // curl's output is read by lines
        Assert.All(got.DataOf(serv.Pid, "read"), r =>
        {
            Assert.Equal(Library, r.GetProperty("library").GetString());
            Assert.Equal($"127.0.0.1:{port}", r.GetProperty("local").GetString());
        });
    }
}
