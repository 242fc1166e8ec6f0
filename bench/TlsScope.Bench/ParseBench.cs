using System.Diagnostics;
using TlsScope.Flows;
using TlsScope.Protocols.Http1;
using TlsScope.Protocols.Http2;
using TlsScope.Engine.Model;
using TlsScope.Outputs.Json;
using TlsScope.Outputs.Text;

namespace TlsScope.Bench;

/// <summary>
/// HTTP parsing throughput, one thread, no kernel: pre-generated captures (see
/// <see cref="ParseCaptures"/>) replayed again and again through three layers:
///   parser          Http1StreamParser pairs / Http2Connection alone (one per connection, fresh per pass)
///   parser + decode the same plus ContentDecoding of gzip bodies (what MessageBuilder adds per message)
///   tracker         HttpFlowTracker (sniffing, pairing, MessageBuilder, HttpMessage/HttpExchange) into
///                   counting null sinks, with the default FlowOptions (the CLI's default)
/// Each pass replays the whole capture and closes its connections, so every pass starts them afresh.
/// </summary>
internal static class ParseBench
{
    // The reader's documented capacity (bench/README.md section 2, after the batcher fix).
    private const double ReaderSaturatedChunksPerS = 5.90e6;   // 64 B chunks, full pipeline, saturated
    private const double ReaderTargetChunksPerS = 3.0e6;       // the reader's target, met with 0 loss
    private const double ReaderDecoderNsPerChunk = 94.1;       // decoder thread, 64 B saturated
    private const double Reader4KMBPerS = 6150.5;              // 4 KiB chunks, full pipeline (1.5 M chunks/s)
    private const double Reader4KDecoderNsPerChunk = 142.8;    // decoder thread, 4 KiB

    public static int Run(Options o)
    {
        var seconds = o.Long("seconds", 1);
        var repeats = (int)o.Long("repeats", 5);
        var only = o.String("case");
        var onlyLayer = o.String("layer");
        var allocProfile = o.Long("alloc-profile", 0) != 0;
        Sys.PinCurrentThread((int)o.Long("cpu", Environment.ProcessorCount > 1 ? 1 : -1));
        Console.WriteLine($"parse: HTTP parsing throughput, one thread, {repeats} x >= {seconds} s per layer (median), 1 s warm-up, " +
                          $"GC {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")}, {Environment.ProcessorCount} CPUs");

        var rng = new Random(42);
        var captures = new List<SyntheticCapture>();
        if (only is null or "h1")
        {
            captures.Add(ParseCaptures.Http1("HTTP/1.1 mixed", ParseCaptures.RealisticMix(rng, http2: false), connections: 4, exchangesPerConnection: 100));
        }

        if (only is null or "h2")
        {
            captures.Add(ParseCaptures.Http2("HTTP/2 mixed", ParseCaptures.RealisticMix(rng, http2: true), connections: 2, exchangesPerConnection: 200, concurrent: 8));
        }

        if (only is null or "wrk")
        {
            captures.Add(ParseCaptures.Http1("HTTP/1.1 overhead.sh-like (GET / 200, 1 KiB body)", ParseCaptures.PageMix(rng), connections: 50, exchangesPerConnection: 40));
        }

        if (only is null or "small")
        {
            captures.Add(ParseCaptures.Http1("HTTP/1.1 small (GET/204)", ParseCaptures.SmallMix(), connections: 4, exchangesPerConnection: 2000));
            captures.Add(ParseCaptures.Http2("HTTP/2 small (GET/204)", ParseCaptures.SmallMix(), connections: 4, exchangesPerConnection: 2000, concurrent: 8));
        }

        if (captures.Count == 0)
        {
            throw new ArgumentException($"--case {only}: expected h1, h2, wrk or small");
        }

