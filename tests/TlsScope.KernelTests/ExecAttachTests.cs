using System.Text;
using System.Text.RegularExpressions;
using TlsScope.KernelTests.Infrastructure;

namespace TlsScope.KernelTests;

/// <summary>
/// Programs that start after TlsScope and talk at once: attached at their exec (and held there
/// until their probes are in), so their first TLS byte is captured, every time.
/// </summary>
public sealed class ExecAttachTests
{
    private const string Reply = "exec-time reply\n";

    private static string NodeScript(int port, string path) => $$"""
        require('https').get({ host: '127.0.0.1', port: {{port}}, path: '{{path}}', rejectUnauthorized: false,
                               headers: { 'Connection': 'close' } }, res => {
          let body = ''; res.on('data', d => body += d); res.on('end', () => process.stdout.write(body));
        }).on('error', e => { console.error(e); process.exit(2); });
        """;

    private static void AssertCapturedWhole(Captured got, Proc client, OpenSslServer server, string path)
    {
        var request = Encoding.ASCII.GetString(got.Bytes(client.Pid, "write"));
        Assert.StartsWith($"GET {path} HTTP/1.", request);
        Assert.Equal(got.Bytes(server.Pid, "read"), got.Bytes(client.Pid, "write")); // every byte the server got
        Assert.EndsWith(Reply, Encoding.ASCII.GetString(got.Bytes(client.Pid, "read")));
    }

    [KernelFact]
    public void NodeStartedAfterTlsScopeThatRequestsAtOnceIsCapturedWhole()
    {
        Assert.Empty(Proc.Run("pgrep", ["-x", "node"]).Out.Trim()); // no node running: nothing attached it yet
        using var server = OpenSslServer.Start();
        using var scope = TlsScopeRun.Start("-v");
        using var node = Proc.Start("node", ["-e", NodeScript(server.Port, "/node-at-once")]);
        server.WaitForRequest("\n\n");
        server.Send($"HTTP/1.1 200 OK\r\nContent-Length: {Reply.Length}\r\nConnection: close\r\n\r\n{Reply}");
        Assert.True(node.WaitForExit(TimeSpan.FromSeconds(30)), node.Stderr);
        Assert.Equal(Reply, node.Stdout);
        scope.StopCleanly();

        AssertCapturedWhole(scope.Records(), node, server, "/node-at-once");
        // Attached by the start-up index or at the exec, whichever came first (a race: the index
        // takes ~150 ms); a copy the index has never seen is the exec-only case, tested below.
        Assert.Matches(@"attached \d+ probes to \S*/node \(openssl", scope.Stderr);
    }

    [KernelFact]
    public void ACopyOfNodeUnderAFreshPathIsCapturedWhole()
    {
        var dir = Directory.CreateTempSubdirectory("tlsscope-node-copy-").FullName;
        try
        {
            var node = Path.Combine(dir, "my-node");
            File.Copy(Proc.Run("sh", ["-c", "readlink -f $(command -v node)"]).Out.Trim(), node);
            File.SetUnixFileMode(node, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            using var server = OpenSslServer.Start();
            using var scope = TlsScopeRun.Start("-v"); // on failure, its stderr times the hold and the attach
            using var client = Proc.Start(node, ["-e", NodeScript(server.Port, "/node-copy")]);
            server.WaitForRequest("\n\n");
            server.Send($"HTTP/1.1 200 OK\r\nContent-Length: {Reply.Length}\r\nConnection: close\r\n\r\n{Reply}");
            Assert.True(client.WaitForExit(TimeSpan.FromSeconds(30)), client.Stderr);
            scope.StopCleanly();

            var got = scope.Records();
            AssertCapturedWhole(got, client, server, "/node-copy");
            Assert.All(got.DataOf(client.Pid, "write"), r => Assert.Equal("my-node", r.GetProperty("library").GetString()));
            Assert.Contains("exec-time attach: ", scope.Stderr); // never indexed: attached at its exec
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The hard case, a few times over: each run starts TlsScope, copies the client to a
    /// new path and runs it at once. bench/exec-attach.sh runs it 100 times for the rate.</summary>
    [KernelFact]
    public void AStaticallyLinkedClientAtAFreshPathIsCapturedFromItsFirstByteEveryTime()
    {
        var dir = Directory.CreateTempSubdirectory("tlsscope-static-runs-").FullName;
        try
        {
            for (var run = 0; run < 3; run++)
            {
                using var server = OpenSslServer.Start();
                using var scope = TlsScopeRun.Start();
                var path = $"/static-{run}";
                using var client = Proc.Start(StaticClient.FreshCopy(dir), [server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), path]);
                server.WaitForRequest();
                server.Send($"HTTP/1.0 200 OK\r\n\r\n{Reply}");
                Assert.True(client.WaitForExit(TimeSpan.FromSeconds(30)), client.Stderr);
                Assert.Equal(0, client.Process.ExitCode);
                scope.StopCleanly();
                AssertCapturedWhole(scope.Records(), client, server, path);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [KernelFact]
    public void AScriptsChildIsHeldAndContinuedAndAShellsJobsAreNeverHeld()
    {
        var dir = Directory.CreateTempSubdirectory("tlsscope-hold-").FullName;
        string Fresh(string name, string from)
        {
            var path = Path.Combine(dir, name);
            File.Copy(from, path);
            return path;
        }

        try
        {
            var job = Fresh("fresh-true", "/bin/true");
            var pipeHead = Fresh("fresh-yes", "/usr/bin/yes");
            var pipeTail = Fresh("fresh-head", "/usr/bin/head");
            var child = Fresh("fresh-echo", "/bin/echo");
            var scriptTail = Fresh("fresh-cat", "/bin/cat");
            using var scope = TlsScopeRun.Start("-v");

            // A job of an interactive shell, a pipeline too, has a process group of its own: never
            // stopped (the shell would report it Stopped); each runs to its end with no message.
            var (code, output, _) = Proc.Run("script",
                ["-qec", $"bash --norc -i -c '{job}; echo status=$?; {pipeHead} piped | {pipeTail} -n 2; echo pipe=$?'", "/dev/null"],
                TimeSpan.FromSeconds(30));
            Assert.Equal(0, code);
            Assert.Contains("status=0", output);
            Assert.Matches("piped\r?\npiped\r?\n", output);
            Assert.Contains("pipe=0", output); // head's status; yes may say "Broken pipe" (SIGPIPE is ignored under dotnet)
            Assert.DoesNotContain("Stopped", output);

            // A script's children are in its group: held at their exec, continued once looked at.
            var (code2, output2, _) = Proc.Run("sh", ["-c", $"{child} held-and-continued | {scriptTail}"], TimeSpan.FromSeconds(30));
            Assert.Equal(0, code2);
            Assert.Equal("held-and-continued\n", output2);
            scope.StopCleanly();

            Assert.Matches($"tlsscope: held {Regex.Escape(child)} \\(pid \\d+\\) \\d+ ms", scope.Stderr);
            Assert.Matches($"tlsscope: held {Regex.Escape(scriptTail)} \\(pid \\d+\\) \\d+ ms", scope.Stderr);
            foreach (var neverHeld in (string[])[job, pipeHead, pipeTail])
            {
                Assert.DoesNotContain($"tlsscope: held {neverHeld} ", scope.Stderr);
            }

            Assert.Empty(Directory.GetFiles("/run/tlsscope", $"held-{scope.Pid}"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
