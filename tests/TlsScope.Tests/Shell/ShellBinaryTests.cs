using System.Globalization;
using TlsScope.Bpf;
using TlsScope.Engine;
using TlsScope.Sources.Shell;
using TlsScope.Sources.Shell.Records;
using TlsScope.Tests.Tools;

namespace TlsScope.Tests.Shell;

/// <summary>The shells' symbols as the source finds them, checked against nm on the real binaries,
/// and every program the probes name present in the embedded object.</summary>
public sealed class ShellBinaryTests
{
    [Fact]
    public void BashIsProbedAtReadlineAndTeardownWithItsGlobals()
    {
        var bash = ShellBinary.Open("/usr/bin/bash");
        Assert.Equal((ShellFamily.Bash, "bash", ""), (bash.Family, bash.Name, bash.Missing));
        Assert.Equal(["readline", "readline_internal_teardown"], bash.Probes.Select(p => p.Function));
        Assert.Equal([false, true], bash.Probes.Select(p => p.IsReturn));
        var nm = Nm("/usr/bin/bash");
        Assert.Equal(nm["readline"], bash.Layout.Anchor);
        Assert.Equal(nm["last_command_exit_value"], bash.Layout.Status);
        Assert.Equal(nm["current_command_line_count"], bash.Layout.LineCount);
        Assert.Equal(nm["executing_builtin"], bash.Layout.InBuiltin);
        AssertProgramsExist(bash);
    }

    [Fact]
    public void ZshIsProbedAtZleentryWithLastval()
    {
        Assert.True(File.Exists("/usr/bin/zsh"), "zsh is needed by the tests: scripts/setup test");
        var zsh = ShellBinary.Open("/usr/bin/zsh");
        Assert.Equal((ShellFamily.Zsh, ""), (zsh.Family, zsh.Missing));
        var nm = Nm("/usr/bin/zsh");
        Assert.Equal(nm["zleentry"], zsh.Layout.Anchor);
        Assert.Equal(nm["lastval"], zsh.Layout.Status);
        Assert.Equal((0UL, 0UL), (zsh.Layout.LineCount, zsh.Layout.InBuiltin));
        Assert.Contains(zsh.Probes, p => p.Function == "zlegetline" && p.Library!.EndsWith("/zle.so", StringComparison.Ordinal));
        AssertProgramsExist(zsh);
    }

    [Fact]
    public void AProgramWithoutTheFunctionsIsRefusedInOneLine()
    {
        var e = Assert.Throws<CaptureException>(() => ShellBinary.Open("/usr/bin/true"));
        Assert.Equal("/usr/bin/true: neither bash's readline nor zsh's zleentry is in its symbol tables (stripped, static, or readline in a library): "
            + "its commands are seen as exec events only", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal("/etc/hostname: not an ELF file", Assert.Throws<CaptureException>(() => ShellBinary.Open("/etc/hostname")).Message);
    }

    private static void AssertProgramsExist(ShellBinary shell)
    {
        var bytes = TlsScope.Engine.Kernel.EmbeddedObjects.Embedded(typeof(ShellSource).Assembly, "shell.bpf.o");
        using var obj = BpfObject.Open(bytes, "shell.bpf.o");
        var programs = obj.ProgramNames().ToHashSet();
        Assert.All(shell.Probes, p => Assert.Contains(p.Program, programs));
    }

    /// <summary>Defined dynamic symbols by name, as nm prints them.</summary>
    private static Dictionary<string, ulong> Nm(string path) =>
        ExternalProgram.Run(ExternalProgram.Find("nm")!, "-D", "--defined-only", path).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ')).Where(p => p.Length == 3)
            .GroupBy(p => p[2]).ToDictionary(g => g.Key, g => ulong.Parse(g.First()[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
}
