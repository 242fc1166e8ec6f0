using System.Diagnostics;
using TlsScope.Bpf;
using TlsScope.Bpf.Elf;
using TlsScope.Sources.Tls.Discovery;

namespace TlsScope.Tests.Discovery;

/// <summary>The loader's search, checked against ldd on the system's own programs, and inside a
/// root made by the test (a container's private copies).</summary>
public sealed class DependencyResolverTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("tlsscope-root-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static Dictionary<string, string> Ldd(string program)
    {
        using var p = Process.Start(new ProcessStartInfo("ldd", [program]) { RedirectStandardOutput = true })!;
        var text = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        var found = new Dictionary<string, string>();
        foreach (var line in text.Split('\n'))
        {
            var parts = line.Trim().Split(' ');
            if (parts.Length >= 3 && parts[1] == "=>" && parts[2].StartsWith('/'))
            {
                found[parts[0]] = parts[2];
            }
        }

        return found;
    }

    [Theory]
    [InlineData("/usr/bin/curl")]
    [InlineData("/usr/bin/openssl")]
    public void OnTheHostItFindsTheFilesLddFinds(string program)
    {
        var resolved = new DependencyResolver().Resolve("/", program, []);

        Assert.Equal(program, resolved[0]);
        foreach (var (name, path) in Ldd(program))
        {
            Assert.Contains(resolved, r => FileIdentity.Of(r) == FileIdentity.Of(path) && Path.GetFileName(r) == name);
        }
    }

    [Fact]
    public void InsideARootItFindsTheRootsOwnCopiesNotTheHosts()
    {
        foreach (var file in Ldd("/usr/bin/curl").Values.Append("/usr/bin/curl"))
        {
            var copy = _root + file;
            Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
            File.Copy(file, copy);
        }

        var resolved = new DependencyResolver().Resolve(_root, "/usr/bin/curl", []);

        var libssl = Assert.Single(resolved, r => Path.GetFileName(r) == "libssl.so.3");
        Assert.StartsWith(_root + "/", libssl);
        Assert.NotEqual(FileIdentity.Of("/usr/lib/x86_64-linux-gnu/libssl.so.3"), FileIdentity.Of(libssl));
        Assert.All(resolved, r => Assert.StartsWith(_root + "/", r));
    }

    [Fact]
    public void LdLibraryPathAndRunpathWithOriginComeBeforeTheCache()
    {
        // A program whose RUNPATH is $ORIGIN/lib, with a libssl there, and an LD_LIBRARY_PATH one.
        var program = Path.Combine(_root, "bin", "app");
        Directory.CreateDirectory(Path.GetDirectoryName(program)!);
        var source = Path.Combine(_root, "app.c");
        File.WriteAllText(source, "int OPENSSL_init_ssl(unsigned long long o, const void *s); int main(void) { return !OPENSSL_init_ssl(0, 0); }\n");
        Run("gcc", "-o", program, source, "-lssl", "-Wl,--enable-new-dtags,-rpath,$ORIGIN/lib");
        Assert.Equal(["$ORIGIN/lib"], ElfDynamicInfo.Read(program).RunPath);
        var bundled = Path.Combine(_root, "bin", "lib", "libssl.so.3");
        Directory.CreateDirectory(Path.GetDirectoryName(bundled)!);
        File.Copy("/usr/lib/x86_64-linux-gnu/libssl.so.3", bundled);
        var preferred = Path.Combine(_root, "preferred", "libssl.so.3");
        Directory.CreateDirectory(Path.GetDirectoryName(preferred)!);
        File.Copy("/usr/lib/x86_64-linux-gnu/libssl.so.3", preferred);

        Assert.Contains(bundled, new DependencyResolver().Resolve("/", program, []));
        Assert.Contains(preferred, new DependencyResolver().Resolve("/", program, [Path.GetDirectoryName(preferred)!]));
    }

    [Fact]
    public void AStaticProgramNeedsNothingAndHasNoInterpreter()
    {
        var program = Path.Combine(_root, "static");
        var source = Path.Combine(_root, "static.c");
        File.WriteAllText(source, "int main(void) { return 0; }\n");
        Run("gcc", "-static", "-o", program, source);

        var info = ElfDynamicInfo.Read(program);
        Assert.Null(info.Interpreter);
        Assert.Empty(info.Needed);
        Assert.Equal([program], new DependencyResolver().Resolve("/", program, []));
        Assert.Equal("/lib64/ld-linux-x86-64.so.2", ElfDynamicInfo.Read("/usr/bin/curl").Interpreter);
    }

    private static void Run(string command, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(command, args) { RedirectStandardError = true })!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, err);
    }
}
