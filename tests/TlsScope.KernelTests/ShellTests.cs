using System.Text.Json;
using TlsScope.KernelTests.Infrastructure;

namespace TlsScope.KernelTests;

/// <summary>
/// --shell and --exec against real bash and zsh on a pseudo-terminal: each command line with its
/// real status ($?), the line typed while the capture started, multi-line commands, long and
/// non-ASCII lines, input read by `read -e`/vared (not a command), exit and exec ending a line,
/// and the exec events of `bash -c`. Identity (pid, uid, tty, cwd, parent) is the shell's own.
/// </summary>
public sealed class ShellTests
{
    private static readonly string LongLine = "echo " + string.Concat(Enumerable.Range(0, 300).Select(i => $"{i % 10}ab ")) + "end";

    private const string NonAscii = "echo 'héllo wörld 日本語 ✓'";

    [KernelFact]
    public void BashLinesCarryTheirRealStatusAndWhoRanThem() => Session("bash", "read -e x", inputSkipped: 1);

    [KernelFact]
    public void ZshLinesCarryTheirRealStatusAndWhoRanThem() => Session("zsh", "vared -c x", inputSkipped: 0); // vared reads without zleentry: unseen

    [KernelFact]
    public void BashExecAndExitEndTheirLines() => Ending("bash", "exec");

    [KernelFact]
    public void ZshExecAndExitEndTheirLines() => Ending("zsh", "exit"); // zsh runs the builtin `true` and exits

    /// <summary>A command bash never reads with readline (bash -c) is seen by its exec events:
    /// the exact argv, then the program it execs in place of itself.</summary>
    [KernelFact]
    public void BashDashCIsSeenThroughItsExecs()
    {
        using var dir = new TempDirectory("tlsscope-shell-");
        using var sh = PtyShell.Start("bash", dir.Path);
        using var run = TlsScopeRun.StartWith(["--format", "json"], ["--exec"]);
        sh.Run("bash -c 'echo x; /bin/true'");
        sh.Run("true"); // the builtin: no exec
        Assert.Equal(0, sh.RunLast("exit 0"));
        run.Stop();
        var records = run.Records();
        Assert.Empty(records.OfType("shell_command"));
        var execs = records.OfType("exec").Where(e => e.GetProperty("ppid").GetInt32() == sh.Pid || Int(e, "pid") == sh.Pid).ToList();
        var bash = Assert.Single(execs, e => e.GetProperty("filename").GetString() == "/usr/bin/bash");
        Assert.Equal(["bash", "-c", "echo x; /bin/true"], Strings(bash.GetProperty("argv")));
        var child = Int(bash, "pid");
        var replaced = Assert.Single(execs, e => Int(e, "pid") == child && e.GetProperty("filename").GetString() == "/bin/true");
        Assert.Equal(["/bin/true"], Strings(replaced.GetProperty("argv")));
        foreach (var e in new[] { bash, replaced })
        {
            Assert.Equal(sh.Pid, Int(e, "ppid"));
            Assert.Equal(sh.Tty, e.GetProperty("tty").GetString());
            Assert.Equal(dir.Path, e.GetProperty("cwd").GetString());
            Assert.Equal(0, Int(e, "uid"));
            Assert.Equal(0, Int(e, "argv_cut"));
            Assert.Equal(JsonValueKind.Null, e.GetProperty("shell_pid").ValueKind);
        }

        Assert.Equal(2, execs.Count); // nothing for echo or true: builtins
        Assert.Contains("tlsscope: shell: ", run.Stderr);
    }

