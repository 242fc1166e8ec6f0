using System.Text.Json;

namespace TlsScope.KernelTests.Infrastructure;

/// <summary>The real tool, run as a child process with NDJSON output to a file: started,
/// waited on until it says it is ready, stopped with SIGINT like a user would.</summary>
public sealed class TlsScopeRun : IDisposable
{
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "tlsscope.dll");

    private readonly Proc _proc;
    private readonly string _dir;

    private TlsScopeRun(Proc proc, string dir, string output)
    {
        _proc = proc;
        _dir = dir;
        OutputPath = output;
    }

    public string OutputPath { get; }

    /// <summary>A scratch directory removed with the run (for --json/--har files).</summary>
    public string Directory => _dir;

    public int Pid => _proc.Pid;

    public string Stderr => _proc.Stderr;

    public int ExitCode => _proc.Process.ExitCode;

    public bool HasExited => _proc.Process.HasExited;

    /// <summary>NDJSON of raw chunks (--raw): the capture engine's own output, HTTP parsing off.</summary>
    public static TlsScopeRun Start(params string[] args) => StartWith(["--format", "json", "--raw"], args);

    /// <summary>NDJSON with HTTP parsing on (the default): http_request/http_response/http_exchange records.</summary>
    public static TlsScopeRun StartHttp(params string[] args) => StartWith(["--format", "json"], args);

    /// <summary>Starts with given leading arguments (format etc.); the output file is always OutputPath.</summary>
    public static TlsScopeRun StartWith(string[] format, string[] args) => StartIn(null, format, args);

    /// <summary>Starts inside a network namespace (its TC hooks go on that namespace's interfaces);
    /// null starts on the host.</summary>
    public static TlsScopeRun StartIn(NetNs? ns, string[] format, string[] args)
    {
        var dir = System.IO.Directory.CreateTempSubdirectory("tlsscope-run-").FullName;
        var output = Path.Combine(dir, "out.ndjson");
        string[] command = ["dotnet", Dll, .. format, "-o", output, .. args];
        var proc = ns is null ? Proc.Start(command[0], command[1..]) : Proc.Start("ip", ["netns", "exec", ns.Name, .. command]);
        var run = new TlsScopeRun(proc, dir, output);
        try
        {
            Proc.WaitFor(() => proc.Stderr.Contains("tlsscope: ready") || proc.Process.HasExited,
                TimeSpan.FromSeconds(60), "tlsscope: ready");
            if (proc.Process.HasExited)
            {
                throw new InvalidOperationException($"tlsscope exited with {proc.Process.ExitCode}: {proc.Stderr}");
            }
        }
        catch
        {
            run.Dispose();
            throw;
        }
        return run;
    }

    /// <summary>Runs the tool to completion (for bad-input tests): exit code and stderr.</summary>
    public static (int Code, string Stderr) RunToEnd(params string[] args)
    {
        var (code, _, err) = Proc.Run("dotnet", [Dll, .. args], TimeSpan.FromSeconds(60));
        return (code, err);
    }

    /// <summary>Sends a signal and returns at once (SIGKILL: no clean-up runs).</summary>
    public void Signal(int signal) => _proc.Signal(signal);

    /// <summary>Stops, and fails with the run's whole stderr (its summary says what was lost or
    /// held too long) unless it ended cleanly (0).</summary>
    public void StopCleanly(int signal = Proc.SIGINT)
    {
        var code = Stop(signal);
        Assert.True(code == 0, $"tlsscope ended with {code}: {Stderr}");
    }

    /// <summary>SIGINT (or another signal), then waits for the summary and exit.</summary>
    public int Stop(int signal = Proc.SIGINT)
    {
        if (!_proc.Process.HasExited)
        {
            _proc.Signal(signal);
        }

        if (!_proc.Process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            throw new TimeoutException($"tlsscope did not stop on SIGINT: {_proc.Stderr}; threads: {ThreadStates(_proc.Pid)}");
        }

        _proc.Process.WaitForExit(); // drain output readers
        var code = _proc.Process.ExitCode;
        if (code is not (0 or 1 or 3))
        {
            throw new InvalidOperationException($"tlsscope ended abnormally with {code}: {_proc.Stderr}");
        }

        return code;
    }

    /// <summary>Each thread's name and kernel wait channel, to tell where a hang is.</summary>
    private static string ThreadStates(int pid)
    {
        try
        {
            return string.Join(", ", System.IO.Directory.EnumerateDirectories($"/proc/{pid}/task").Select(t =>
                $"{File.ReadAllText(t + "/comm").Trim()}={File.ReadAllText(t + "/wchan").Trim()}"));
        }
        catch (IOException)
        {
            return "?";
        }
    }

    public Captured Records() => Captured.Load(OutputPath);

    public void Dispose()
    {
        _proc.Dispose();
        try
        {
            System.IO.Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Parsed NDJSON records with the queries tests need.</summary>
public sealed class Captured(IReadOnlyList<JsonElement> all)
{
    /// <summary>Reads an NDJSON file written by the tool.</summary>
    public static Captured Load(string path)
    {
        var list = new List<JsonElement>();
        foreach (var line in File.ReadLines(path))
        {
            if (line.Length > 0)
            {
                list.Add(JsonDocument.Parse(line).RootElement.Clone());
            }
        }

        return new Captured(list);
    }

    public IReadOnlyList<JsonElement> All => all;

    public IEnumerable<JsonElement> Data => all.Where(r => r.GetProperty("type").GetString() == "data");

    public IEnumerable<JsonElement> DataOf(int pid, string direction) =>
        Data.Where(r => r.GetProperty("pid").GetInt32() == pid && r.GetProperty("direction").GetString() == direction);

    /// <summary>Every byte one process read or wrote, in order.</summary>
    public byte[] Bytes(int pid, string direction) =>
        DataOf(pid, direction).SelectMany(r => r.GetProperty("data").GetBytesFromBase64()).ToArray();

    public IEnumerable<JsonElement> OfType(string type) => all.Where(r => r.GetProperty("type").GetString() == type);

    public override string ToString() =>
        string.Join('\n', all.Take(20).Select(r => r.ToString().Length > 300 ? r.ToString()[..300] + "..." : r.ToString()));
}
