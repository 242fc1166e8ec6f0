using System.Text;
using System.Text.Json;
using TlsScope.KernelTests.Infrastructure;

namespace TlsScope.KernelTests;

/// <summary>
/// What a root tool writing plaintext and keys owes the machine: outputs no other user can
/// redirect, no earlier capture destroyed by a refusal, a failing output named when it fails,
/// every sink fed whatever the other options, and a clean stop on the signals a script sends.
/// </summary>
public sealed class OutputSafetyTests
{
    private static readonly string[] OutputOptions = ["-o", "--json", "--har", "--keylog", "--pcapng", "--pcapng-plaintext"];

    private static void AssertOneLineRefusal(int code, string stderr, string expected)
    {
        Assert.Equal(1, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("tlsscope: ", line);
        Assert.Contains(expected, line);
    }

    private static void AsNobody(string command) =>
        Assert.Equal(0, Proc.Run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c", command]).Code);

    [KernelFact]
    public void FilesPlantedByAnotherUserInAWorldWritableDirectoryAreRefusedAndTheVictimIsUnchanged()
    {
        var dir = Directory.CreateTempSubdirectory("tlsscope-planted-").FullName;
        try
        {
            var shared = Path.Combine(dir, "shared");
            Directory.CreateDirectory(shared);
            File.SetUnixFileMode(shared, (UnixFileMode)0x3FF); // 1777, like /tmp
            File.SetUnixFileMode(dir, (UnixFileMode)0x1ED); // 0755: nobody can reach shared
            var victim = Path.Combine(dir, "victim");
            File.WriteAllText(victim, "root's file\n");
            var rootDir = Path.Combine(dir, "root-only");
            Directory.CreateDirectory(rootDir);
            AsNobody($"ln -s {victim} {shared}/link && ln -s {dir}/created-by-root {shared}/dangling && echo mine > {shared}/pre && chmod 666 {shared}/pre"
                + $" && ln -s {rootDir} {shared}/dirlink");

            foreach (var option in OutputOptions)
            {
                foreach (var (name, reason) in new[] { ("link", "is a symbolic link"), ("dangling", "is a symbolic link"), ("pre", "exists and is owned by uid 65534") })
                {
                    var path = Path.Combine(shared, name);
                    var (code, err) = TlsScopeRun.RunToEnd(option, path, "--duration", "1");
                    AssertOneLineRefusal(code, err, $"{option} {path}: {reason}");
                }
            }

            // A link planted in the directory part is not followed either.
            var (linkCode, linkErr) = TlsScopeRun.RunToEnd("--keylog", Path.Combine(shared, "dirlink", "keys"), "--duration", "1");
            AssertOneLineRefusal(linkCode, linkErr, $"{shared}/dirlink is a symbolic link owned by uid 65534; refusing to follow it");
            Assert.Empty(Directory.GetFileSystemEntries(rootDir));

            Assert.Equal("root's file\n", File.ReadAllText(victim));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(victim));
            Assert.Equal("mine\n", File.ReadAllText(Path.Combine(shared, "pre")));
            Assert.False(File.Exists(Path.Combine(dir, "created-by-root")));
            Assert.Equal(["dangling", "dirlink", "link", "pre"], Directory.GetFileSystemEntries(shared).Select(Path.GetFileName).Order());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [KernelFact]
    public void OneFileUnderTwoNamesIsRefusedWhateverTheNames()
    {
        var dir = Directory.CreateTempSubdirectory("tlsscope-alias-").FullName;
        try
        {
            var a = Path.Combine(dir, "a");
            File.WriteAllText(a, "earlier\n");
            File.CreateSymbolicLink(Path.Combine(dir, "alias"), a);
            var (code, err) = TlsScopeRun.RunToEnd("-o", a, "--keylog", Path.Combine(dir, "alias"), "--duration", "1");
            AssertOneLineRefusal(code, err, "is a symbolic link");

            (code, err) = TlsScopeRun.RunToEnd("-o", a, "--json", Path.Combine(dir, ".", "a"), "--duration", "1");
            AssertOneLineRefusal(code, err, $"the same file as -o {a}");

            Assert.Equal(0, Proc.Run("ln", [a, Path.Combine(dir, "hard")]).Code);
            (code, err) = TlsScopeRun.RunToEnd("-o", a, "--pcapng", Path.Combine(dir, "hard"), "--duration", "1");
            AssertOneLineRefusal(code, err, "has 2 hard links");
            Assert.Equal("earlier\n", File.ReadAllText(a));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [KernelFact]
    public void EveryRefusalComesBeforeAnEarlierCaptureIsTouched()
    {
        var dir = Directory.CreateTempSubdirectory("tlsscope-refusals-").FullName;
        try
        {
            var f = Path.Combine(dir, "F");
            const string earlier = "{\"an\":\"earlier capture\"}\n";
            File.WriteAllText(f, earlier);
            var newJson = Path.Combine(dir, "new.json");
            var cases = new (string[] Args, string Expected)[]
            {
                (["--comm", "a-name-longer-than-15"], "15-byte"),
                (["--libssl", "/etc/passwd"], "--libssl /etc/passwd: not an ELF file"),
                (["--libssl", "/usr/lib/x86_64-linux-gnu/libc.so.6"], "no TLS functions found"),
                (["--libssl", "/nonexistent/libssl.so"], "no such file"),
                (["--duration", "5000000"], "--duration 5000000: at most"),
                (["--duration", "NaN"], "--duration NaN: must be a positive number"),
                (["--har", "/proc/version"], "--har /proc/version: is on procfs"),
                (["--json", newJson, "--har", "/nonexistent/x.har"], "--har /nonexistent/x.har: directory not found"),
                (["--pid", "999999"], "--pid 999999: no such process"),
                (["--pcapng", Path.Combine(dir, "p"), "-i", "no-such-if0"], "no-such-if0"),
            };
            foreach (var (args, expected) in cases)
            {
                var (code, err) = TlsScopeRun.RunToEnd(["-o", f, .. args, .. args.Contains("--duration") ? [] : new[] { "--duration", "1" }]);
                AssertOneLineRefusal(code, err, expected);
                Assert.Equal(earlier, File.ReadAllText(f));
                Assert.Equal(["F"], Directory.GetFileSystemEntries(dir).Select(Path.GetFileName)); // nothing created, nothing left
            }

            var (emptyCode, emptyErr) = TlsScopeRun.RunToEnd("-o", "", "--duration", "1");
            AssertOneLineRefusal(emptyCode, emptyErr, "-o '': empty path");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [KernelFact]
    public void AnOutputThatFillsItsDiskIsNamedWhenItFailsAndTheOthersComplete()
    {
        using var server = NodeHttpServer.Start();
        var dir = Directory.CreateTempSubdirectory("tlsscope-full-").FullName;
        var small = Path.Combine(dir, "small");
        Directory.CreateDirectory(small);
        Assert.Equal(0, Proc.Run("mount", ["-t", "tmpfs", "-o", "size=200k,mode=0700", "tmpfs", small]).Code);
        try
        {
            var json = Path.Combine(small, "x.json");
            var har = Path.Combine(dir, "x.har");
            using var scope = TlsScopeRun.StartWith(["--format", "text"], ["--comm", "curl", "--json", json, "--har", har]);
            var body = Path.Combine(dir, "body");
            File.WriteAllBytes(body, Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 40000).Select(i => $"{i:D9}\n"))));
            using var curl = Proc.Start("curl", ["-sk", "--http1.1", "--data-binary", "@" + body, server.Url("/echo")]);
            Assert.True(curl.WaitForExit(TimeSpan.FromSeconds(30)), curl.Stderr);

            // Told while the capture runs, not at its end.
            var expected = $"tlsscope: --json {json}: no space left on device; other outputs continue";
            Proc.WaitFor(() => scope.Stderr.Contains(expected), TimeSpan.FromSeconds(20), "the failure message");
            Assert.False(scope.HasExited);
            using var second = Proc.Start("curl", ["-sk", "--http1.1", server.Url("/after-the-failure")]);
            Assert.True(second.WaitForExit(TimeSpan.FromSeconds(30)), second.Stderr);
            Thread.Sleep(500);

            Assert.Equal(1, scope.Stop());
            Assert.Single(scope.Stderr.Split('\n'), l => l.Contains("no space left on device; other outputs continue"));
            var text = File.ReadAllText(scope.OutputPath);
            Assert.Contains("> POST https://127.0.0.1:" + server.Port + "/echo HTTP/1.1", text);
            Assert.Contains("< HTTP/1.1 200", text);
            Assert.Contains("/after-the-failure", text);
            using var doc = JsonDocument.Parse(File.ReadAllText(har));
            var urls = doc.RootElement.GetProperty("log").GetProperty("entries").EnumerateArray()
                .Select(e => e.GetProperty("request").GetProperty("url").GetString()).ToList();
            Assert.Equal([server.Url("/echo"), server.Url("/after-the-failure")], urls);
        }
        finally
        {
            Proc.Run("umount", [small]);
            Directory.Delete(dir, recursive: true);
        }
    }

    [KernelFact]
    public void WithDefaultOptionsEverySinkGetsWhatItNeeds()
    {
        using var server = NodeHttpServer.Start();
        var dir = Directory.CreateTempSubdirectory("tlsscope-every-").FullName;
        try
        {
            var (har, plain, keys) = (Path.Combine(dir, "x.har"), Path.Combine(dir, "plain.pcapng"), Path.Combine(dir, "keys.log"));
            using var scope = TlsScopeRun.StartHttp("--comm", "curl", "--har", har, "--pcapng-plaintext", plain, "--keylog", keys);
            using var curl = Proc.Start("curl", ["-sk", "--http1.1", server.Url("/every-sink?x=1")]);
            Assert.True(curl.WaitForExit(TimeSpan.FromSeconds(30)), curl.Stderr);
            Assert.Equal("hello /every-sink?x=1\n", curl.Stdout);
            scope.StopCleanly();

            var exchange = Assert.Single(scope.Records().OfType("http_exchange"));
            Assert.Equal(curl.Pid, exchange.GetProperty("pid").GetInt32());
            Assert.Equal("client", exchange.GetProperty("side").GetString());
            Assert.Equal(server.Url("/every-sink?x=1"), exchange.GetProperty("url").GetString());
            using var doc = JsonDocument.Parse(File.ReadAllText(har));
            var entry = Assert.Single(doc.RootElement.GetProperty("log").GetProperty("entries").EnumerateArray().ToList());
            Assert.Equal(server.Url("/every-sink?x=1"), entry.GetProperty("request").GetProperty("url").GetString());
            Assert.Equal(200, entry.GetProperty("response").GetProperty("status").GetInt32());

            // The plaintext pcapng was fed the very chunks HTTP parsing turned into the exchange.
            var port = server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var rows = Tshark.Run(plain, "http.request", null, ["-d", $"tcp.port=={port},http", "-T", "fields", "-e", "http.request.uri", "-e", "tcp.dstport"]);
            Assert.Equal($"/every-sink?x=1\t{port}\n", rows);
            Assert.Contains("tlsscope: plaintext pcapng: ", scope.Stderr);
            Assert.Contains(File.ReadAllLines(keys), l => l.StartsWith("CLIENT_", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [KernelTheory]
    [InlineData("INT")]
    [InlineData("TERM")]
    [InlineData("HUP")]
    public void ABackgroundJobOfAScriptStopsOnASignalWithItsSummaryAndNoDiagnosticChannel(string signal)
    {
        var dir = Directory.CreateTempSubdirectory("tlsscope-bg-").FullName;
        try
        {
            var (err, pidFile, status) = (Path.Combine(dir, "err"), Path.Combine(dir, "pid"), Path.Combine(dir, "status"));
            // Non-interactive bash: the background job starts with SIGINT ignored.
            var script = $"dotnet {TlsScopeRun.Dll} --raw -o {dir}/out --duration 120 2>{err} & echo $! > {pidFile}; wait $!; echo $? > {status}";
            using var shell = Proc.Start("bash", ["-c", script]);
            Proc.WaitFor(() => File.Exists(err) && File.ReadAllText(err).Contains("tlsscope: ready"), TimeSpan.FromSeconds(60), "tlsscope: ready");
            var pid = int.Parse(File.ReadAllText(pidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(0UL, SignalMask(pid, "SigIgn") & 0x2); // SIGINT (bit 1) was inherited ignored and is not any more
            Assert.Empty(Directory.GetFiles("/tmp", $"dotnet-diagnostic-{pid}-*"));
            Assert.Empty(Directory.GetFiles("/tmp", $"clr-debug-pipe-{pid}-*"));

            Assert.Equal(0, Proc.Run("kill", [$"-{signal}", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]).Code);
            Assert.True(shell.WaitForExit(TimeSpan.FromSeconds(30)), $"tlsscope did not stop on SIG{signal}: " + File.ReadAllText(err));
            Assert.Equal("0", File.ReadAllText(status).Trim());
            Assert.Contains("tlsscope: 0 chunks", File.ReadAllText(err));
            Assert.DoesNotContain("tls_return", Proc.Run("bpftool", ["prog", "show"]).Out);
            Assert.Empty(Directory.GetFiles("/tmp", $"dotnet-diagnostic-{pid}-*"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [KernelFact]
    public void UnderSudoNewFilesBelongToTheUserWhoRanSudoAndJsonMayGoToStandardOutput()
    {
        var dir = Directory.CreateTempSubdirectory("tlsscope-sudo-").FullName;
        try
        {
            var (text, keys) = (Path.Combine(dir, "out.txt"), Path.Combine(dir, "keys"));
            using var run = Proc.Start("dotnet", [TlsScopeRun.Dll, "-o", text, "--json", "-", "--keylog", keys, "--duration", "1"],
                env: new Dictionary<string, string> { ["SUDO_UID"] = "65534", ["SUDO_GID"] = "65534" });
            Assert.True(run.WaitForExit(TimeSpan.FromSeconds(60)), run.Stderr);
            Assert.Equal(0, run.Process.ExitCode);
            Assert.Contains("tlsscope: ready", run.Stderr);
            foreach (var file in new[] { text, keys })
            {
                Assert.Equal("65534", Proc.Run("stat", ["-c", "%u", file]).Out.Trim());
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [KernelFact]
    public void TheLauncherDisablesTheDiagnosticChannelBeforeTheRuntimeStarts()
    {
        var launcher = File.ReadAllLines(Path.Combine(Repo.Root, "tlsscope"));
        var export = Array.FindIndex(launcher, l => l.Trim() == "export DOTNET_EnableDiagnostics=0");
        var exec = Array.FindIndex(launcher, l => l.TrimStart().StartsWith("exec dotnet", StringComparison.Ordinal));
        Assert.InRange(export, 0, exec - 1);
    }

    /// <summary>A signal mask line of /proc/PID/status (SigIgn, SigCgt), as bits.</summary>
    private static ulong SignalMask(int pid, string field) =>
        Convert.ToUInt64(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(field + ":", StringComparison.Ordinal)).Split('\t')[1], 16);
}