    /// <param name="readInput">A command that reads a line of input with the line editor: that
    /// input is not a command (bash: seen and skipped, counted; zsh's vared: never seen).</param>
    /// <summary>The target options narrow the shell source like any: --pid keeps one shell's
    /// lines (and no other process's execs; its children are other processes), --comm one shell's name.</summary>
    [KernelFact]
    public void TheTargetOptionsChooseTheShells()
    {
        using var dir = new TempDirectory("tlsscope-shell-");
        using var bash1 = PtyShell.Start("bash", dir.Path);
        using var bash2 = PtyShell.Start("bash", dir.Path);
        using var zsh = PtyShell.Start("zsh", dir.Path);
        using (var run = TlsScopeRun.StartWith(["--format", "json"], ["--shell", "--pid", bash1.Pid.ToString()]))
        {
            bash1.Run("echo one");
            bash2.Run("/bin/true two");
            zsh.Run("echo three");
            run.Stop();
            var records = run.Records();
            Assert.Equal(["echo one"], records.OfType("shell_command").Select(c => c.GetProperty("line").GetString()));
            Assert.Empty(records.OfType("exec")); // bash2's /bin/true is another process
        }

        using (var run = TlsScopeRun.StartWith(["--format", "json"], ["--shell", "--comm", "zsh"]))
        {
            bash1.Run("echo four");
            zsh.Run("echo five");
            run.Stop();
            var lines = run.Records().OfType("shell_command").Select(c => (Int(c, "pid"), c.GetProperty("line").GetString())).ToList();
            Assert.Equal([(zsh.Pid, "echo five")], lines);
        }
    }

    /// <summary>Launch mode: the launched command and its children are the target; its execs
    /// are seen from the first (the program itself), an unrelated process's are not.</summary>
    [KernelFact]
    public void ALaunchedCommandsExecsAreCaptured()
    {
        using var dir = new TempDirectory("tlsscope-shell-");
        using var other = PtyShell.Start("bash", dir.Path);
        var output = dir.File("out.ndjson");
        using var tool = Proc.Start("dotnet", [TlsScopeRun.Dll, "--format", "json", "-o", output, "--exec", "--", "/usr/bin/bash", "-c", "/bin/sleep 0.5; /bin/true x"], dir.Path);
        Proc.WaitFor(() => tool.Stderr.Contains("tlsscope: ready"), TimeSpan.FromSeconds(60), "ready");
        other.Run("/bin/true unrelated");
        Assert.True(tool.WaitForExit(TimeSpan.FromSeconds(60)), tool.Stderr);
        Assert.Equal(0, tool.Process.ExitCode);
        var execs = Captured.Load(output).OfType("exec").Select(e => e.GetProperty("filename").GetString() + ": " + string.Join('|', Strings(e.GetProperty("argv"))));
        Assert.Equal(["/usr/bin/bash: /usr/bin/bash|-c|/bin/sleep 0.5; /bin/true x", "/bin/sleep: /bin/sleep|0.5", "/bin/true: /bin/true|x"], execs);
    }

    /// <summary>A line longer than the kernel keeps (16 chunks of 4095 bytes) keeps its start,
    /// is marked truncated and counted; the status is still the real one.</summary>
    [KernelFact]
    public void ALineLongerThanTheKernelKeepsIsCutAndCounted()
    {
        using var dir = new TempDirectory("tlsscope-shell-");
        using var sh = PtyShell.Start("bash", dir.Path);
        using var run = TlsScopeRun.StartWith(["--format", "json"], ["--shell"]);
        var line = ": " + new string('y', 70_000);
        sh.Run(line);
        sh.Run("false");
        Assert.Equal(1, sh.RunLast("exit"));
        run.Stop();
        var commands = run.Records().OfType("shell_command").Where(c => Int(c, "pid") == sh.Pid).ToList();
        Assert.Equal(3, commands.Count);
        Assert.Equal(line[..(16 * 4095)], commands[0].GetProperty("line").GetString());
        Assert.True(commands[0].GetProperty("truncated").GetBoolean());
        Assert.Equal(0, Int(commands[0], "status"));
        Assert.False(commands[1].GetProperty("truncated").GetBoolean());
        Assert.Contains("1 lines cut at 4095x16 bytes", run.Stderr);
    }

