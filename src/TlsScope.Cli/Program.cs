using System.CommandLine;
using System.Runtime.InteropServices;
using TlsScope.Bpf;
using TlsScope.Capture;
using TlsScope.Capture.Model;
using TlsScope.Flows;
using TlsScope.Output;
using TlsScope.Output.Har;
using TlsScope.Capture.Events;
using TlsScope.Capture.Packets;
using TlsScope.Keys.Decoding;
using TlsScope.Pcap;

namespace TlsScope.Cli;

public static class Program
{
    public const int ExitOk = 0, ExitError = 1, ExitLoss = 3;

    public static int Main(string[] args)
    {
        try
        {
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
        // key layout in a process of its own (see TlsScope.Keys.Calibration).
        if (args is ["__calibrate", .. var rest])
            return TlsScope.Keys.Calibration.CalibrationHelper.Run(rest);
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
            return parsed.Invoke();
        if (cli.Validate(parsed) is { } invalid)
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
            return $"{m.Groups[2].Value} {m.Groups[1].Value}: not a valid value";
        return string.Join(' ', message.Split((char[])['\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries));
    }

    private static bool IsHelpOrVersion(string[] args) =>
        args.Any(a => a is "--help" or "-h" or "-?" or "--version");

    private static int Run(CliOptions cli, ParseResult parsed)
    {
        var sinks = new List<ICaptureSink>();
        try
        {
            // Everything that can refuse the command line goes before any output file is created.
            var options = cli.ToCapture(parsed);
            CaptureSession.Check(options);
            using var filter = parsed.GetValue(cli.Filter) is { } expr ? PacketFilter.Compile(expr, LinkType.Ethernet, LinkType.RawIp) : null;
            var interfaces = parsed.GetValue(cli.Pcapng) is null ? null : NetworkInterfaces.Select(parsed.GetValue(cli.Interface) ?? []);
            if (interfaces is not null)
                TcHookClaims.EnsureFree(PacketCapture.Hooks(interfaces));
            sinks.AddRange(Sinks(cli, parsed));
            using var fanout = new SinkFanout(sinks);
            using var cancel = new CancellationTokenSource();
            PacketCapture? packetsToDetach = null; // set once packets are captured: see Stop
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => Stop(c, cancel, packetsToDetach));
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => Stop(c, cancel, packetsToDetach));
            using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, c => Stop(c, cancel, packetsToDetach));
            if (parsed.GetValue(cli.Duration) is { } seconds)
                cancel.CancelAfter(TimeSpan.FromSeconds(seconds));

            // Keys and packets: --keylog and --pcapng take key sets; --pcapng also the TC packets.
            using var keylog = parsed.GetValue(cli.Keylog) is { } keyPath ? new KeyLogSink(keyPath) : null;
            using var pcapng = parsed.GetValue(cli.Pcapng) is { } pcapPath ? new PcapngSink(pcapPath, new PcapngSinkOptions { Filter = filter }) : null;
            var keySinks = new IKeySink?[] { keylog, pcapng }.OfType<IKeySink>().ToList();
            var keys = keySinks.Count > 0 ? new KeyExtractor(keySinks) : null;

            // HTTP parsing sits between the capture and the sinks unless --raw.
            using var http = cli.ToFlows(parsed) is { } flows ? new HttpFlowTracker(fanout, fanout, flows) : null;
            using var session = CaptureSession.Start(options, http ?? (ICaptureSink)fanout, Console.Error.WriteLine,
                keys is null ? null : new KeyCapture(keys, lib => KeyLayouts.For(lib, keys)));
            // A packet reader failure ends the run at once; packets.Stop() then reports it.
            using var packets = pcapng is null ? null
                : PacketCapture.Start(options, interfaces!, pcapng, Console.Error.WriteLine, _ => cancel.Cancel());
            packetsToDetach = packets;
            Console.Error.WriteLine($"tlsscope: ready: {session.ProbeCount} probes on {session.Libraries.Count} libraries{Describe(parsed, cli)}");
            if (session.Libraries.Count == 0)
                Console.Error.WriteLine("tlsscope: warning: no TLS library found yet; still watching new processes (or pass --libssl PATH)");
            session.Run(cancel.Token);
            var summary = session.Stop();
            var packetStats = packets?.Stop();
            http?.Dispose(); // exchanges still open are written out before the summary
            pcapng?.Dispose(); // held packets are written out before the summary
            if (session.TargetExited)
                Console.Error.WriteLine($"tlsscope: process {parsed.GetValue(cli.Pid)} exited");
            foreach (var line in summary.Lines())
                Console.Error.WriteLine(line);
            if (http is not null)
                Console.Error.WriteLine($"tlsscope: HTTP: {http.Exchanges} exchanges on {http.HttpConnections} connections");
            if (keys is not null)
                Console.Error.WriteLine("tlsscope: " + KeyLayouts.Summary(keys));
            if (packetStats is { } ps)
                Console.Error.WriteLine($"tlsscope: packets: {pcapng!.Counters.PacketsWritten} written, {ps.Filtered} not from traced processes, "
                    + $"{ps.LostPackets} lost (ring buffer full), {ps.Truncated} cut at {PacketHeader.Max} bytes; {pcapng.Counters}");
            foreach (var plain in sinks.OfType<PlaintextPcapngSink>())
                Console.Error.WriteLine($"tlsscope: plaintext pcapng: {plain.PacketsWritten} packets; {plain.MadeUpConnections} connections "
                    + $"with made-up addresses; {plain.MirroredChunks} chunks left to the other end of a connection traced at both");
            var lost = summary.AnyLoss || packetStats is { LostPackets: > 0 };
            if (fanout.FirstError is { } sinkError)
                Console.Error.WriteLine($"tlsscope: output failed: {OutputException.Describe(sinkError)}");
            if (keys?.FirstError is { } keyError)
                Console.Error.WriteLine($"tlsscope: output failed: {keyError.Message}");
            return lost ? ExitLoss : fanout.FirstError is null && keys?.FirstError is null ? ExitOk : ExitError;
        }
        catch (Exception e) when (e is CaptureException or OutputException or BpfException or PacketFilterException)
        {
            Console.Error.WriteLine("tlsscope: " + e.Message);
            return e is CaptureException ce ? ce.ExitCode : ExitError;
        }
        catch (DllNotFoundException e)
        {
            Console.Error.WriteLine($"tlsscope: a native library is missing ({e.Message.Split('\n')[0]}): install libbpf1 (apt-get install libbpf1)");
            return ExitError;
        }
        finally
        {
            foreach (var s in sinks)
                s.Dispose();
        }
    }

    private static void Stop(PosixSignalContext c, CancellationTokenSource cancel, PacketCapture? packets)
    {
        if (cancel.IsCancellationRequested)
        {
            // A second signal ends the process. The kernel drops uprobes and tracepoints with it,
            // but TC filters outlive it: remove them first.
            packets?.DetachFilters();
            return;
        }
        c.Cancel = true; // the first one: detach and summarise instead of dying
        cancel.Cancel();
    }

    private static string Describe(ParseResult p, CliOptions cli)
    {
        var parts = new List<string>();
        if (p.GetValue(cli.Pid) is { } pid)
            parts.Add($"pid {pid}");
        if (p.GetValue(cli.Uid) is { } uid)
            parts.Add($"uid {uid}");
        if (p.GetValue(cli.Comm) is { } comm)
            parts.Add($"comm {comm}");
        return parts.Count == 0 ? "" : " (" + string.Join(", ", parts) + ")";
    }

    private static IEnumerable<ICaptureSink> Sinks(CliOptions cli, ParseResult p)
    {
        var output = p.GetValue(cli.Output) ?? SecureFile.StandardOutputPath;
        var stream = SecureFile.CreateForWriting(output);
        yield return p.GetValue(cli.Format) == "json"
            ? new JsonSink(stream)
            : new TextSink(stream, new TextSinkOptions(
                Color: output == SecureFile.StandardOutputPath && !Console.IsOutputRedirected,
                BodyLimit: p.GetValue(cli.BodyLimit)));
        if (p.GetValue(cli.Json) is { } json)
            yield return new JsonSink(SecureFile.CreateForWriting(json));
        if (p.GetValue(cli.Har) is { } har)
            yield return new HarSink(har);
        if (p.GetValue(cli.PcapngPlaintext) is { } plain)
            yield return new PlaintextPcapngSink(plain);
    }
}
