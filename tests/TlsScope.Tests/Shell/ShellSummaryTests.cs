using TlsScope.Sources.Shell;

namespace TlsScope.Tests.Shell;

/// <summary>What the summary says was attached, and why a shell was not (one line each).</summary>
public sealed class ShellSummaryTests
{
    [Fact]
    public void TheSummaryNamesTheShellsAndTheReasons()
    {
        var bash = ShellBinary.Open("/usr/bin/bash");
        var partial = bash with { Path = "/opt/bash", Layout = bash.Layout with { Status = 0, InBuiltin = 0 } };
        using var source = new ShellSource([bash, partial], ["/bin/bash-static: neither bash's readline nor zsh's zleentry is in its symbol tables"]);
        Assert.Equal(
        [
            "tlsscope: shell: bash (/usr/bin/bash), bash (/opt/bash)",
            "tlsscope: shell: /bin/bash-static: neither bash's readline nor zsh's zleentry is in its symbol tables",
            "tlsscope: shell: /opt/bash: no last_command_exit_value: statuses unknown; no executing_builtin: `read -e` input taken for commands",
        ], source.Summary());
        Assert.Equal("shell lines of bash (/usr/bin/bash), bash (/opt/bash); exec events", source.ReadyText);
    }

    [Fact]
    public void ExecEventsAloneAttachNoShell()
    {
        using var source = new ShellSource([], []);
        Assert.Empty(source.Summary());
        Assert.Equal("exec events", source.ReadyText);
    }
}
