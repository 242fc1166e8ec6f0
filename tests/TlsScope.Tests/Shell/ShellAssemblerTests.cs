using System.Text;
using TlsScope.Engine.Model;
using TlsScope.Sources.Shell;
using TlsScope.Sources.Shell.Records;

namespace TlsScope.Tests.Shell;

/// <summary>Prompts, line chunks, exits and execs of one ring turned into commands.</summary>
public sealed class ShellAssemblerTests
{
    private const int Pid = 4242;
    private static readonly AuditIdentity Who = new(new ProcessInfo(Pid, Pid, 1000, "bash"), 4000, 1000, 7, "pts/3", "/home/a");

    private readonly List<ShellCommand> _out = [];
    private readonly ShellAssembler _a;

    public ShellAssemblerTests() => _a = new ShellAssembler(_out.Add);

    private void Prompt(long t, int status, int lineCount = 0, int inBuiltin = 0, uint context = 0, ShellFamily family = ShellFamily.Bash) =>
        _a.OnPrompt(Pid, t, family, status, lineCount, inBuiltin, context);

    private void Line(long t, string text, ShellFamily family = ShellFamily.Bash) =>
        _a.OnLineChunk(Pid, t, family, LineFlags.First | LineFlags.Last, 0, Encoding.UTF8.GetBytes(text), Who);

    [Fact]
    public void TheStatusIsTheOneTheNextNewCommandPromptReads()
    {
        Prompt(1, 0);
        Line(2, "false; true");
        Prompt(3, 0);
        Line(4, "true && false");
        Prompt(5, 1);
        Assert.Equal([("false; true", (int?)0), ("true && false", 1)], _out.Select(c => (Encoding.UTF8.GetString(c.Line), c.Status)));
        Assert.Equal((2L, 3L), (_out[0].StartUnixNs, _out[0].EndUnixNs));
        Assert.Same(Who, _out[0].Who);
        Assert.All(_out, c => Assert.Equal(CommandEnd.Prompt, c.Ended));
    }

    [Fact]
    public void ContinuationLinesJoinOneCommand()
    {
        Line(1, "if true");
        Prompt(2, 0, lineCount: 1);
        Line(3, "then echo a");
        Prompt(4, 0, lineCount: 2);
        Line(5, "fi");
        Prompt(6, 0);
        var c = Assert.Single(_out);
        Assert.Equal("if true\nthen echo a\nfi", Encoding.UTF8.GetString(c.Line));
        Assert.Equal(1, c.StartUnixNs);
    }

    [Fact]
    public void InputReadInsideACommandIsSkippedAndCounted()
    {
        Line(1, "read -e x");
        Prompt(2, 0, lineCount: 1, inBuiltin: 1);
        Line(3, "my secret");
        Prompt(4, 0);
        var c = Assert.Single(_out);
        Assert.Equal("read -e x", Encoding.UTF8.GetString(c.Line));
        Assert.Equal(1, _a.InputLinesSkipped);
    }

    /// <summary>Ctrl-D at `read -e` gives no line: the next command is a command all the same
    /// (else a user could hide it from the audit).</summary>
    [Fact]
    public void AnInputReadThatEndsWithoutALineDoesNotHideTheNextCommand()
    {
        Line(1, "read -e x");
        Prompt(2, 0, lineCount: 1, inBuiltin: 1); // the input prompt; no line comes
        Prompt(3, 1);
        Line(4, "rm -rf /tmp/evidence");
        Prompt(5, 0);
        Assert.Equal(["read -e x", "rm -rf /tmp/evidence"], _out.Select(c => Encoding.UTF8.GetString(c.Line)));
        Assert.Equal(0, _a.InputLinesSkipped);
    }

