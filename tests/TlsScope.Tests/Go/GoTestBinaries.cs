using TlsScope.Tests.Elf;

namespace TlsScope.Tests.Go;

/// <summary>
/// The Go binaries the tests read: the toolchain matrix under the repository's
/// <c>.build/go/bin/&lt;version&gt;/&lt;variant&gt;/gopeer</c> (built by scripts/go-toolchains), and a
/// development set built here with whatever <c>go</c> is on PATH.
/// </summary>
internal static class GoTestBinaries
{
    public static readonly string[] Versions = ["1.15", "1.19", "1.23", "1.26"];
    public static readonly string[] Variants = ["default", "stripped", "pie", "pie-stripped", "external"];

    /// <summary>The five variants as (unstripped, stripped) pairs of the same source and toolchain.</summary>
    public static readonly (string Full, string Stripped)[] StrippedPairs = [("default", "stripped"), ("pie", "pie-stripped")];

    public const string ConnRead = "crypto/tls.(*Conn).Read";
    public const string ConnWrite = "crypto/tls.(*Conn).Write";
    public const string ConnClose = "crypto/tls.(*Conn).Close";
    public const string WriteKeyLog = "crypto/tls.(*Config).writeKeyLog";
    public static readonly string[] TlsFunctions = [ConnRead, ConnWrite, ConnClose, WriteKeyLog];

    private static readonly Lazy<string> RepositoryRoot = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TlsScope.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"no TlsScope.sln above {AppContext.BaseDirectory}");
    });

    /// <summary>A matrix binary; fails the test, saying how to build it, when it is missing.</summary>
    public static string Matrix(string version, string variant)
    {
        var path = Path.Combine(RepositoryRoot.Value, ".build", "go", "bin", version, variant, "gopeer");
        Assert.True(File.Exists(path),
            $"missing Go test binary {path}: build the matrix with scripts/go-toolchains (Go {version}, variant {variant})");
        return path;
    }

    /// <summary>The matrix toolchain's own go command, else the one on PATH.</summary>
    public static string GoCommand(string version)
    {
        if (version.Length == 0)
        {
            return ElfTool.FindProgram("go") ?? throw new InvalidOperationException("no go command");
        }

        var own = Path.Combine(RepositoryRoot.Value, ".build", "go", "toolchains", version, "bin", "go");
        return File.Exists(own) ? own : ElfTool.FindProgram("go") ?? throw new InvalidOperationException("no go command");
    }

    public static IEnumerable<object[]> MatrixCases() =>
        from v in Versions from variant in Variants select new object[] { v, variant };

    public static IEnumerable<object[]> MatrixVersions() => Versions.Select(v => new object[] { v });

    /// <summary>Every release with a binary, the ones built only to check per-release facts too.</summary>
    public static readonly string[] AllVersions = ["1.15", "1.19", "1.21", "1.22", "1.23", "1.24", "1.25", "1.26", "1.27"];

    public static IEnumerable<object[]> EveryVersion() => AllVersions.Select(v => new object[] { v });

    private static readonly Lazy<string?> Dev = new(BuildDevelopmentSet);

    /// <summary>A binary of the development set (variants as in <see cref="Variants"/>), built on
    /// first use with the go on PATH; null when there is none.</summary>
    public static string? Development(string variant) => Dev.Value is { } dir ? Path.Combine(dir, variant) : null;

    private const string Source = """
        package main

        import (
        	"crypto/tls"
        	"fmt"
        	"os"
        )

        func main() {
        	c, err := tls.Dial("tcp", "localhost:1", &tls.Config{KeyLogWriter: os.Stderr})
        	if err != nil {
        		fmt.Println(err)
        		return
        	}
        	buf := make([]byte, 16)
        	c.Write(buf)
        	c.Read(buf)
        	c.Close()
        }
        """;

    /// <summary>Built with the matrix's Debian 12 toolchain (what CI installs), offline.</summary>
    public const string DevelopmentToolchain = "1.19";

    private static string? BuildDevelopmentSet()
    {
        var go = Path.Combine(RepositoryRoot.Value, ".build", "go", "toolchains", DevelopmentToolchain, "bin", "go");
        Assert.True(File.Exists(go), $"missing Go toolchain {go}: run scripts/go-toolchains");

        // Kept for the test run's lifetime; one directory per process.
        var dir = Directory.CreateTempSubdirectory("tlsscope-go-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // best effort (and never an exception at process exit)
            }
        };
        File.WriteAllText(Path.Combine(dir, "main.go"), Source);
        File.WriteAllText(Path.Combine(dir, "go.mod"), "module example.com/gopeer\n\ngo 1.15\n");
        (string Name, string[] Flags)[] builds =
        [
            ("default", []),
            ("stripped", ["-ldflags=-s -w"]),
            ("pie", ["-buildmode=pie"]),
            ("pie-stripped", ["-buildmode=pie", "-ldflags=-s -w"]),
            ("external", ["-ldflags=-linkmode=external"]),
            // Not in the matrix: here the pclntab has no section of its own (inside .data.rel.ro).
            ("external-pie", ["-buildmode=pie", "-ldflags=-linkmode=external"]),
        ];
        foreach (var (name, flags) in builds)
        {
            RunIn(dir, go, ["build", "-o", name, .. flags, "."]);
        }
        return dir;
    }

    private static void RunIn(string dir, string program, string[] args)
    {
        var start = new System.Diagnostics.ProcessStartInfo(program) { WorkingDirectory = dir, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        var goBase = Path.Combine(RepositoryRoot.Value, ".build", "go");
        start.Environment["GOFLAGS"] = "-mod=mod";
        start.Environment["GOROOT"] = Path.Combine(goBase, "toolchains", DevelopmentToolchain);
        start.Environment["GOTOOLCHAIN"] = "local";
        start.Environment["GOPROXY"] = "off";
        start.Environment["GOTELEMETRY"] = "off";
        start.Environment["GOCACHE"] = Path.Combine(goBase, "cache", DevelopmentToolchain);
        start.Environment["GOPATH"] = Path.Combine(goBase, "gopath");
        using var process = System.Diagnostics.Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', args)} failed: {stderr.Result}");
    }
}
