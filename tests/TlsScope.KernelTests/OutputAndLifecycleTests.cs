using System.Text;
using System.Text.RegularExpressions;
using TlsScope.KernelTests.Infrastructure;

namespace TlsScope.KernelTests;

public sealed class OutputAndLifecycleTests
{
    [KernelFact]
    public void TextOutputGoesToA0600FileWithOneHeaderPerChunk()
    {
        using var server = OpenSslServer.Start();
        var json = Path.Combine(Path.GetTempPath(), $"tlsscope-both-{Guid.NewGuid():N}.ndjson");
        using var scope = TlsScopeRun.StartWith(["--format", "text", "--raw"], ["--comm", "curl", "--json", json]);
        using var curl = Proc.Start("curl", ["-sk", "--http1.1", $"https://127.0.0.1:{server.Port}/text-sink"]);
        server.WaitForRequest();
        server.Send("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n");
        Assert.True(curl.WaitForExit(TimeSpan.FromSeconds(20)));
        scope.StopCleanly();

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(scope.OutputPath));
        var text = File.ReadAllText(scope.OutputPath);
        var header = new Regex($@"^\d\d:\d\d:\d\d\.\d{{6}} curl\[{curl.Pid}/{curl.Pid}\] write 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:{server.Port} fd=\d+ conn=\d+ len=\d+ libssl\.so\.3$", RegexOptions.Multiline);
        Assert.Matches(header, text);
        Assert.Contains("GET /text-sink HTTP/1.1\r\n", text);
        Assert.Contains($"curl[{curl.Pid}/{curl.Pid}] read ", text);
        Assert.Contains("\r\n\r\nok\n", text);

