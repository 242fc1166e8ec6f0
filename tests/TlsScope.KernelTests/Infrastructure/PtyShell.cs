using System.Text;
using System.Text.Json;

namespace TlsScope.KernelTests.Infrastructure;

/// <summary>
/// An interactive shell on a pseudo-terminal, as a user has it: python's pty.fork runs it, the
/// test types bytes into the master and waits for the shell's prompts (PS1 and PS2 are set to
/// markers) in the transcript. Killed on dispose if still running.
/// </summary>
public sealed class PtyShell : IDisposable
{
    public const string Prompt = "@P@ ";
    public const string Continue = "@C@ ";

    // The driver: forks the shell on a pty (logged in as uid 4242 for the audit when allowed), prints its pid, copies its output to a file, types
    // what arrives on stdin (hex, one write per line), and prints its exit status at the end.
    private const string Driver = """
        import json, os, pty, sys, threading
        argv = json.loads(sys.argv[1])
        pid, fd = pty.fork()
        if pid == 0:
            try:
                with open("/proc/self/loginuid", "w") as f:
                    f.write("4242")  # a login session of its own, as after a login (needs CAP_AUDIT_CONTROL)
            except OSError:
                pass
            os.execvp(argv[0], argv)
        print(pid, flush=True)
        log = open(sys.argv[2], "ab", buffering=0)
        def pump():
            while True:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    break
                if not data:
                    break
                log.write(data)
        threading.Thread(target=pump, daemon=True).start()
        for line in sys.stdin:
            try:
                os.write(fd, bytes.fromhex(line.strip()))
            except OSError:
                break
        _, status = os.waitpid(pid, 0)
        print("exit", os.waitstatus_to_exitcode(status), flush=True)
        """;

    private readonly TempDirectory _dir;
    private readonly Proc _driver;
    private readonly string _log;

    private PtyShell(TempDirectory dir, Proc driver, string log, int pid)
    {
        _dir = dir;
        _driver = driver;
        _log = log;
        Pid = pid;
    }

    /// <summary>The shell's pid.</summary>
    public int Pid { get; }

    /// <summary>Its terminal as TlsScope names it ("pts/3"), read once it prompted (its fd 0 is the
    /// pty's only after the child's setup).</summary>
    public string Tty { get; private set; } = "?";

    /// <summary>Starts bash --norc or zsh -f, interactive, in <paramref name="cwd"/>, and waits for its first prompt.</summary>
    public static PtyShell Start(string shell, string cwd)
    {
        var dir = new TempDirectory("tlsscope-pty-");
        var script = dir.File("pty_driver.py");
        File.WriteAllText(script, Driver);
        var log = dir.File("transcript");
        string[] argv = shell == "zsh" ? ["/usr/bin/zsh", "-f", "-i"] : ["/usr/bin/bash", "--norc", "--noprofile", "-i"];
        var env = new Dictionary<string, string> { ["PS1"] = Prompt, ["PS2"] = Continue, ["TERM"] = "dumb", ["HISTFILE"] = "/dev/null" };
        var driver = Proc.Start("/usr/bin/python3", [script, JsonSerializer.Serialize(argv), log], cwd, redirectStdin: true, env: env);
        try
        {
            Proc.WaitFor(() => driver.Stdout.Contains('\n') || driver.Process.HasExited, TimeSpan.FromSeconds(20), "the pty driver");
            var pid = int.Parse(driver.Stdout.Split('\n')[0]);
            var pty = new PtyShell(dir, driver, log, pid);
            pty.WaitForPrompts(1);
            pty.Tty = new FileInfo($"/proc/{pid}/fd/0").LinkTarget?.Replace("/dev/", "", StringComparison.Ordinal) ?? "?";
            return pty;
        }
        catch
        {
            driver.Dispose();
            dir.Dispose();
            throw;
        }
    }

    /// <summary>What the shell wrote to its terminal.</summary>
    public string Transcript => File.Exists(_log) ? Encoding.UTF8.GetString(File.ReadAllBytes(_log)) : "";

    public int Prompts => Count(Prompt);

    public int Continuations => Count(Continue);

    /// <summary>Types bytes without Enter.</summary>
    public void Type(string text) => TypeBytes(Encoding.UTF8.GetBytes(text));

    public void TypeBytes(byte[] bytes)
    {
        _driver.Process.StandardInput.WriteLine(Convert.ToHexString(bytes));
        _driver.Process.StandardInput.Flush();
    }

    /// <summary>Types a line and Enter, and waits for the next prompt (PS1).</summary>
    public void Run(string line)
    {
        var prompts = Prompts;
        Type(line + "\r");
        WaitForPrompts(prompts + 1);
    }

    /// <summary>Types a line and Enter, and waits for the continuation prompt (PS2).</summary>
    public void Continued(string line)
    {
        var continued = Continuations;
        Type(line + "\r");
        Proc.WaitFor(() => Count(Continue) > continued, TimeSpan.FromSeconds(20), $"PS2 after '{line}': {Transcript}");
    }

    /// <summary>Types a line that ends the shell (exit, exec) and returns its exit status.</summary>
    public int RunLast(string line)
    {
        Type(line + "\r");
        _driver.Process.StandardInput.Close();
        Proc.WaitFor(() => _driver.Stdout.Contains("exit "), TimeSpan.FromSeconds(20), $"the shell to end after '{line}': {Transcript}");
        return int.Parse(_driver.Stdout.Split("exit ")[1].Trim());
    }

    public void WaitForPrompts(int count) =>
        Proc.WaitFor(() => Prompts >= count, TimeSpan.FromSeconds(20), $"prompt #{count}: {Transcript}");

    private int Count(string marker)
    {
        var text = Transcript;
        int n = 0;
        for (int at = text.IndexOf(marker, StringComparison.Ordinal); at >= 0; at = text.IndexOf(marker, at + 1, StringComparison.Ordinal))
        {
            n++;
        }

        return n;
    }

    public void Dispose()
    {
        try
        {
            if (!_driver.Process.HasExited)
            {
                using var shell = System.Diagnostics.Process.GetProcessById(Pid);
                shell.Kill();
            }
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            // gone already
        }

        _driver.Dispose();
        _dir.Dispose();
    }
}