        var rows = new List<Row>();
        foreach (var capture in captures)
        {
            Console.WriteLine();
            Console.WriteLine($"{capture.Name}: {capture.Chunks.Length} chunks, {capture.WireBytes / 1e6:0.00} MB, {capture.Exchanges} exchanges per pass " +
                              $"({capture.WireBytes / capture.Chunks.Length} B/chunk, {capture.WireBytes / capture.Exchanges} B/exchange); {capture.Description}");
            Validate(capture);
            bool http2 = capture.Name.StartsWith("HTTP/2", StringComparison.Ordinal);
            var layers = new List<(string Name, Func<long> Pass)>
            {
                ("parser", http2 ? Http2Parser(capture, decode: false) : Http1Parser(capture, decode: false)),
                ("parser + decode", http2 ? Http2Parser(capture, decode: true) : Http1Parser(capture, decode: true)),
                ("tracker", Tracker(capture)),
                ("tracker + NDJSON", TrackerInto(capture, () => new JsonSink(Stream.Null))),
                ("tracker + text", TrackerInto(capture, () => new TextSink(Stream.Null))),
                ("raw NDJSON (--raw)", RawInto(capture, () => new JsonSink(Stream.Null))),
            };
            if (GzipBodies(capture).Count > 0)
            {
                layers.Add(("gzip alone: ContentDecoding", GzipAlone(capture, floor: false)));
                layers.Add(("gzip alone: floor", GzipAlone(capture, floor: true)));
            }

            foreach (var (layer, pass) in layers.Where(l => onlyLayer is null || l.Name == onlyLayer))
            {
                var load = MachineLoad.WaitForQuiet(0.15, 300);
                rows.Add(Measure(capture, layer, pass, seconds, repeats, load));
                if (allocProfile)
                {
                    AllocationProfile.Print(pass);
                }
            }
        }

        Console.WriteLine();
        Console.WriteLine("| case | layer | MB/s | chunks/s | exchanges/s | ns/chunk | ns/exchange | allocated B/exchange | gen0/gen1/gen2 GCs per s | MB/s runs (min-max) | other load (CPUs) |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|");
        foreach (var r in rows)
        {
            Console.WriteLine($"| {r.Case} | {r.Layer} | {r.MBps:0} | {Si(r.ChunksPerS)} | {Si(r.ExchangesPerS)} | {r.NsPerChunk:0} | {r.NsPerExchange:0} | " +
                              $"{r.BytesPerExchange:0} | {r.Gc0PerS:0}/{r.Gc1PerS:0.0}/{r.Gc2PerS:0.0} | {r.MinMBps:0}-{r.MaxMBps:0} | {r.OtherLoad:0.00} |");
        }

        Console.WriteLine();
        Console.WriteLine($"Against the reader (bench/README.md section 2): the decoder thread that would run the tracker spends {ReaderDecoderNsPerChunk} ns per 64 B chunk " +
                          $"({ReaderSaturatedChunksPerS / 1e6:0.0} M chunks/s saturated, target {ReaderTargetChunksPerS / 1e6:0.0} M/s) and {Reader4KDecoderNsPerChunk} ns per 4 KiB chunk " +
                          $"({Reader4KMBPerS:0} MB/s of payload).");
        if (!rows.Any(r => r.Layer == "tracker"))
        {
            return 0;
        }

        Console.WriteLine("| case | tracker ns/chunk | decoder thread ns/chunk (reader + tracker) | decoder thread chunks/s | decoder thread MB/s | parse MB/s vs reader 4 KiB MB/s |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|");
        foreach (var r in rows.Where(r => r.Layer == "tracker"))
        {
            double bytesPerChunk = r.MBps * 1e6 / r.ChunksPerS;
            double readerNs = bytesPerChunk < 1024 ? ReaderDecoderNsPerChunk : Reader4KDecoderNsPerChunk; // the nearer documented figure (64 B or 4 KiB)
            double total = readerNs + r.NsPerChunk;
            Console.WriteLine($"| {r.Case} | {r.NsPerChunk:0} | {readerNs} + {r.NsPerChunk:0} = {total:0} | {Si(1e9 / total)} | {1e9 / total * bytesPerChunk / 1e6:0} | {r.MBps / Reader4KMBPerS:0.00}x |");
        }

