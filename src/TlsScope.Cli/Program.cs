using System.CommandLine;
using System.Runtime.InteropServices;
using TlsScope.Bpf;
using TlsScope.Flows;
using TlsScope.Engine;
using TlsScope.Outputs;
using TlsScope.Outputs.Files;
using TlsScope.Outputs.Pcapng;
using TlsScope.Sources.Packets;
using TlsScope.Sources.Tls;
using TlsScope.Sources.Tls.Keys.Decoding;
using TlsScope.Engine.Sources;
using TlsScope.Engine.Targets;

namespace TlsScope.Cli;

public static class Program
{
    public const int ExitOk = 0, ExitError = 1, ExitLoss = 3;

    public static int Main(string[] args)
    {
        try
        {
            if (System.Reflection.Assembly.GetEntryAssembly()?.GetName().Name == "tlsscope")
            {
                DiagnosticChannel.Close(); // the tool itself, not a test host calling Main
            }

            return Dispatch(args);
        }
        catch (Exception e)
        {
            // Last resort: a bug must still read as one line, not a stack trace.
            Console.Error.WriteLine($"tlsscope: internal error: {e.GetType().Name}: {e.Message.Split('\n')[0]}");
            return ExitError;
        }
    }

    private static int Dispatch(string[] args)
    {
        // The calibration helper: the same binary, run by the tool itself to find a library's
        // key layout in a process of its own (see TlsScope.Sources.Tls.Keys.Calibration).
        if (args is ["__calibrate", .. var rest])
        {
            return TlsScope.Sources.Tls.Keys.Calibration.CalibrationHelper.Run(rest);
        }

        // The same for NSS: its SSL layer's methods, read from the library in a process of its own.
        if (args is [TlsScope.Sources.Tls.Nss.NssMethodsHelper.Command, .. var library])
        {
            return TlsScope.Sources.Tls.Nss.NssMethodsHelper.Run(library);
        }

        var cli = new CliOptions();
        var root = cli.Build();
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            // System.CommandLine's messages may span lines; ours are one.
            Console.Error.WriteLine($"tlsscope: {OneLine(parsed.Errors[0].Message)} (see --help)");
            return ExitError;
        }
        if (IsHelpOrVersion(args))
        {
            return parsed.Invoke();
        }

