using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace TlsScope.KernelTests.Infrastructure;

/// <summary>One binary of the Go peer matrix: Peers/go/gopeer built by one toolchain in one variant.</summary>
public sealed record GoPeerBinary(string Version, string Variant, string Path)
{
    public override string ToString() => $"go{Version}/{Variant}";
}

/// <summary>The options of <c>gopeer client</c>; the defaults are one GET over HTTP/1.1.</summary>
public sealed record GoClientOptions
{
    public string Method { get; init; } = "GET";

    public string? Body { get; init; }

    /// <summary>"Name: value" request headers.</summary>
    public IReadOnlyList<string> Headers { get; init; } = [];

    public bool Http2 { get; init; }

    public TlsVersion Tls { get; init; } = TlsVersion.Default;

    /// <summary>A file the client appends its own NSS key log lines to (created 0600).</summary>
    public string? Keylog { get; init; }

    public int Count { get; init; } = 1;

    public int Concurrency { get; init; } = 1;

    /// <summary>A new connection per request (Connection: close).</summary>
    public bool Close { get; init; }
}

/// <summary>One response as gopeer client prints it; Body only when the run had one request.</summary>
public sealed record GoResponse(int Status, string Proto, string Local, string Remote, int BodyLength, string? Body);

/// <summary>A finished gopeer client. Done/Ok/Bad come from the closing "done N ok M bad X" line
/// of a run of several requests (bad: bodies of /hello or /deep that were not what the server
/// must send); for one request they are 1/1/0 when it succeeded.</summary>
public sealed record GoClientRun(int Pid, int ExitCode, string Stdout, string Stderr, IReadOnlyList<GoResponse> Responses,
    int Done, int Ok, int Bad)
{
    public GoResponse Single => Assert.Single(Responses);
}

/// <summary>A finished gopeer raw: its connection's addresses and the exact bytes it received.</summary>
public sealed record GoRawRun(int Pid, int ExitCode, string Local, string Remote, byte[] Received, string Stderr)
{
    public string ReceivedText => Encoding.UTF8.GetString(Received);
}

/// <summary>
/// The Go crypto/tls test peers: tests/TlsScope.KernelTests/Peers/go/gopeer, built by
/// Peers/go/build with each Go toolchain scripts/go-toolchains installs (both run by
/// `scripts/setup test`) into .build/go/bin/&lt;version&gt;/&lt;variant&gt;/gopeer. The build is
/// run once per test run (quick when nothing changed). A missing toolchain or binary fails the
/// test that wants it, saying so: <see cref="Matrix"/> always lists every case.
/// </summary>
public static class GoPeers
{
    /// <summary>The toolchains (Debian's golang-X.Y packages): 1.15 the stack ABI, 1.19 the
    /// register ABI (Debian 12), 1.23 a new goid offset, 1.26 a zero pclntab textStart.</summary>
    public static readonly string[] Versions = ["1.15", "1.19", "1.23", "1.26"];

    /// <summary>default: pure Go, static, Go's linker; stripped: -s -w; pie: ET_DYN;
    /// pie-stripped: both; external: cgo, linked by gcc.</summary>
    public static readonly string[] Variants = ["default", "stripped", "pie", "pie-stripped", "external"];

    private static readonly Lazy<string> Built = new(Build);

    public static string BinDir => Path.Combine(Repo.Root, ".build", "go", "bin");

    public static string ToolchainDir => Path.Combine(Repo.Root, ".build", "go", "toolchains");

    /// <summary>Every (version, variant) the tests cover, whether built or not: a missing one
    /// fails its test in <see cref="Binary"/> instead of vanishing from the list.</summary>
    public static TheoryData<string, string> Matrix()
    {
        var data = new TheoryData<string, string>();
        foreach (var version in Versions)
        {
            foreach (var variant in Variants)
            {
                data.Add(version, variant);
            }
        }

        return data;
    }

    /// <summary>The versions alone, for tests that want one binary per toolchain.</summary>
    public static TheoryData<string> MatrixVersions() => new(Versions);