    /// <summary>An argument list longer than the kernel keeps (8192 bytes) is cut, and the cut counted exactly.</summary>
    [KernelFact]
    public void LongArgumentListsAreCutAndCounted()
    {
        using var dir = new TempDirectory("tlsscope-shell-");
        using var run = TlsScopeRun.StartWith(["--format", "json"], ["--exec"]);
        var arg = new string('a', 10000);
        using var p = Proc.Start("/bin/true", [arg], dir.Path);
        p.WaitForExit(TimeSpan.FromSeconds(20));
        run.Stop();
        var e = Assert.Single(run.Records().OfType("exec"), e => Int(e, "pid") == p.Pid);
        Assert.Equal(["/bin/true", arg[..(8192 - "/bin/true\0".Length)]], Strings(e.GetProperty("argv"))); // 8192 bytes kept
        Assert.Equal(10011 - 8192, Int(e, "argv_cut"));
        Assert.Equal(Environment.ProcessId, Int(e, "ppid"));
        Assert.Equal(dir.Path, e.GetProperty("cwd").GetString());
        Assert.Contains("(1 argument lists cut at 8192 bytes)", run.Stderr);
    }

    [KernelTheory]
    [InlineData(new[] { "--shell", "--shell-binary", "/nonexistent" }, "tlsscope: --shell-binary /nonexistent: no such file")]
    [InlineData(new[] { "--shell-binary", "/usr/bin/bash" }, "tlsscope: --shell-binary is a --shell option: add --shell")]
    [InlineData(new[] { "--shell", "--shell-binary", "/etc/hostname" }, "tlsscope: --shell-binary /etc/hostname: not an ELF file")]
    [InlineData(new[] { "--exec", "--keylog", "{out}" }, "tlsscope: --keylog takes TLS traffic: add --tls")]
    public void BadShellOptionsAreRefusedInOneLineBeforeAnyOutput(string[] args, string message)
    {
        using var dir = new TempDirectory("tlsscope-shell-");
        var output = dir.File("out");
        var (code, stderr) = TlsScopeRun.RunToEnd([.. args.Select(a => a.Replace("{out}", dir.File("keys"), StringComparison.Ordinal)), "-o", output]);
        Assert.NotEqual(0, code);
        Assert.Equal(message, stderr.Trim());
        Assert.False(File.Exists(output));
    }

    private static void Session(string shell, string readInput, int inputSkipped)
    {
        using var dir = new TempDirectory("tlsscope-shell-");
        using var sh = PtyShell.Start(shell, dir.Path);
        var (loginUid, session) = (AuditValue(sh.Pid, "loginuid"), AuditValue(sh.Pid, "sessionid"));
        sh.Type("echo typed-before"); // the shell waits in its line editor with this typed
        using var run = TlsScopeRun.StartWith(["--format", "json"], ["--shell"]);
        var prompts = sh.Prompts;
        sh.Type("\r");
        sh.WaitForPrompts(prompts + 1);
        sh.Run("false; true");
        sh.Run("true && false");
        sh.Run("(exit 5)");
        sh.Run("/bin/true; /bin/false");
        sh.Continued("if true");
        sh.Continued("then echo a");
        sh.Run("fi");
        sh.Run(LongLine);
        sh.Run(NonAscii);
        sh.Type(readInput + "\r");
        sh.Run("not-a-command input");
        Assert.Equal(7, sh.RunLast("exit 7"));
        var stop = run.Stop();
        var commands = run.Records().OfType("shell_command").Where(c => Int(c, "pid") == sh.Pid).ToList();

        (string Line, int Status, string Ended)[] expected =
        [
            ("echo typed-before", 0, "prompt"),
            ("false; true", 0, "prompt"),
            ("true && false", 1, "prompt"),
            ("(exit 5)", 5, "prompt"),
            ("/bin/true; /bin/false", 1, "prompt"),
            ("if true\nthen echo a\nfi", 0, "prompt"),
            (LongLine, 0, "prompt"),
            (NonAscii, 0, "prompt"),
            (readInput, 0, "prompt"),
            ("exit 7", 7, "exit"),
        ];
        Assert.Equal(expected, commands.Select(c => (c.GetProperty("line").GetString()!, Int(c, "status"), c.GetProperty("ended").GetString()!)).ToArray());
        Assert.True(LongLine.Length > 1000);
        foreach (var c in commands)
        {
            Assert.Equal(shell, c.GetProperty("shell").GetString());
            Assert.Equal(shell, c.GetProperty("comm").GetString());
            Assert.Equal(0, Int(c, "uid"));
            Assert.Equal(sh.Tty, c.GetProperty("tty").GetString());
            Assert.Equal(dir.Path, c.GetProperty("cwd").GetString());
            Assert.False(c.GetProperty("truncated").GetBoolean());
            Assert.Equal(loginUid, Nullable(c, "login_uid"));
            Assert.Equal(session, Nullable(c, "session"));
        }

        Assert.Equal(["/bin/true", "/bin/false"], Strings(commands[4].GetProperty("executed")));
        Assert.Empty(commands[1].GetProperty("executed").EnumerateArray());
        Assert.Contains("shell: bash (/usr/bin/bash), zsh (/usr/bin/zsh)", run.Stderr);
        Assert.Contains($"{inputSkipped} lines read by `read -e`/select/vared skipped", run.Stderr);
        Assert.DoesNotContain(run.Records().OfType("shell_command"), c => c.GetProperty("line").GetString()!.Contains("not-a-command"));
        Assert.Contains(" 0 records lost", run.Stderr);
        Assert.Equal(0, stop);
    }

