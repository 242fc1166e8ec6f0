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
    [KernelTheory]
    [InlineData("-tls1_2")]
    [InlineData("-tls1_3")]
    public void GnutlsCliWritesAndReadsAreCapturedOnceWithTheirTuple(string version)
    {
        const string Hello = "HELLO from gnutls-cli\n";
        const string Reply = "pong from s_server\n";
        using var server = OpenSslServer.Start(version);
        using var scope = TlsScopeRun.Start();
        using var cli = Proc.Start("gnutls-cli", ["--insecure", "-p", server.Port.ToString(CultureInfo.InvariantCulture), "127.0.0.1"],
            redirectStdin: true);
        Proc.WaitFor(() => cli.Stdout.Contains("Handshake was completed", StringComparison.Ordinal), TimeSpan.FromSeconds(20), "gnutls-cli's handshake");
        cli.Process.StandardInput.Write(Hello);
        cli.Process.StandardInput.Flush();
        server.WaitForRequest(Hello);
        server.Send(Encoding.ASCII.GetBytes(Reply));
        Proc.WaitFor(() => cli.Stdout.Contains(Reply.TrimEnd(), StringComparison.Ordinal), TimeSpan.FromSeconds(20), "the reply at gnutls-cli");
        Assert.Contains($"- Description: (TLS1.{version[^1]}-X.509)-", cli.Stdout);
        var cliPid = cli.Pid;
        cli.Process.StandardInput.Close();
        Assert.True(cli.WaitForExit(TimeSpan.FromSeconds(20)), "gnutls-cli did not end: " + cli.Stderr);
        scope.StopCleanly();
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
        scope.StopCleanly();
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
        scope.StopCleanly();
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

    /// <summary>--keylog equals GnuTLS's own SSLKEYLOGFILE lines (gnutls-cli against gnutls-serv, both
    /// GnuTLS, in a namespace of the test's own), for SHA-256 and SHA-384 suites of TLS 1.2 and 1.3;
    /// tshark reads the request from the --pcapng alone (its keys inside).</summary>
    [KernelTheory]
    [InlineData("TLS1.2", "AES-128-GCM")]
    [InlineData("TLS1.2", "AES-256-GCM")]
    [InlineData("TLS1.3", "AES-128-GCM")]
    [InlineData("TLS1.3", "AES-256-GCM")]
    public void GnutlsCliKeysEqualItsOwnKeyLog_AndDecryptThePcapng(string version, string cipher)
    {
        using var ns = NetNs.Create();
        using var dir = new TempDirectory("tlsscope-gnutls-keys-");
        var (ours, theirs, pcap) = (dir.File("ours.log"), dir.File("gnutls.log"), dir.File("c.pcapng"));
        const int Port = 5556;
        using var serv = ns.Start("gnutls-serv", ["--http", "-p", Port.ToString(CultureInfo.InvariantCulture),
            "--x509certfile", TestCert.CertPath, "--x509keyfile", TestCert.KeyPath]);
        Proc.WaitFor(() => ns.Run("ss", "-Htln", $"sport = :{Port}").Out.Contains("LISTEN", StringComparison.Ordinal),
            TimeSpan.FromSeconds(20), "gnutls-serv listening");
        using var scope = TlsScopeRun.StartIn(ns, ["--format", "json", "--raw"], ["--keylog", ours, "--pcapng", pcap, "--comm", "gnutls-cli"]);
        var priority = $"NORMAL:-VERS-ALL:+VERS-{version}:-CIPHER-ALL:+{cipher}";
        using var cli = ns.Start("gnutls-cli", ["--insecure", "--priority", priority, "-p", Port.ToString(CultureInfo.InvariantCulture), "127.0.0.1"],
            env: new Dictionary<string, string> { ["SSLKEYLOGFILE"] = theirs }, redirectStdin: true);
        Proc.WaitFor(() => cli.Stdout.Contains("Handshake was completed", StringComparison.Ordinal), TimeSpan.FromSeconds(20), "gnutls-cli's handshake");
        cli.Process.StandardInput.Write("GET /gnutls-keys HTTP/1.0\r\n\r\n");
        cli.Process.StandardInput.Flush();
        Proc.WaitFor(() => cli.Stdout.Contains("This is <a href", StringComparison.Ordinal), TimeSpan.FromSeconds(20), "the page at gnutls-cli");
        cli.Process.StandardInput.Close();
        Assert.True(cli.WaitForExit(TimeSpan.FromSeconds(20)), "gnutls-cli did not end: " + cli.Stderr);
        Assert.Contains($"- Description: ({version}-X.509)-", cli.Stdout); // "(TLS1.3-X.509)-(ECDHE-SECP256R1)-(...)-(AES-256-GCM)"
        Assert.Contains($"-({cipher})", cli.Stdout);
        scope.StopCleanly(Proc.SIGTERM);

        var expected = File.ReadAllLines(theirs).Where(l => l.Length > 0).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(version == "TLS1.2" ? 1 : 5, expected.Count);
        var secretHex = (cipher == "AES-256-GCM" && version == "TLS1.3" ? 48 : version == "TLS1.2" ? 48 : 32) * 2;
        Assert.All(expected, l => Assert.Equal(secretHex, l.Split(' ')[2].Length));
        Assert.Equal(expected, File.ReadAllLines(ours).Where(l => l.Length > 0 && !l.StartsWith('#')).Order(StringComparer.Ordinal).ToList());
        Assert.Contains("keys: 1 handshakes (0 seen again", scope.Stderr); // gnutls-serv is not traced (--comm)
        Assert.DoesNotContain("gnutls: keys not available", scope.Stderr);
        var uris = Tshark.Fields(pcap, "http.request", "http.request.uri");
        Assert.Equal("/gnutls-keys", Assert.Single(uris)[0]);
    }

    /// <summary>wget's keys (GnuTLS's default key log function, SSLKEYLOGFILE set) against a traced
    /// OpenSSL server: only wget's, named by --comm, equal its own file.</summary>
    [KernelFact]
    public void WgetKeysEqualItsOwnKeyLog()
    {
        using var dir = new TempDirectory("tlsscope-wget-keys-");
        var (ours, theirs) = (dir.File("ours.log"), dir.File("wget.log"));
        using var server = OpenSslServer.Start();
        using var scope = TlsScopeRun.Start("--keylog", ours, "--comm", "wget");
        using var wget = Proc.Start("wget", ["-q", "-O", "-", "--no-check-certificate", $"https://127.0.0.1:{server.Port}/wget-keys"],
            env: new Dictionary<string, string> { ["SSLKEYLOGFILE"] = theirs });
        server.WaitForRequest("\n\n");
        server.Send("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n");
        Assert.True(wget.WaitForExit(TimeSpan.FromSeconds(30)), "wget did not finish: " + wget.Stderr);
        scope.StopCleanly(Proc.SIGTERM);

        var expected = File.ReadAllLines(theirs).Where(l => l.Length > 0).Order(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(expected);
        Assert.Equal(expected, File.ReadAllLines(ours).Where(l => l.Length > 0 && !l.StartsWith('#')).Order(StringComparer.Ordinal).ToList());
    }

    /// <summary>git over HTTPS: git-remote-https talks through libcurl-gnutls, whose transport
    /// pointer is not an fd, so the socket comes from the syscalls alone. The server answers a
    /// smart-HTTP ref advertisement, which git prints back.</summary>
    [KernelFact]
    public void GitLsRemoteThroughLibcurlGnutlsIsCapturedWhole()
    {
        const string Sha = "0123456789abcdef0123456789abcdef01234567";
        var body = "001e# service=git-upload-pack\n0000" + $"0048{Sha} refs/heads/main\0agent=test\n" + "0000";
        var response = "HTTP/1.1 200 OK\r\nContent-Type: application/x-git-upload-pack-advertisement\r\n"
            + $"Content-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}";
        using var home = new TempDirectory("tlsscope-git-");
        using var server = OpenSslServer.Start();
        using var scope = TlsScopeRun.Start("--comm", "git-remote-http"); // git-remote-https, cut to 15 characters
        using var git = Proc.Start("git", ["ls-remote", $"https://127.0.0.1:{server.Port}/repo.git"], env: new Dictionary<string, string>
        {
            ["GIT_SSL_NO_VERIFY"] = "1", ["GIT_TERMINAL_PROMPT"] = "0", ["HOME"] = home.Path, ["GIT_CONFIG_NOSYSTEM"] = "1",
        });
        server.WaitForRequest("\n\n");
        server.Send(Encoding.ASCII.GetBytes(response));
        Assert.True(git.WaitForExit(TimeSpan.FromSeconds(30)), "git did not finish: " + git.Stderr);
        Assert.Equal($"{Sha}\trefs/heads/main", git.Stdout.Trim());
        scope.StopCleanly();
        var got = scope.Records();

        var helper = Assert.Single(got.Data.Select(r => r.GetProperty("pid").GetInt32()).Distinct());
        Assert.NotEqual(git.Pid, helper); // git runs the helper as a child
        var request = Encoding.ASCII.GetString(got.Bytes(helper, "write"));
        Assert.StartsWith("GET /repo.git/info/refs?service=git-upload-pack HTTP/1.1\r\n", request);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(request, "GET ")); // sent once, counted once
        Assert.EndsWith("\r\n\r\n", request);
        Assert.Equal(response, Encoding.ASCII.GetString(got.Bytes(helper, "read")));
        Assert.All(got.Data, r =>
        {
            Assert.Equal(Library, r.GetProperty("library").GetString());
            Assert.Equal($"127.0.0.1:{server.Port}", r.GetProperty("remote").GetString());
        });
    }

    /// <summary>Sends that return GNUTLS_E_AGAIN, repeated with NULL, 0: the bytes of each completed
    /// repeat come from the first call's buffer, every byte once.</summary>
    [KernelFact]
    public void SendsRepeatedWithNullAfterEAgainAreCapturedWhole()
    {
        const int Bytes = 2 << 20;
        var data = GnutlsAgainClient.Data(Bytes);
        using var server = OpenSslServer.Start();
        using var scope = TlsScopeRun.Start("--comm", "gnutls_again");
        using var client = GnutlsAgainClient.Start(server.Port, Bytes);
        Assert.True(client.WaitForExit(TimeSpan.FromSeconds(60)), "gnutls_again did not finish: " + client.Stderr);
        Assert.Equal(0, client.Process.ExitCode);
        var again = int.Parse(client.Stderr.Split(' ')[1], CultureInfo.InvariantCulture);
        Assert.True(again > 0, "no send met E_AGAIN: the test proves nothing");
        server.WaitForRequest(Encoding.ASCII.GetString(data[^64..]));
        scope.StopCleanly();
        Assert.Contains("lost 0 records", scope.Stderr);
        var got = scope.Records();

        var written = got.Bytes(client.Pid, "write");
        Assert.Equal(data.Length, written.Length);
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(data), System.Security.Cryptography.SHA256.HashData(written));
    }
}
