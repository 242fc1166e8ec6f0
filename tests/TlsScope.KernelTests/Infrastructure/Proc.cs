using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace TlsScope.KernelTests.Infrastructure;

/// <summary>A child process with its output collected; killed on dispose if still running.</summary>
public sealed partial class Proc : IDisposable
{
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly object _gate = new();

    public Process Process { get; }

    private Proc(Process p) => Process = p;

    public int Pid => Process.Id;

    public string Stdout
    {
        get
        {
            lock (_gate)
            {
                return _stdout.ToString();
            }
        }
    }

    public string Stderr
    {
        get
        {
            lock (_gate)
            {
                return _stderr.ToString();
            }
        }
    }

    public static Proc Start(string file, IEnumerable<string> args, string? workDir = null,
        bool redirectStdin = false, IDictionary<string, string>? env = null, bool binaryStdout = false)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = !binaryStdout,
            RedirectStandardError = true,
            RedirectStandardInput = redirectStdin,
            UseShellExecute = false,
            WorkingDirectory = workDir ?? Environment.CurrentDirectory,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        if (env is not null)
        {
            foreach (var (k, v) in env)
            {
                psi.Environment[k] = v;
            }
        }

        var p = new Process { StartInfo = psi };
        var proc = new Proc(p);
        p.OutputDataReceived += (_, e) => proc.Append(proc._stdout, e.Data);
        p.ErrorDataReceived += (_, e) => proc.Append(proc._stderr, e.Data);
        p.Start();
        if (!binaryStdout)
        {
            p.BeginOutputReadLine();
        }

        p.BeginErrorReadLine();
        return proc;
    }

    /// <summary>Runs to completion; returns (exit code, stdout, stderr).</summary>
    public static (int Code, string Out, string Err) Run(string file, IEnumerable<string> args, TimeSpan? timeout = null, string? workDir = null)
    {
        using var p = Start(file, args, workDir);
        if (!p.Process.WaitForExit(timeout ?? TimeSpan.FromSeconds(60)))
        {
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish");
        }

        p.Process.WaitForExit();
        return (p.Process.ExitCode, p.Stdout, p.Stderr);
    }

    private void Append(StringBuilder sb, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_gate)
        {
            sb.Append(line).Append('\n');
        }
    }

    /// <summary>Waits until <paramref name="predicate"/> holds, polling; throws with context on timeout.</summary>
    public static void WaitFor(Func<bool> predicate, TimeSpan timeout, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!predicate())
        {
            if (sw.Elapsed > timeout)
            {
                throw new TimeoutException("timed out waiting for " + what);
            }

            Thread.Sleep(20);
        }
    }

    /// <summary>Waits for exit and for the output readers to drain (a timed WaitForExit alone
    /// returns before the last lines arrive).</summary>
    public bool WaitForExit(TimeSpan timeout)
    {
        if (!Process.WaitForExit(timeout))
        {
            return false;
        }

        Process.WaitForExit();
        return true;
    }

    public void Signal(int signal) => Kill(Pid, signal);

    public const int SIGINT = 2, SIGKILL = 9, SIGTERM = 15;

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int sig);

    public void Dispose()
    {
        try
        {
            if (!Process.HasExited)
            {
                Process.Kill(entireProcessTree: true);
                Process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }
        Process.Dispose();
    }
}