        // The same capture fed a second sink: NDJSON with the same bytes, also 0600.
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(json));
        var records = File.ReadLines(json).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToList();
        var request = records.Where(r => r.GetProperty("type").GetString() == "data" && r.GetProperty("direction").GetString() == "write")
            .SelectMany(r => r.GetProperty("data").GetBytesFromBase64()).ToArray();
        Assert.StartsWith("GET /text-sink HTTP/1.1\r\n", Encoding.ASCII.GetString(request));
        Assert.Contains(Encoding.ASCII.GetString(request), text);
        File.Delete(json);
    }

    [KernelFact]
    public void Ipv6ConnectionsGetBracketedTuples()
    {
        using var server = OpenSslServer.Start(ipv6: true);
        using var scope = TlsScopeRun.Start("--comm", "curl");
        using var curl = Proc.Start("curl", ["-sk", "--http1.1", $"https://[::1]:{server.Port}/v6"]);
        server.WaitForRequest();
        server.Send("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nv6\n");
        Assert.True(curl.WaitForExit(TimeSpan.FromSeconds(20)));
        scope.StopCleanly();
        var sent = scope.Records().DataOf(curl.Pid, "write").First();
        Assert.Equal($"[::1]:{server.Port}", sent.GetProperty("remote").GetString());
        Assert.Matches(@"^\[::1\]:\d+$", sent.GetProperty("local").GetString());
    }

    [KernelFact]
    public void UidFilterKeepsOnlyThatUsersProcesses()
    {
        using var server = OpenSslServer.Start();
        using var scope = TlsScopeRun.Start("--uid", "65534");
        // curl as nobody (65534) is captured; the server, as root, is not.
        using var curl = Proc.Start("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups",
            "curl", "-sk", "--http1.1", $"https://127.0.0.1:{server.Port}/as-nobody"]);
        server.WaitForRequest();
        server.Send("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n");
        Assert.True(curl.WaitForExit(TimeSpan.FromSeconds(20)));
        scope.StopCleanly();
        var got = scope.Records();
        Assert.Contains(got.Data, r => Encoding.ASCII.GetString(r.GetProperty("data").GetBytesFromBase64()).StartsWith("GET /as-nobody"));
        Assert.All(got.Data, r => Assert.Equal(65534u, r.GetProperty("uid").GetUInt32()));
        Assert.DoesNotContain(got.Data, r => r.GetProperty("pid").GetInt32() == server.Pid);
    }

    [KernelFact]
    public void MaxPayloadTruncatesAndCountsWhatItDropped()
    {
        using var server = OpenSslServer.Start();
        using var scope = TlsScopeRun.Start("--comm", "python3", "--max-payload", "1000");
        var script = $$"""
            import socket, ssl
            ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
            t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", {{server.Port}})), server_hostname="localhost")
            t.sendall(b"A" * 5000 + b"\n")
            t.sendall(b"short\n")
            print(t.recv(10).decode(), end="", flush=True)
            """;
        using var py = Proc.Start("python3", ["-c", script]);
        server.WaitForRequest("short\n");
        server.Send("ok\n");
        Assert.True(py.WaitForExit(TimeSpan.FromSeconds(20)), py.Stderr);
        scope.StopCleanly(); // truncation on request is not loss
        var writes = scope.Records().DataOf(py.Pid, "write").ToList();
        Assert.Equal(2, writes.Count);
        Assert.True(writes[0].GetProperty("truncated").GetBoolean());
        Assert.Equal(1000, writes[0].GetProperty("len").GetInt32());
        Assert.Equal(4001, writes[0].GetProperty("dropped").GetInt64());
        Assert.Equal(new string('A', 1000), Encoding.ASCII.GetString(writes[0].GetProperty("data").GetBytesFromBase64()));
        Assert.False(writes[1].GetProperty("truncated").GetBoolean());
        Assert.Equal(5001, writes[1].GetProperty("offset").GetInt64());
        Assert.Empty(scope.Records().OfType("gap"));
        Assert.Contains("truncated 1 chunks (4001 bytes dropped by --max-payload)", scope.Stderr);
    }

    [KernelFact]
    public void LossIsCountedShownAsGapsAndGivesExitStatus3()
    {
        // A 64 MiB write in one call into a 1 MiB ring buffer: the kernel must drop records.
        const int size = 64 << 20;
        using var server = OpenSslServer.Start();
        using var scope = TlsScopeRun.Start("--comm", "python3", "--buffer-size", "1");
        var script = $$"""
            import socket, ssl
            ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
            t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", {{server.Port}})), server_hostname="localhost")
            t.sendall(b"x" * {{size - 4}} + b"END\n")
            print(t.recv(10).decode(), end="", flush=True)
            """;
        using var py = Proc.Start("python3", ["-c", script]);
        server.WaitForRequest("END\n");
        server.Send("ok\n");
        Assert.True(py.WaitForExit(TimeSpan.FromSeconds(60)), py.Stderr);
        Assert.Equal(3, scope.Stop());

        var got = scope.Records();
        var captured = got.DataOf(py.Pid, "write").Sum(r => (long)r.GetProperty("len").GetInt32());
        var gaps = got.OfType("gap").Where(g => g.GetProperty("direction").GetString() == "write").ToList();
        Assert.NotEmpty(gaps);
        // Every byte is accounted for: what was captured plus what the gaps say was lost.
        Assert.Equal(size, captured + gaps.Sum(g => g.GetProperty("len").GetInt64()));
        var lost = Regex.Match(scope.Stderr, @"lost (\d+) records \((\d+) bytes: (\d+) ring buffer full");
        Assert.True(lost.Success, scope.Stderr);
        Assert.True(long.Parse(lost.Groups[1].Value) > 0);
        Assert.Equal(size - captured, long.Parse(lost.Groups[3].Value));
    }

    [KernelFact]
    public void MountsTracefsWhenAFreshMachineHasNone()
    {
        const string probe = "/sys/kernel/tracing/events/syscalls/sys_enter_read/id";
        while (File.Exists(probe) && Proc.Run("umount", ["/sys/kernel/tracing"]).Code == 0)
        {
            // a tracefs may be mounted more than once
        }
        Assert.False(File.Exists(probe), "could not unmount tracefs for the test");
        using var scope = TlsScopeRun.Start(); // attaching the syscall tracepoints needs tracefs
        Assert.True(File.Exists(probe));
        scope.StopCleanly();
    }

    [KernelFact]
    public void SigtermDetachesEverything()
    {
        using var scope = TlsScopeRun.Start();
        var programs = Proc.Run("bpftool", ["prog", "show"]).Out;
        Assert.Contains("tls_return", programs);
        scope.StopCleanly(Proc.SIGTERM);
        Assert.Contains("tlsscope: 0 chunks", scope.Stderr);
        var after = Proc.Run("bpftool", ["prog", "show"]).Out;
        Assert.DoesNotContain("tls_return", after);
        Assert.DoesNotContain("ssl_read_enter", after);
    }
}
