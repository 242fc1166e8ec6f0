using System.Globalization;
using TlsScope.KernelTests.Infrastructure;

namespace TlsScope.KernelTests;

/// <summary>Random option values from a fixed seed, against the real tool: each run ends in a
/// one-line refusal or a normal run, never an internal error or a stack trace.</summary>
public sealed class CliFuzzTests
{
    private const int Runs = 40;

    [KernelFact]
    public void RandomOptionValuesEndInOneLineOrANormalRun()
    {
        var dir = Directory.CreateTempSubdirectory("tlsscope-fuzz-").FullName;
        try
        {
            var random = new Random(20261201);
            string[] numbers = ["0", "-1", "1", "abc", "", "1e309", "NaN", "Infinity", "-0", "4294967296", "99999999999999999999", "0x10", " 5", "1.5", "2147483648"];
            // Every path is inside dir (relative ones too: the runs start there), or refused whatever happens.
            string[] texts = ["", "-", "--", "a", new string('x', 300), "curl", "é z", "/", "/proc/self/mem", "/dev/null", "/nonexistent/x",
                "/dev/fd/9", Path.Combine(dir, "out"), Path.Combine(dir, "sub") + "/", Path.Combine(dir, "link"), "tcp port", "((", "lo", "no-such-if"];
            File.CreateSymbolicLink(Path.Combine(dir, "link"), "/etc/passwd");
            (string Option, string[] Values)[] pool =
            [
                ("--pid", numbers), ("--uid", numbers), ("--comm", texts), ("--max-payload", numbers), ("--format", ["text", "json", "xml", ""]),
                ("-o", texts), ("--json", texts), ("--har", texts), ("--keylog", texts), ("--pcapng", texts), ("--pcapng-plaintext", texts),
                ("--duration", numbers), ("--buffer-size", numbers), ("--body-limit", numbers), ("--redact-header", texts), ("--libssl", texts),
                ("-i", texts), ("--filter", texts), ("--raw", []), ("--redact", []), ("--no-such-option", []), ("-v", []),
            ];
            for (int run = 0; run < Runs; run++)
            {
                var args = new List<string>();
                for (int n = random.Next(1, 4); n > 0; n--)
                {
                    var (option, values) = pool[random.Next(pool.Length)];
                    args.Add(option);
                    if (values.Length > 0)
                    {
                        args.Add(values[random.Next(values.Length)]);
                    }
                }
                // Whatever the values, a run that starts ends soon.
                args.AddRange(["--duration", "0.2", "--comm", "no-such-comm"]);
                var (code, _, err) = Proc.Run("dotnet", [TlsScopeRun.Dll, .. args], TimeSpan.FromSeconds(60), workDir: dir);
                var what = $"run {run}: tlsscope {string.Join(' ', args.Select(a => $"'{a}'"))} -> {code}: {err}";
                Assert.DoesNotContain("internal error", err);
                Assert.DoesNotContain("   at ", err);
                Assert.DoesNotContain("Unhandled exception", err);
                Assert.True(code is 0 or 1 or 3, what);
                if (!err.Contains("tlsscope: ready", StringComparison.Ordinal))
                {
                    Assert.True(code == 1, what);
                    var line = Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
                    Assert.StartsWith("tlsscope: ", line);
                }
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
