using System.Globalization;
using System.Text;
using TlsScope.KernelTests.Infrastructure;

namespace TlsScope.KernelTests;

/// <summary>Launch mode, cgroups and containers: the target decides what is captured, in the
/// kernel, and every event says which cgroup (and container) it came from.</summary>
public sealed class TargetTests
{
    private const string Reply = "target reply\n";

    private static string Python(int port, string path) =>
        $"import socket, ssl\nc = ssl.create_default_context(); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE\n"
        + $"s = c.wrap_socket(socket.create_connection(('127.0.0.1', {port}))); s.sendall(b'GET {path} HTTP/1.0\\r\\n\\r\\n'); print(s.recv(100))";

    [KernelFact]
    public void ALaunchedCommandAndItsChildrenAreCapturedAndNothingElse()
    {
        using var server = new HttpsServer();
        var dir = Directory.CreateTempSubdirectory("tlsscope-launch-").FullName;
        try
        {
            var output = Path.Combine(dir, "out.ndjson");
            var script = Path.Combine(dir, "client.py");
            File.WriteAllText(script, Python(server.Port, "/launched-python"));
            var command = $"curl -sk -o /dev/null {server.Url("/launched-curl")}; python3 {script} >/dev/null; exit 7";
            using var launched = Proc.Start("dotnet", [TlsScopeRun.Dll, "--format", "json", "--raw", "-o", output, "--", "sh", "-c", command]);
            // An unrelated curl while the command runs: not captured.
            var unrelated = new List<int>();
            while (!launched.Process.HasExited)
            {
                using var other = Proc.Start("curl", ["-sk", "-o", "/dev/null", server.Url("/unrelated")]);
                other.WaitForExit(TimeSpan.FromSeconds(10));
                unrelated.Add(other.Pid);
                Thread.Sleep(100);
            }

            Assert.True(launched.WaitForExit(TimeSpan.FromSeconds(60)), launched.Stderr);
            Assert.Equal(7, launched.Process.ExitCode); // the command's status
            var got = Captured.Load(output);
            var writes = got.Data.Where(r => r.GetProperty("direction").GetString() == "write").ToList();
            var byComm = writes.ToLookup(r => r.GetProperty("comm").GetString(), r => Encoding.ASCII.GetString(r.GetProperty("data").GetBytesFromBase64()));
            Assert.StartsWith("GET /launched-curl HTTP/1.1", Assert.Single(byComm["curl"]));
            Assert.StartsWith("GET /launched-python HTTP/1.0", Assert.Single(byComm["python3"]));
            Assert.DoesNotContain(got.Data, r => unrelated.Contains(r.GetProperty("pid").GetInt32()));
            Assert.DoesNotContain(writes, r => Encoding.ASCII.GetString(r.GetProperty("data").GetBytesFromBase64()).Contains("/unrelated"));
            Assert.NotEmpty(unrelated);
            Assert.Contains("and its children", launched.Stderr);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [KernelFact]
    public void LaunchModeRefusesBadInputInOneLine()
    {
        var (code, err) = TlsScopeRun.RunToEnd("--");
        Assert.Equal(1, code);
        Assert.Equal("tlsscope: --: give the command to launch after it", err.Trim());
        (code, err) = TlsScopeRun.RunToEnd("--", "no-such-command-tlsscope");
        Assert.Equal(127, code);
        Assert.Equal("tlsscope: no-such-command-tlsscope: command not found", err.Trim());
        (code, err) = TlsScopeRun.RunToEnd("--user", "no-such-user-tlsscope", "--", "true");
        Assert.Equal(1, code);
        Assert.Equal("tlsscope: --user no-such-user-tlsscope: no such user", err.Trim());
        (code, err) = TlsScopeRun.RunToEnd("--cgroup", "/no/such", "--duration", "1");
        Assert.Equal(1, code);
        Assert.StartsWith("tlsscope: --cgroup /no/such: no such cgroup", err.Trim());
        (code, err) = TlsScopeRun.RunToEnd("--container", "deadbeef", "--duration", "1");
        Assert.Equal(1, code);
        Assert.Equal("tlsscope: --container deadbeef: no running container has an id starting with it", err.Trim());
    }

    [KernelFact]
    public void ALaunchedCommandRunsAsTheUserGiven()
    {
        var dir = Directory.CreateTempSubdirectory("tlsscope-launch-user-").FullName;
        try
        {
            var output = Path.Combine(dir, "out.ndjson");
            var (code, stdout, err) = Proc.Run("dotnet", [TlsScopeRun.Dll, "--format", "json", "-o", output, "--user", "nobody", "--", "id", "-u"]);
            Assert.True(code == 0, err);
            Assert.Equal("65534", stdout.Trim());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [KernelFact]
    public void OnlyTheCgroupsProcessesAreCapturedAndEveryEventCarriesItsCgroup()
    {
        using var server = new HttpsServer();
        using var cgroup = TestCgroup.Create("tlsscope-test");
        using var scope = TlsScopeRun.Start("--cgroup", cgroup.RelativePath);
        using var inside = cgroup.Run("curl", "-sk", "-o", "/dev/null", server.Url("/in-cgroup"));
        using var outside = Proc.Start("curl", ["-sk", "-o", "/dev/null", server.Url("/outside")]);
        Assert.True(inside.WaitForExit(TimeSpan.FromSeconds(30)) && outside.WaitForExit(TimeSpan.FromSeconds(30)));
        scope.StopCleanly();

        var got = scope.Records();
        var write = Assert.Single(got.Data, r => r.GetProperty("direction").GetString() == "write");
        Assert.StartsWith("GET /in-cgroup ", Encoding.ASCII.GetString(write.GetProperty("data").GetBytesFromBase64()));
        Assert.All(got.Data, r => Assert.Equal(cgroup.Id, r.GetProperty("cgroup").GetUInt64()));
        Assert.Contains($"cgroup {cgroup.Directory}", scope.Stderr);
    }

    /// <summary>A container as the runtimes make one, by hand: its own mount and pid namespaces, a
    /// root holding curl and copies of the libraries ldd lists (a libssl no host process maps),
    /// in a cgroup named as docker names one. --container finds it by a prefix of its id.</summary>
    [KernelFact]
    public void AContainersPrivateLibrariesAreFoundAndItsTrafficCapturedWithItsContainerId()
    {
        const string containerId = "5e1f0c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";
        using var server = new HttpsServer();
        using var cgroup = TestCgroup.Create($"docker-{containerId}.scope");
        var root = Directory.CreateTempSubdirectory("tlsscope-container-").FullName;
        try
        {
            var libssl = BuildRoot(root);
            // A container is found while it runs: its first process holds it open.
            using var first = cgroup.Run("sleep", "120");
            Proc.WaitFor(() => File.ReadAllText(Path.Combine(cgroup.Directory, "cgroup.procs")).Trim().Length > 0, TimeSpan.FromSeconds(10), "the container's first process");
            using var scope = TlsScopeRun.Start("--container", containerId[..10]);
            using var container = cgroup.Run("unshare", "--mount", "--pid", "--fork", "chroot", root, "/usr/bin/curl", "-sk", server.Url("/from-container"));
            Assert.True(container.WaitForExit(TimeSpan.FromSeconds(30)), container.Stderr);
            Assert.Equal(0, container.Process.ExitCode);
            scope.StopCleanly();

            var got = scope.Records();
            var write = Assert.Single(got.Data, r => r.GetProperty("direction").GetString() == "write");
            Assert.StartsWith("GET /from-container ", Encoding.ASCII.GetString(write.GetProperty("data").GetBytesFromBase64()));
            Assert.Equal("libssl.so.3", write.GetProperty("library").GetString());
            Assert.All(got.Data, r =>
            {
                Assert.Equal(cgroup.Id, r.GetProperty("cgroup").GetUInt64());
                Assert.Equal(containerId, r.GetProperty("container").GetString());
            });
            Assert.Contains($"container {containerId}", scope.Stderr);
            // The private copy was attached (its inode is the root's own), the host's libssl is another file.
            Assert.NotEqual(Proc.Run("stat", ["-Lc", "%i", "/usr/lib/x86_64-linux-gnu/libssl.so.3"]).Out, Proc.Run("stat", ["-Lc", "%i", libssl]).Out);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>curl and what ldd lists, copied into a new root; returns the root's libssl.</summary>
    private static string BuildRoot(string root)
    {
        var files = new List<string> { "/usr/bin/curl" };
        foreach (var line in Proc.Run("ldd", ["/usr/bin/curl"]).Out.Split('\n'))
        {
            var at = line.IndexOf('/', StringComparison.Ordinal);
            if (at >= 0)
            {
                files.Add(line[at..].Split(' ')[0]);
            }
        }

        string? libssl = null;
        foreach (var file in files.Distinct())
        {
            var copy = root + file;
            Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
            File.Copy(Proc.Run("readlink", ["-f", file]).Out.Trim(), copy, overwrite: true);
            File.SetUnixFileMode(copy, (UnixFileMode)0x1ED);
            if (Path.GetFileName(file) == "libssl.so.3")
            {
                libssl = copy;
            }
        }

        return libssl ?? throw new InvalidOperationException("curl does not link libssl.so.3 here");
    }
}