    /// <summary>The binaries present on disk (after building), in matrix order.</summary>
    public static IReadOnlyList<GoPeerBinary> Present()
    {
        _ = Built.Value;
        return (from version in Versions
                from variant in Variants
                let path = PathOf(version, variant)
                where File.Exists(path)
                select new GoPeerBinary(version, variant, path)).ToList();
    }

    /// <summary>The binary of a matrix case; throws, saying how to get it, when it is missing.</summary>
    public static string Binary(string version, string variant)
    {
        _ = Built.Value;
        var path = PathOf(version, variant);
        if (!File.Exists(path))
        {
            throw new InvalidOperationException($"the Go peer {path} (Go {version}, {variant}) is missing: " +
                "run scripts/go-toolchains and tests/TlsScope.KernelTests/Peers/go/build (scripts/setup test does)");
        }

        return path;
    }

    /// <summary>The binary of the newest toolchain, default variant, for tests about anything else.</summary>
    public static string Default => Binary(Versions[^1], "default");

    private static string PathOf(string version, string variant) => Path.Combine(BinDir, version, variant, "gopeer");

    private static string Build()
    {
        if (!Directory.Exists(ToolchainDir))
        {
            throw new InvalidOperationException($"no Go toolchains in {ToolchainDir}: run scripts/go-toolchains (scripts/setup test does)");
        }

        var script = Path.Combine(Repo.Root, "tests/TlsScope.KernelTests/Peers/go/build");
        var (code, output, err) = Proc.Run(script, [], TimeSpan.FromMinutes(10));
        if (code != 0)
        {
            throw new InvalidOperationException($"building the Go peers failed ({code}): {err}{output}");
        }

        return output;
    }

    /// <summary>Builds one Go file, standard library only, with a toolchain (a test's own small program).</summary>
    public static void BuildSingle(string version, string source, string output)
    {
        var goroot = Path.Combine(ToolchainDir, version);
        var cache = Path.Combine(Repo.Root, ".build", "go", "cache", version);
        var (code, stdout, stderr) = Proc.Run("env",
            [$"GOROOT={goroot}", "GOTOOLCHAIN=local", "GOPROXY=off", "GO111MODULE=off", "GOTELEMETRY=off", $"GOCACHE={cache}",
             $"GOPATH={Path.Combine(Repo.Root, ".build", "go", "gopath")}", "CGO_ENABLED=0",
             Path.Combine(goroot, "bin", "go"), "build", "-o", output, source], TimeSpan.FromMinutes(5));
        if (code != 0)
        {
            throw new InvalidOperationException($"go {version} build {source} failed ({code}): {stderr}{stdout}");
        }
    }

    /// <summary>Starts gopeer client; <see cref="ParseClient"/> reads the finished process.</summary>
    public static Proc StartClient(string binary, string url, GoClientOptions? options = null, NetNs? ns = null) =>
        NetNs.StartIn(ns, binary, ClientArgs(url, options ?? new GoClientOptions()));

    /// <summary>Runs gopeer client to completion (it exits as soon as its requests are done).</summary>
    public static GoClientRun RunClient(string binary, string url, GoClientOptions? options = null, NetNs? ns = null,
        TimeSpan? timeout = null)
    {
        using var proc = StartClient(binary, url, options, ns);
        if (!proc.WaitForExit(timeout ?? TimeSpan.FromSeconds(60)))
        {
            throw new TimeoutException($"gopeer client {url} did not finish: {proc.Stderr}");
        }

        return ParseClient(proc);
    }