    /// <summary>`exec true` / `exec false` end their line with the status of what replaced the
    /// shell; `sleep 0; exit 7` with the shell's.</summary>
    private static void Ending(string shell, string execEnded)
    {
        using var dir = new TempDirectory("tlsscope-shell-");
        using var execTrue = PtyShell.Start(shell, dir.Path);
        using var execFalse = PtyShell.Start(shell, dir.Path);
        using var exit = PtyShell.Start(shell, dir.Path);
        using var run = TlsScopeRun.StartWith(["--format", "json"], ["--shell"]);
        Assert.Equal(0, execTrue.RunLast("exec true"));
        Assert.Equal(1, execFalse.RunLast("exec /bin/false"));
        Assert.Equal(7, exit.RunLast("sleep 0; exit 7"));
        run.Stop();
        var commands = run.Records().OfType("shell_command").ToList();
        var t = Assert.Single(commands, c => Int(c, "pid") == execTrue.Pid);
        Assert.Equal(("exec true", 0, execEnded), (t.GetProperty("line").GetString(), Int(t, "status"), t.GetProperty("ended").GetString()));
        var f = Assert.Single(commands, c => Int(c, "pid") == execFalse.Pid);
        Assert.Equal(("exec /bin/false", 1, "exec"), (f.GetProperty("line").GetString(), Int(f, "status"), f.GetProperty("ended").GetString()));
        Assert.Equal(["/bin/false"], Strings(f.GetProperty("executed")));
        var e = Assert.Single(commands, c => Int(c, "pid") == exit.Pid);
        Assert.Equal(("sleep 0; exit 7", 7, "exit"), (e.GetProperty("line").GetString(), Int(e, "status"), e.GetProperty("ended").GetString()));
        Assert.Equal(exit.Tty, e.GetProperty("tty").GetString());
    }

    private static int Int(JsonElement e, string name) => e.GetProperty(name).GetInt32();

    private static long? Nullable(JsonElement e, string name) =>
        e.GetProperty(name).ValueKind == JsonValueKind.Null ? null : e.GetProperty(name).GetInt64();

    /// <summary>/proc/PID/loginuid or sessionid as the kernel's audit sees it; unset (2^32-1) is null.</summary>
    private static long? AuditValue(int pid, string name)
    {
        var value = uint.Parse(File.ReadAllText($"/proc/{pid}/{name}").Trim());
        return value == uint.MaxValue ? null : value;
    }

    private static string[] Strings(JsonElement array) => array.EnumerateArray().Select(a => a.GetString()!).ToArray();
}