        return 0;
    }

    private static string Si(double v) => v >= 1e6 ? $"{v / 1e6:0.00} M" : v >= 1e3 ? $"{v / 1e3:0.0} k" : $"{v:0}";

    private sealed record Row(string Case, string Layer, double MBps, double ChunksPerS, double ExchangesPerS, double NsPerChunk,
        double NsPerExchange, double BytesPerExchange, double Gc0PerS, double Gc1PerS, double Gc2PerS, double MinMBps, double MaxMBps, double OtherLoad);

    private static Row Measure(SyntheticCapture capture, string layer, Func<long> pass, long seconds, int repeats, double waitLoad)
    {
        long expected = capture.Exchanges;
        var warm = Stopwatch.StartNew();
        for (int i = 0; i < 3 || warm.Elapsed.TotalSeconds < 1; i++)
        {
            var got = pass();
            if (got != expected)
            {
                throw new InvalidOperationException($"{capture.Name} / {layer}: {got} exchanges in a pass, expected {expected}");
            }
        }

        var runs = new List<(double MBps, double Cpu, long Passes, long Alloc, int Gc0, int Gc1, int Gc2, double Other)>();
        int tid = Sys.GetTid();
        for (int r = 0; r < repeats; r++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            int gc0 = GC.CollectionCount(0), gc1 = GC.CollectionCount(1), gc2 = GC.CollectionCount(2);
            long alloc0 = GC.GetAllocatedBytesForCurrentThread();
            long cpu0 = Sys.ThreadCpuNs(tid);
            long busy0 = MachineLoad.BusyNs();
            var clock = Stopwatch.StartNew();
            long passes = 0;
            while (clock.Elapsed.TotalSeconds < seconds)
            {
                pass();
                passes++;
            }

            double wall = clock.Elapsed.TotalSeconds;
            double cpu = (Sys.ThreadCpuNs(tid) - cpu0) / 1e9; // this thread's CPU, gen0/gen1 GCs it ran included
            double other = Math.Max(0, (MachineLoad.BusyNs() - busy0) / 1e9 - cpu) / wall;
            long alloc = GC.GetAllocatedBytesForCurrentThread() - alloc0;
            runs.Add((passes * capture.WireBytes / cpu / 1e6, cpu, passes, alloc,
                GC.CollectionCount(0) - gc0, GC.CollectionCount(1) - gc1, GC.CollectionCount(2) - gc2, other));
        }

        var sorted = runs.OrderBy(x => x.MBps).ToList();
        var med = sorted[sorted.Count / 2];
        double perS = med.Passes / med.Cpu;
        var row = new Row(capture.Name, layer, med.MBps, perS * capture.Chunks.Length, perS * capture.Exchanges,
            med.Cpu * 1e9 / (med.Passes * capture.Chunks.Length), med.Cpu * 1e9 / (med.Passes * capture.Exchanges),
            (double)med.Alloc / (med.Passes * capture.Exchanges), med.Gc0 / med.Cpu, med.Gc1 / med.Cpu, med.Gc2 / med.Cpu,
            sorted[0].MBps, sorted[^1].MBps, Math.Max(waitLoad, runs.Max(x => x.Other)));
        Console.WriteLine($"  {layer,-16} {row.MBps,7:0} MB/s  {Si(row.ChunksPerS),9} chunks/s  {Si(row.ExchangesPerS),9} exchanges/s  " +
                          $"{row.NsPerExchange,7:0} ns/exchange  {row.BytesPerExchange,7:0} B allocated/exchange  " +
                          $"(runs {string.Join(", ", runs.Select(x => x.MBps.ToString("0")))} MB/s; other load {row.OtherLoad:0.00})");
        return row;
    }

    // ---------------------------------------------------------------- layers

    /// <summary>Two Http1StreamParsers per connection, wired as Http1Conversation wires them (the request's
    /// method to the response parser); with <paramref name="decode"/>, gzip bodies are decoded too.</summary>
    private static Func<long> Http1Parser(SyntheticCapture capture, bool decode) => () =>
    {
        long exchanges = 0;
        long decoded = 0;
        var connections = new Dictionary<ulong, (Http1StreamParser Requests, Http1StreamParser Responses)>();
        var strings = new FieldStrings(4096); // one table for all connections, as HttpFlowTracker has
        foreach (var chunk in capture.Chunks)
        {
            if (!connections.TryGetValue(chunk.Connection, out var pair))
            {
                var responses = new Http1StreamParser(Http1Role.Response, maxBodyBytes: FlowOptions.DefaultMaxBodyBytes, strings: strings);
                var requests = new Http1StreamParser(Http1Role.Request, maxBodyBytes: FlowOptions.DefaultMaxBodyBytes, strings: strings);
                requests.HeadersParsed += m => responses.ExpectResponseTo(m.Method ?? "");
                responses.MessageParsed += m =>
                {
                    exchanges++;
                    if (decode && m.GetHeader("Content-Encoding") is { } encoding &&
                        ContentDecoding.TryDecode(m.Body, encoding, FlowOptions.DefaultMaxBodyBytes, out var body))
                    {
                        decoded += body.Length;
                    }
                };
                connections[chunk.Connection] = pair = (requests, responses);
            }

            var parser = chunk.Direction == Direction.Write ? pair.Requests : pair.Responses;
            parser.Clock = chunk.Direction == Direction.Write ? chunk.StartUnixNs : chunk.TimeUnixNs;
            parser.Feed(chunk.Data.Span);
        }

        foreach (var close in capture.Closes)
        {
            if (connections.Remove(close.Connection, out var pair))
            {
                pair.Requests.End();
                pair.Responses.End();
            }
        }

        GC.KeepAlive(decoded);
        return exchanges;
    };

    /// <summary>One Http2Connection per connection; with <paramref name="decode"/>, gzip bodies are copied
    /// out and decoded as MessageBuilder does.</summary>
    private static Func<long> Http2Parser(SyntheticCapture capture, bool decode) => () =>
    {
        long exchanges = 0;
        long decoded = 0;
        var connections = new Dictionary<ulong, Http2Connection>();
        foreach (var chunk in capture.Chunks)
        {
            if (!connections.TryGetValue(chunk.Connection, out var h2))
            {
                h2 = new Http2Connection(FlowOptions.DefaultMaxBodyBytes);
                h2.ResponseCompleted += m =>
                {
                    exchanges++;
                    if (decode && m.GetHeader("content-encoding") is { } encoding &&
                        ContentDecoding.TryDecode(m.Body.ToArray(), encoding, FlowOptions.DefaultMaxBodyBytes, out var body))
                    {
                        decoded += body.Length;
                    }
                };
                connections[chunk.Connection] = h2;
            }

            h2.Clock = chunk.Direction == Direction.Write ? chunk.StartUnixNs : chunk.TimeUnixNs;
            h2.Feed(chunk.Direction == Direction.Write ? Http2Role.ClientToServer : Http2Role.ServerToClient, chunk.Data.Span);
        }

        foreach (var close in capture.Closes)
        {
            if (connections.Remove(close.Connection, out var h2))
            {
                h2.End();
            }
        }

        GC.KeepAlive(decoded);
        return exchanges;
    };

    /// <summary>Every gzip body of one pass, in order (the same body object once per exchange that carries it).</summary>
    private static List<ExchangeSpec> GzipBodies(SyntheticCapture capture) =>
        capture.Expected.Values.SelectMany(x => x).Where(e => e.Encoding == "gzip").ToList();

    /// <summary>
    /// Only the gzip decoding of one pass's bodies, the parsing left out: through ContentDecoding.TryDecode
    /// as MessageBuilder calls it, or (<paramref name="floor"/>) a GZipStream read straight into one reused
    /// buffer of the right size: the cost of inflating itself, without buffer growth and copies.
    /// </summary>
    private static Func<long> GzipAlone(SyntheticCapture capture, bool floor)
    {
        var bodies = GzipBodies(capture);
        var output = new byte[bodies.Max(e => e.Body.Length)];
        return () =>
        {
            long total = 0;
            foreach (var e in bodies)
            {
                if (floor)
                {
                    using var source = new MemoryStream(e.WireBody, writable: false);
                    using var gz = new System.IO.Compression.GZipStream(source, System.IO.Compression.CompressionMode.Decompress);
                    total += gz.ReadAtLeast(output, e.Body.Length, throwOnEndOfStream: true);
                }
                else if (ContentDecoding.TryDecode(e.WireBody, e.Encoding, FlowOptions.DefaultMaxBodyBytes, out var decoded))
                {
                    total += decoded.Length;
                }
            }

            GC.KeepAlive(total);
            return capture.Exchanges;
        };
    }

    private static Func<long> Tracker(SyntheticCapture capture)
    {
        var sink = new NullHttpSink();
        var tracker = new HttpFlowTracker(sink, sink, new FlowOptions());
        return () =>
        {
            long before = sink.Exchanges;
            foreach (var chunk in capture.Chunks)
            {
                tracker.OnData(chunk);
            }

            foreach (var close in capture.Closes)
            {
                tracker.OnClose(close);
            }

            if (sink.RawChunks != 0)
            {
                throw new InvalidOperationException($"{capture.Name}: {sink.RawChunks} chunks passed through as raw");
            }

            return sink.Exchanges - before;
        };
    }

    /// <summary>The default pipeline after decoding: the tracker into an output (NDJSON or text)
    /// writing to Stream.Null, as SinkFanout wires it (parsed exchanges to the output, the chunks
    /// that are not HTTP to it as raw chunks).</summary>
    private static Func<long> TrackerInto<TOutput>(SyntheticCapture capture, Func<TOutput> create) where TOutput : ICaptureSink, IHttpSink
    {
        var output = create();
        var tracker = new HttpFlowTracker(output, output, new FlowOptions());
        return () =>
        {
            foreach (var chunk in capture.Chunks)
            {
                tracker.OnData(chunk);
            }

            foreach (var close in capture.Closes)
            {
                tracker.OnClose(close);
            }

            output.Flush();
            return capture.Exchanges;
        };
    }

    /// <summary>--raw: every chunk straight into the output.</summary>
    private static Func<long> RawInto(SyntheticCapture capture, Func<ICaptureSink> create)
    {
        var output = create();
        return () =>
        {
            foreach (var chunk in capture.Chunks)
            {
                output.OnData(chunk);
            }

            foreach (var close in capture.Closes)
            {
                output.OnClose(close);
            }

            output.Flush();
            return capture.Exchanges;
        };
    }

    /// <summary>One pass through the tracker, checking every exchange against the capture's specification:
    /// a benchmark of a parser that silently fails would measure nothing.</summary>
    private static void Validate(SyntheticCapture capture)
    {
        var sink = new CheckingSink();
        var tracker = new HttpFlowTracker(sink, sink, new FlowOptions());
        foreach (var chunk in capture.Chunks)
        {
            tracker.OnData(chunk);
        }

        foreach (var close in capture.Closes)
        {
            tracker.OnClose(close);
        }

        var problems = new List<string>();
        if (sink.Raw != 0)
        {
            problems.Add($"{sink.Raw} chunks passed through raw");
        }

        foreach (var (conn, expected) in capture.Expected)
        {
            var got = sink.Exchanges.Where(x => x.Flow.Connection == conn).OrderBy(x => x.Sequence).ToList();
            if (got.Count != expected.Count)
            {
                problems.Add($"connection {conn}: {got.Count} exchanges, expected {expected.Count}");
                continue;
            }

            for (int i = 0; i < got.Count; i++)
            {
                var (x, e) = (got[i], expected[i]);
                string where = $"connection {conn} exchange {i + 1} ({e.Method} {e.Path})";
                if (x.Request is not { Complete: true } req || x.Response is not { Complete: true } resp)
                {
                    problems.Add($"{where}: request or response missing or incomplete ({x.Request?.Note}; {x.Response?.Note})");
                    continue;
                }

                if (req.Method != e.Method || !(req.Url ?? "").EndsWith(e.Path, StringComparison.Ordinal))
                {
                    problems.Add($"{where}: request {req.Method} {req.Url}");
                }

                if (req.Body.Length != (e.RequestBody?.Length ?? 0))
                {
                    problems.Add($"{where}: request body {req.Body.Length} B");
                }

                if (resp.Status != e.Status)
                {
                    problems.Add($"{where}: status {resp.Status}");
                }

                if (resp.BodyDecoded != e.Encoding || !resp.Body.Span.SequenceEqual(e.Body))
                {
                    problems.Add($"{where}: response body {resp.Body.Length} B decoded from {resp.BodyDecoded ?? "-"}, expected {e.Body.Length} B from {e.Encoding ?? "-"}");
                }

                if (resp.Note is not null || req.Note is not null)
                {
                    problems.Add($"{where}: notes {req.Note}; {resp.Note}");
                }
            }
        }

        if (problems.Count > 0)
        {
            foreach (var p in problems.Take(10))
            {
                Console.Error.WriteLine("  invalid: " + p);
            }

            throw new InvalidOperationException($"{capture.Name}: the tracker did not report the capture as generated ({problems.Count} problems)");
        }

        Console.WriteLine($"  validated: {sink.Exchanges.Count} exchanges, all complete, bodies and statuses as generated ({sink.Exchanges.Count(x => x.Response!.BodyDecoded is not null)} gzip-decoded)");
    }

    /// <summary>The null sinks: counts events, keeps nothing.</summary>
    private sealed class NullHttpSink : IHttpSink, ICaptureSink
    {
        public long Requests;
        public long Responses;
        public long Exchanges;
        public long RawChunks;

        public void OnRequest(HttpFlow flow, long sequence, HttpMessage request) => Requests++;

        public void OnResponse(HttpFlow flow, long sequence, HttpMessage response) => Responses++;

        public void OnExchange(HttpExchange exchange) => Exchanges++;

        public void OnWebSocket(WebSocketEvent frame)
        {
        }

        public void OnData(DataChunk chunk) => RawChunks++;

        public void OnGap(StreamGap gap)
        {
        }

        public void OnClose(ConnectionClosed closed)
        {
        }

        public void Flush()
        {
        }

        public void Dispose()
        {
        }
    }

    private sealed class CheckingSink : IHttpSink, ICaptureSink
    {
        public List<HttpExchange> Exchanges { get; } = new();

        public long Raw;

        public void OnRequest(HttpFlow flow, long sequence, HttpMessage request)
        {
        }

        public void OnResponse(HttpFlow flow, long sequence, HttpMessage response)
        {
        }

        // Kept past the call: the bodies' pooled arrays are reused once it returns.
        public void OnExchange(HttpExchange exchange) => Exchanges.Add(new HttpExchange
        {
            Flow = exchange.Flow,
            Sequence = exchange.Sequence,
            Request = exchange.Request?.Keep(),
            Response = exchange.Response?.Keep(),
        });

        public void OnWebSocket(WebSocketEvent frame)
        {
        }

        public void OnData(DataChunk chunk) => Raw++;

        public void OnGap(StreamGap gap)
        {
        }

        public void OnClose(ConnectionClosed closed)
        {
        }

        public void Flush()
        {
        }

        public void Dispose()
        {
        }
    }
}