    /// <summary>The output of a finished client: "status=… proto=… local=… remote=… bodylen=…"
    /// per response, the body after it for a single request, "done N ok M bad X" after several.</summary>
    public static GoClientRun ParseClient(Proc proc)
    {
        var stdout = proc.Stdout;
        var responses = new List<GoResponse>();
        int done = 0, ok = 0, bad = 0;
        var lines = stdout.Split('\n');
        var last = lines.LastOrDefault(l => l.Length > 0) ?? "";
        if (last.StartsWith("done ", StringComparison.Ordinal))
        {
            // Several requests: a status line each (no bodies), then "done N ok M bad X".
            responses.AddRange(lines.Where(l => l.StartsWith("status=", StringComparison.Ordinal)).Select(l => Response(l, null)));
            var w = last.Split(' ');
            (done, ok, bad) = (Int(w[1]), Int(w[3]), Int(w[5]));
        }
        else if (lines[0].StartsWith("status=", StringComparison.Ordinal))
        {
            // One request: its status line, then the body as is (Proc ends every line with '\n').
            var rest = string.Join('\n', lines.Skip(1));
            responses.Add(Response(lines[0], rest));
        }

        var code = proc.Process.ExitCode;
        if (done == 0 && responses.Count == 1)
        {
            (done, ok) = (1, code == 0 ? 1 : 0);
        }

        return new GoClientRun(proc.Pid, code, stdout, proc.Stderr, responses, done, ok, bad);
    }

    private static GoResponse Response(string line, string? rest)
    {
        var f = Fields(line);
        var length = Int(f["bodylen"]);
        return new GoResponse(Int(f["status"]), f["proto"], f["local"], f["remote"], length,
            rest is null ? null : rest[..Math.Min(length, rest.Length)]);
    }

    private static List<string> ClientArgs(string url, GoClientOptions o)
    {
        List<string> args = ["client", "--url", url, "--method", o.Method];
        if (o.Body is not null)
        {
            args.AddRange(["--body", o.Body]);
        }

        foreach (var h in o.Headers)
        {
            args.AddRange(["--header", h]);
        }

        if (o.Http2)
        {
            args.Add("--h2");
        }

        args.AddRange(TlsArgs(o.Tls));
        if (o.Keylog is not null)
        {
            args.AddRange(["--keylog", o.Keylog]);
        }

        args.AddRange(["--count", Str(o.Count), "--concurrency", Str(o.Concurrency)]);
        if (o.Close)
        {
            args.Add("--close");
        }

        return args;
    }

    /// <summary>Runs gopeer raw: one TLS connection to 127.0.0.1:PORT, <paramref name="send"/>
    /// written as is (send "Connection: close": it reads until the server closes).</summary>
    /// <param name="wrap">TLS over a wrapper of the TCP connection (not a *net.TCPConn).</param>
    public static GoRawRun RunRaw(string binary, int port, string send, TlsVersion tls = TlsVersion.Default,
        string? keylog = null, NetNs? ns = null, TimeSpan? timeout = null, bool wrap = false)
    {
        using var raw = GoRawConnection.Start(binary, port, send, tls, keylog, wait: false, ns, wrap);
        return raw.Finish(timeout);
    }

    /// <summary>Starts gopeer raw --wait: connected (handshake done, <see cref="GoRawConnection.Local"/>
    /// known) but sending only on <see cref="GoRawConnection.Send"/>.</summary>
    public static GoRawConnection StartRaw(string binary, int port, string send, TlsVersion tls = TlsVersion.Default,
        string? keylog = null, NetNs? ns = null) =>
        GoRawConnection.Start(binary, port, send, tls, keylog, wait: true, ns);

    internal static string[] TlsArgs(TlsVersion tls) => tls switch
    {
        TlsVersion.Tls12 => ["--tls12"],
        TlsVersion.Tls13 => ["--tls13"],
        _ => [],
    };

    internal static string Str(int n) => n.ToString(CultureInfo.InvariantCulture);

    private static int Int(string s) => int.Parse(s, CultureInfo.InvariantCulture);

    private static Dictionary<string, string> Fields(string line) =>
        line.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(w => w.Split('=', 2))
            .ToDictionary(kv => kv[0], kv => kv.Length > 1 ? kv[1] : "");
}