    [Fact]
    public void ZshLinesAreUnmetafiedAndLoseTheirNewline()
    {
        _a.OnLineChunk(Pid, 1, ShellFamily.Zsh, LineFlags.First | LineFlags.Last, 0, [(byte)'e', 0x83, 0xa3, (byte)'\n'], Who);
        _a.OnPrompt(Pid, 2, ShellFamily.Zsh, 3, 0, 0, context: 1); // PS2: goes on
        _a.OnLineChunk(Pid, 3, ShellFamily.Zsh, LineFlags.First | LineFlags.Last, 0, "fi\n"u8, Who);
        _a.OnPrompt(Pid, 4, ShellFamily.Zsh, 3, 0, 0, context: 2); // select: the next line is input
        _a.OnLineChunk(Pid, 5, ShellFamily.Zsh, LineFlags.First | LineFlags.Last, 0, "1\n"u8, Who);
        _a.OnPrompt(Pid, 6, ShellFamily.Zsh, 3, 0, 0, context: 0);
        var c = Assert.Single(_out);
        Assert.Equal(new byte[] { (byte)'e', 0x83, (byte)'\n', (byte)'f', (byte)'i' }, c.Line);
        Assert.Equal(("zsh", (int?)3), (c.Shell, c.Status));
        Assert.Equal(1, _a.InputLinesSkipped);
    }

    [Fact]
    public void ChunksAreStitchedAndALostOneMarksTheLineCut()
    {
        _a.OnLineChunk(Pid, 1, ShellFamily.Bash, LineFlags.First, 0, "abc"u8, Who);
        _a.OnLineChunk(Pid, 1, ShellFamily.Bash, LineFlags.None, 3, "def"u8, null);
        _a.OnLineChunk(Pid, 1, ShellFamily.Bash, LineFlags.Last, 6, "g"u8, null);
        Prompt(2, 0);
        _a.OnLineChunk(Pid, 3, ShellFamily.Bash, LineFlags.First, 0, "abc"u8, Who);
        _a.OnLineChunk(Pid, 3, ShellFamily.Bash, LineFlags.Last, 6, "g"u8, null); // 3..6 lost
        Prompt(4, 0);
        _a.OnLineChunk(Pid, 5, ShellFamily.Bash, LineFlags.First | LineFlags.Last | LineFlags.Truncated, 0, "x"u8, Who);
        Prompt(6, 0);
        Assert.Equal([("abcdefg", false), ("abcg", true), ("x", true)], _out.Select(c => (Encoding.UTF8.GetString(c.Line), c.Truncated)));
    }

    [Fact]
    public void ExitAndExecEndTheRunningLineWithTheirStatus()
    {
        Line(1, "ls; exec /bin/false");
        _a.OnExec(Exec(2, childPid: 5000, "/usr/bin/ls", shellPid: Pid));
        _a.OnExec(Exec(3, childPid: Pid, "/bin/false", shellPid: Pid));
        _a.OnEnd(Pid, 4, 1);
        _a.OnEnd(Pid, 5, 0); // nothing left: no second command
        var c = Assert.Single(_out);
        Assert.Equal((1, CommandEnd.Exec), (c.Status, c.Ended));
        Assert.Equal(["/usr/bin/ls", "/bin/false"], c.Executed);

        Line(6, "exit 7");
        _a.OnEnd(Pid, 7, 7);
        Assert.Equal((7, CommandEnd.Exit), (_out[1].Status, _out[1].Ended));
    }

    [Fact]
    public void BlankLinesAreNotCommandsAndRunningOnesEndWithoutAStatus()
    {
        Line(1, "  ");
        Prompt(2, 0);
        Line(3, "sleep 100");
        _a.Finish(9);
        var c = Assert.Single(_out);
        Assert.Equal(("sleep 100", (int?)null, CommandEnd.Running, 9L), (Encoding.UTF8.GetString(c.Line), c.Status, c.Ended, c.EndUnixNs));
    }

    [Fact]
    public void ExecutedProgramsAreListedUpToTheCap()
    {
        Line(1, "for i in ...; do /bin/true; done");
        for (int i = 0; i < ShellCommand.MaxExecuted + 3; i++)
        {
            _a.OnExec(Exec(2, 6000 + i, "/bin/true", Pid));
        }

        _a.OnExec(Exec(2, 7000, "/bin/other", shellPid: null)); // not this shell's
        Prompt(3, 0);
        Assert.Equal((ShellCommand.MaxExecuted, 3), (_out[0].Executed.Count, _out[0].ExecutedCut));
    }

    private static ExecAudit Exec(long t, int childPid, string file, int? shellPid) =>
        new(t, Who with { Process = new ProcessInfo(childPid, childPid, 1000, "x") }, file, [], 0, shellPid);
}
