namespace TlsScope.KernelTests.Infrastructure;

/// <summary>Compiles one of Peers/*.c with gcc into a scratch directory (once per test run, by the caller's Lazy).</summary>
public static class PeerCompiler
{
    public static string Compile(string name, params string[] linkFlags)
    {
        Tools.Require("gcc", "gcc");
        var source = Path.Combine(Repo.Root, "tests/TlsScope.KernelTests/Peers", name + ".c");
        var binary = Path.Combine(TempDirectory.ForRun($"tlsscope-{name}-"), name);
        var (code, _, err) = Proc.Run("gcc", ["-O1", "-Wall", "-Werror", "-o", binary, source, .. linkFlags]);
        return code == 0 ? binary : throw new InvalidOperationException($"compiling {name}.c failed: {err}");
    }
}