/// <summary>
/// gopeer server on 127.0.0.1 (a port of its own choosing): GET /hello, POST /echo, GET
/// /deep?n=N&amp;id=K (N nested calls with large frames: the goroutine stack grows), GET /big?n=N.
/// HTTP/2 by ALPN with h2, else HTTP/1.1 only. Dispose kills it.
/// </summary>
public sealed class GoServer : IDisposable
{
    public const string HelloBody = "hello from go server\n";

    private readonly Proc _proc;

    private GoServer(Proc proc, int port)
    {
        _proc = proc;
        Port = port;
    }

    public int Port { get; }

    public int Pid => _proc.Pid;

    public string Stderr => _proc.Stderr;

    /// <summary>Starts it and waits for its "listening PORT"; without a cert, it makes a
    /// self-signed ECDSA P-256 one for 127.0.0.1 and localhost.</summary>
    public static GoServer Start(string binary, bool h2 = false, TlsVersion tls = TlsVersion.Default,
        string? certPath = null, string? keyPath = null, NetNs? ns = null)
    {
        List<string> args = ["server", "--port", "0"];
        if (certPath is not null && keyPath is not null)
        {
            args.AddRange(["--cert", certPath, "--key", keyPath]);
        }

        if (h2)
        {
            args.Add("--h2");
        }

        args.AddRange(GoPeers.TlsArgs(tls));
        var proc = NetNs.StartIn(ns, binary, args);
        try
        {
            Proc.WaitFor(() => proc.Stdout.Contains("listening ", StringComparison.Ordinal) || proc.Process.HasExited,
                TimeSpan.FromSeconds(20), "gopeer server listening");
            if (proc.Process.HasExited)
            {
                throw new InvalidOperationException($"gopeer server {binary} failed: {proc.Stderr}");
            }

            var line = proc.Stdout.Split('\n').First(l => l.StartsWith("listening ", StringComparison.Ordinal));
            return new GoServer(proc, int.Parse(line["listening ".Length..], CultureInfo.InvariantCulture));
        }
        catch
        {
            proc.Dispose();
            throw;
        }
    }

    public string Url(string path) => string.Create(CultureInfo.InvariantCulture, $"https://127.0.0.1:{Port}{path}");

    /// <summary>What /deep?n=N&amp;id=K answers: "deep K N &lt;checksum&gt;\n" (the checksum is the
    /// Go peer's own; compare with a client run, which checks it).</summary>
    public static string DeepPrefix(int n, int id) => string.Create(CultureInfo.InvariantCulture, $"deep {id} {n} ");

    /// <summary>What /big?n=N answers: byte i is "0123456789abcdefghijklmnopqrstuvwxyz\n"[i % 37].</summary>
    public static byte[] BigBody(int n)
    {
        const string Pattern = "0123456789abcdefghijklmnopqrstuvwxyz\n";
        var body = new byte[n];
        for (var i = 0; i < n; i++)
        {
            body[i] = (byte)Pattern[i % Pattern.Length];
        }

        return body;
    }

    public bool HasExited => _proc.Process.HasExited;

    public void Dispose() => _proc.Dispose();
}

/// <summary>
/// A running gopeer raw: its stdout read as bytes ("connected local=… remote=…", then "received
/// N" and the N bytes exactly). With --wait it sends only when told (<see cref="Send"/>).
/// Dispose kills it if still running.
/// </summary>
public sealed class GoRawConnection : IDisposable
{
    private readonly Process _process;
    private readonly MemoryStream _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly Task _reader;
    private readonly object _gate = new();

