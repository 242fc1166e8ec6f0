using System.Diagnostics;
using System.Globalization;
using TlsScope.Engine;
using TlsScope.Engine.Processes;

namespace TlsScope.Cli;

/// <summary>
/// Launch mode (<c>tlsscope [options] -- CMD [ARGS...]</c>, ptcpdump's convention): the command
/// is started stopped (a shell that stops itself, then execs it), so its pid joins the target
/// and its program and libraries are attached before it runs a single instruction of its own.
/// Its stdio is TlsScope's (the terminal), it is in TlsScope's process group (Ctrl-C reaches it as
/// it would without TlsScope), and with <c>--user</c> it runs as that user (setpriv, as strace -u).
/// </summary>
internal sealed class Launcher : IDisposable
{
    private const string Setpriv = "/usr/bin/setpriv";

    private readonly Process _process;
    private bool _released;

    private Launcher(Process process, string program)
    {
        _process = process;
        Program = program;
    }

    public int Pid => _process.Id;

    /// <summary>The program the command runs, by absolute path.</summary>
    public string Program { get; }

    /// <summary>Starts the command stopped, before its program's first instruction.</summary>
    /// <exception cref="CaptureException">No such command (exit status 127, as a shell gives), or no such user.</exception>
    public static Launcher Start(IReadOnlyList<string> command, string? user)
    {
        var program = Resolve(command[0]);
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        // $$ is the shell, whose pid the command keeps: it stops itself, and once continued, execs.
        var script = user is null ? "kill -STOP $$; exec \"$@\"" : $"kill -STOP $$; exec {Setpriv} {UserArguments(user)} -- \"$@\"";
        foreach (var argument in (string[])["-c", script, "tlsscope-launch", program, .. command.Skip(1)])
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new CaptureException($"{command[0]}: cannot start it");
        var launcher = new Launcher(process, program);
        var deadline = Stopwatch.StartNew();
        while (ProcessFacts.State(process.Id) != 'T')
        {
            if (process.HasExited || deadline.Elapsed > TimeSpan.FromSeconds(10))
            {
                launcher.Dispose();
                throw new CaptureException($"{command[0]}: the launch did not stop as expected");
            }

            Thread.Sleep(1);
        }

        return launcher;
    }

    /// <summary>Lets the command run (after every probe is in).</summary>
    public void Release()
    {
        _released = true;
        ProcessSignals.Send(_process.Id, ProcessSignals.Sigcont);
    }

    /// <summary>Sends a signal on to the command (SIGTERM or SIGHUP sent to TlsScope).</summary>
    public void Forward(int signal) => ProcessSignals.Send(_process.Id, signal);

    public bool HasExited => _process.HasExited;

    /// <summary>Ended when the command exits.</summary>
    public Task Exited => _process.WaitForExitAsync();

    /// <summary>The command's exit status, as a shell reports it (128 + N when signal N ended it).</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>A command that never ran is killed; one that runs is left to run.</summary>
    public void Dispose()
    {
        if (!_released && !_process.HasExited)
        {
            ProcessSignals.Send(_process.Id, ProcessSignals.Sigkill);
            ProcessSignals.Send(_process.Id, ProcessSignals.Sigcont);
            _process.WaitForExit();
        }

        _process.Dispose();
    }

    /// <summary>A command name as a shell finds it: a path as is, else the first match in PATH.</summary>
    private static string Resolve(string name)
    {
        if (name.Length == 0)
        {
            throw new CaptureException("--: the command is empty", 127);
        }

        if (name.Contains('/'))
        {
            return File.Exists(name) ? Path.GetFullPath(name) : throw new CaptureException($"{name}: no such file", 127);
        }

        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate) && (File.GetUnixFileMode(candidate) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0)
            {
                return Path.GetFullPath(candidate);
            }
        }

        throw new CaptureException($"{name}: command not found", 127);
    }

    /// <summary>setpriv's arguments for a user name: its uid, its primary group, its groups.</summary>
    private static string UserArguments(string user)
    {
        if (!File.Exists(Setpriv))
        {
            throw new CaptureException("--user needs setpriv (apt-get install util-linux)");
        }

        using var getent = Process.Start(new ProcessStartInfo("getent", ["passwd", user]) { RedirectStandardOutput = true, UseShellExecute = false })!;
        var entry = getent.StandardOutput.ReadToEnd().Split('\n')[0].Split(':');
        getent.WaitForExit();
        if (getent.ExitCode != 0 || entry.Length < 4 || !uint.TryParse(entry[2], out var uid) || !uint.TryParse(entry[3], out var gid))
        {
            throw new CaptureException($"--user {user}: no such user");
        }

        return string.Create(CultureInfo.InvariantCulture, $"--reuid={uid} --regid={gid} --init-groups");
    }
}