/// <summary>
/// What a layer allocates, by type: the runtime's GCAllocationTick events (one per ~100 KB allocated,
/// naming the type of the allocation that crossed the mark) over one second of passes. A sample, not an
/// exact account; the event listener's own thread runs meanwhile, so this is never part of a measurement.
/// </summary>
internal sealed class AllocationProfile : System.Diagnostics.Tracing.EventListener
{
    private readonly Dictionary<string, long> _bytes = new();
    private readonly object _lock = new();

    public static void Print(Func<long> pass)
    {
        using var listener = new AllocationProfile();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < 1)
        {
            pass();
        }

        Thread.Sleep(500); // let the listener drain
        Dictionary<string, long> bytes;
        lock (listener._lock)
        {
            bytes = new Dictionary<string, long>(listener._bytes);
        }

        long total = Math.Max(1, bytes.Values.Sum());
        Console.WriteLine("    allocations by type (sampled): " + string.Join(", ",
            bytes.OrderByDescending(kv => kv.Value).Take(8).Select(kv => $"{kv.Key} {100.0 * kv.Value / total:0}%")));
    }

    protected override void OnEventSourceCreated(System.Diagnostics.Tracing.EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(source, System.Diagnostics.Tracing.EventLevel.Verbose, (System.Diagnostics.Tracing.EventKeywords)0x1); // GC
        }
    }

    protected override void OnEventWritten(System.Diagnostics.Tracing.EventWrittenEventArgs e)
    {
        if (e.EventName is not { } name || !name.StartsWith("GCAllocationTick", StringComparison.Ordinal) || e.PayloadNames is null)
        {
            return;
        }

        int type = e.PayloadNames.IndexOf("TypeName");
        int amount = e.PayloadNames.IndexOf("AllocationAmount64");
        if (type < 0 || e.Payload is null)
        {
            return;
        }

        long n = amount >= 0 ? Convert.ToInt64(e.Payload[amount], System.Globalization.CultureInfo.InvariantCulture) : 100_000;
        var key = e.Payload[type] as string ?? "?";
        lock (_lock)
        {
            _bytes[key] = _bytes.GetValueOrDefault(key) + n;
        }
    }
}