    private GoRawConnection(Process process)
    {
        _process = process;
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (_gate)
                {
                    _stderr.Append(e.Data).Append('\n');
                }
            }
        };
        _process.BeginErrorReadLine();
        _reader = Task.Run(ReadStdout);
    }

    public int Pid => _process.Id;

    public string Local { get; private set; } = "";

    public string Remote { get; private set; } = "";

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

    internal static GoRawConnection Start(string binary, int port, string send, TlsVersion tls, string? keylog, bool wait, NetNs? ns,
        bool wrap = false)
    {
        List<string> args = ["raw", "--addr", string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{port}"), "--send", send];
        args.AddRange(GoPeers.TlsArgs(tls));
        if (keylog is not null)
        {
            args.AddRange(["--keylog", keylog]);
        }

        if (wait)
        {
            args.Add("--wait");
        }

        if (wrap)
        {
            args.Add("--wrap");
        }

        // ip netns exec execs the command: the pid stays gopeer's.
        var psi = new ProcessStartInfo(ns is null ? binary : "ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (ns is not null)
        {
            foreach (var a in new[] { "netns", "exec", ns.Name, binary })
            {
                psi.ArgumentList.Add(a);
            }
        }

        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        var raw = new GoRawConnection(Process.Start(psi) ?? throw new InvalidOperationException("gopeer raw did not start"));
        try
        {
            raw.WaitConnected();
        }
        catch
        {
            raw.Dispose();
            throw;
        }

        return raw;
    }

    /// <summary>With --wait: lets it send now.</summary>
    public void Send()
    {
        _process.StandardInput.WriteLine();
        _process.StandardInput.Flush();
    }

    /// <summary>Waits for it to read to the end and exit; the connection's result.</summary>
    public GoRawRun Finish(TimeSpan? timeout = null)
    {
        if (!_process.WaitForExit(timeout ?? TimeSpan.FromSeconds(60)) || !_reader.Wait(TimeSpan.FromSeconds(10)))
        {
            throw new TimeoutException($"gopeer raw {Pid} did not finish: {Stderr}");
        }

        _process.WaitForExit();
        var all = Snapshot();
        var start = IndexAfterLine(all, 0);
        var end = IndexAfterLine(all, start);
        var header = Encoding.ASCII.GetString(all, start, Math.Max(0, end - start)).TrimEnd('\n');
        if (!header.StartsWith("received ", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"gopeer raw {Pid} exited with {_process.ExitCode} without a \"received\" line: {Stderr}");
        }

        var n = int.Parse(header["received ".Length..], CultureInfo.InvariantCulture);
        return new GoRawRun(Pid, _process.ExitCode, Local, Remote, all.AsSpan(end, Math.Min(n, all.Length - end)).ToArray(), Stderr);
    }

    private void WaitConnected()
    {
        // The reader ends at the end of stdout (after the exit): then all its output is in.
        Proc.WaitFor(() => IndexAfterLine(Snapshot(), 0) > 0 || _reader.IsCompleted, TimeSpan.FromSeconds(20), "gopeer raw connected");
        var all = Snapshot();
        var end = IndexAfterLine(all, 0);
        if (end == 0)
        {
            _process.WaitForExit(5000);
            throw new InvalidOperationException($"gopeer raw failed to connect: {Stderr}");
        }

        // "connected local=127.0.0.1:P remote=127.0.0.1:Q"
        foreach (var w in Encoding.ASCII.GetString(all, 0, end).Trim().Split(' '))
        {
            if (w.StartsWith("local=", StringComparison.Ordinal))
            {
                Local = w["local=".Length..];
            }
            else if (w.StartsWith("remote=", StringComparison.Ordinal))
            {
                Remote = w["remote=".Length..];
            }
        }
    }

    /// <summary>The index after the '\n' ending the line at <paramref name="from"/>; 0 if none yet
    /// (for from = 0), else from itself.</summary>
    private static int IndexAfterLine(byte[] all, int from)
    {
        var nl = Array.IndexOf(all, (byte)'\n', from);
        return nl < 0 ? from : nl + 1;
    }

    private byte[] Snapshot()
    {
        lock (_gate)
        {
            return _stdout.ToArray();
        }
    }

    private async Task ReadStdout()
    {
        var buffer = new byte[64 * 1024];
        var stream = _process.StandardOutput.BaseStream;
        int n;
        while ((n = await stream.ReadAsync(buffer).ConfigureAwait(false)) > 0)
        {
            lock (_gate)
            {
                _stdout.Write(buffer, 0, n);
            }
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
        _stdout.Dispose();
    }
}