        if (cli.Validate(parsed, args) is { } invalid)
        {
            Console.Error.WriteLine($"tlsscope: {invalid}");
            return ExitError;
        }
        return Run(cli, parsed);
    }

    /// <summary>System.CommandLine's messages may span lines and name CLR types; ours do not.</summary>
    private static string OneLine(string message)
    {
        var m = System.Text.RegularExpressions.Regex.Match(message, "^Cannot parse argument '(.*)' for option '(.*)' as expected type");
        if (m.Success)
        {
            return $"{m.Groups[2].Value} {m.Groups[1].Value}: not a valid value";
        }

        return string.Join(' ', message.Split((char[])['\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries));
    }

    private static bool IsHelpOrVersion(string[] args) =>
        args.Any(a => a is "--help" or "-h" or "-?" or "--version");

    private static int Run(CliOptions cli, ParseResult parsed)
    {
        Action<string> log = Console.Error.WriteLine;
        // Signals first: a stop asked for while starting is honoured, and leaves nothing behind.
        using var stop = new CancellationTokenSource();
        CaptureRun? running = null;
        Launcher? launched = null;
        using var signals = StopSignals.Register(signal => OnSignal(signal, stop, launched), () => running?.DetachWhatOutlivesUs());
        try
        {
            // 1. Every refusal that needs nothing opened: the kernel's support, the target, the
            //    sources' options and files, the packet filter. A command to launch is started,
            //    stopped before its first instruction: its pid is the target.
            if (KernelSupport.Problems() is { Count: > 0 } problems)
            {
                throw new CaptureException(problems[0]);
            }

            using var launcher = (parsed.GetValue(cli.Command) ?? []) is { Length: > 0 } command
                ? Launcher.Start(command, parsed.GetValue(cli.User))
                : null;
            launched = launcher;
            var target = launcher is null
                ? TargetBuilder.From(cli, parsed)
                : new Target { Scope = TargetScope.Processes, Pids = [launcher.Pid], FollowForks = true, Uid = parsed.GetValue(cli.Uid), Comm = parsed.GetValue(cli.Comm) };
            target.Check();
            var demand = cli.Demand(parsed, target);
            var sources = cli.Sources.Select(d => d.Create(parsed, demand)).OfType<ICaptureSource>().ToList();
            using var filter = parsed.GetValue(cli.Filter) is { } expr ? PacketFilter.Compile(expr, LinkType.Ethernet, LinkType.RawIp) : null;

            // 2. The output files, all or nothing; an existing file is not replaced yet.
            using var files = OutputFileSet.Open(cli.OutputRequests(parsed));

            // 3. The kernel side, loaded and attached: events wait in the ring buffers. A refusal
            //    here still leaves every file as it was.
            using var run = CaptureRun.Attach(target, sources, parsed.GetValue(cli.BufferSize), parsed.GetValue(cli.Verbose), !parsed.GetValue(cli.NoHold), log);
            running = run;
            if (launcher is not null)
            {
                run.PrepareLaunch(launcher.Program, (Environment.GetEnvironmentVariable("LD_LIBRARY_PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries));
            }

            if (stop.IsCancellationRequested)
            {
                log("tlsscope: stopped before the capture started; no output written");
                return ExitOk;
            }

            // 4. The capture starts: outputs are replaced and their sinks made.
            files.Commit();
            var outputs = new Outputs(cli, parsed, files, filter);
            var fanout = new SinkFanout(outputs.Sinks, cli.ToFlows(parsed), line => log("tlsscope: " + line), stop.Cancel);
            StopReason reason;
            try
            {
                run.Start(new EventOutlets(fanout, fanout, fanout, fanout));
                log($"tlsscope: ready: {run.ReadyText}");
                if (launcher is null && sources.OfType<TlsSource>().FirstOrDefault() is { Libraries.Count: 0 })
                {
                    log("tlsscope: warning: no TLS library found yet; still watching new processes (or pass --binary PATH)");
                }

                if (parsed.GetValue(cli.Duration) is { } seconds)
                {
                    stop.CancelAfter(TimeSpan.FromSeconds(seconds));
                }

                if (launcher is not null)
                {
                    // The capture ends when the command does.
                    launcher.Exited.ContinueWith(_ => stop.Cancel(), TaskScheduler.Default);
                    launcher.Release();
                }

                reason = run.Run(stop.Token);
                run.Stop();
            }
            finally
            {
                // Every thread that feeds the outputs ends before they are closed.
                run.Dispose();
                fanout.Finish(); // open exchanges and held packets are written out before the summary
            }

            if (reason == StopReason.TargetExited)
            {
                log($"tlsscope: process {string.Join(", ", target.Pids)} exited");
            }

            foreach (var line in run.Summary())
            {
                log(line);
            }

            if (fanout.Http is { } http && sources.OfType<TlsSource>().Any()) // no HTTP line for an audit-only run
            {
                log($"tlsscope: HTTP: {http.Exchanges} exchanges on {http.HttpConnections} connections");
            }

            if (outputs.Pcapng is { } pcapng)
            {
                log($"tlsscope: {pcapng.Counters}");
            }

            if (outputs.Plaintext is { } plain)
            {
                log($"tlsscope: plaintext pcapng: {plain.PacketsWritten} packets; {plain.MadeUpConnections} connections "
                    + $"with made-up addresses; {plain.MirroredChunks} chunks left to the other end of a connection traced at both");
            }

            // An output that failed was told when it failed; it decides the status first. Then
            // loss; then, launching, the command's own status.
            return fanout.Failures.Count > 0 ? ExitError
                : run.LostAny ? ExitLoss
                : launcher is { HasExited: true } ? launcher.ExitCode
                : ExitOk;
        }
        catch (Exception e) when (e is CaptureException or OutputException or BpfException or PacketFilterException)
        {
            log("tlsscope: " + e.Message);
            return e is CaptureException ce ? ce.ExitCode : ExitError;
        }
        catch (DllNotFoundException e)
        {
            log($"tlsscope: a native library is missing ({e.Message.Split('\n')[0]}): install libbpf1 (apt-get install libbpf1)");
            return ExitError;
        }
    }

    /// <summary>SIGINT, SIGTERM and SIGHUP stop a capture. Launching, the command decides: Ctrl-C
    /// reaches it from the terminal as it would without TlsScope (a second SIGINT stops the
    /// capture), and SIGTERM or SIGHUP sent to TlsScope are passed on to it; the capture ends
    /// when it exits. Returns whether this signal stopped the capture.</summary>
    private static bool OnSignal(PosixSignal signal, CancellationTokenSource stop, Launcher? launched)
    {
        if (launched is null || launched.HasExited)
        {
            stop.Cancel();
            return true;
        }

        switch (signal)
        {
            case PosixSignal.SIGINT when Interlocked.Exchange(ref _sawInterrupt, 1) == 0:
                return false;
            case PosixSignal.SIGINT:
                stop.Cancel();
                return true;
            default:
                launched.Forward(signal == PosixSignal.SIGHUP ? 1 : 15);
                return false;
        }
    }

    private static int _sawInterrupt;
}
