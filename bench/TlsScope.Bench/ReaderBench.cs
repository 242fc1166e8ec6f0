using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using TlsScope.Bpf;
using TlsScope.Capture.Decoding;
using TlsScope.Capture.Events;
using TlsScope.Capture.Model;

namespace TlsScope.Bench;

/// <summary>How much of TlsScope's user-space pipeline a scenario runs.</summary>
internal enum Stage
{
    /// <summary>libbpf's ring_buffer__poll and TlsScope's RingBuffer callback, into a consumer that only counts.</summary>
    Ring,
    /// <summary>Plus RecordBatcher (copy into 1 MiB blocks, hand-off to a second thread that releases them).</summary>
    Batch,
    /// <summary>The whole pipeline as CaptureSession runs it: plus EventDecoder and CallAssembler into a null sink.</summary>
    Full,
}

internal sealed record Scenario(string Name, int Payload, long Rate, Stage Stage);

/// <summary>
/// Reader throughput. A BPF program (bench/noop/producer.bpf.c), run with BPF_PROG_TEST_RUN on
/// the producer CPU, emits struct tscope_chunk records faster than any uprobe could; the reader
/// threads, pinned to the other CPU, run TlsScope's own pieces exactly as CaptureSession wires
/// them: a ring-reader thread (RingBuffer.Poll + RecordBatcher.Publish) and a decoder thread
/// (EventDecoder.DecodeBatch -> CallAssembler -> sink). Figures are taken over a window that
/// starts after a warm-up (JIT tiering); the pipeline is drained at the end and checked.
/// </summary>
internal static class ReaderBench
{
    private const int WarmupMs = 2000;

    private sealed record Settings(int Seconds, int RingMiB, int ProducerCpu, int ReaderCpu);

    public static int Run(Options o)
    {
        var cpus = Environment.ProcessorCount;
        var settings = new Settings(
            Seconds: (int)o.Long("seconds", 10),
            RingMiB: (int)o.Long("ring-mib", 32),
            ProducerCpu: (int)o.Long("producer-cpu", 0),
            ReaderCpu: (int)o.Long("reader-cpu", cpus > 1 ? 1 : -1));
        if (settings.Seconds < 1)
            throw new ArgumentException("--seconds must be at least 1");
        Sys.PinCurrentThread(settings.ReaderCpu); // every thread of the reader process starts from here

        List<Scenario> scenarios;
        if (o.Has("payload") || o.Has("rate") || o.Has("stage"))
        {
            var stage = (o.String("stage") ?? "full") switch
            {
                "full" => Stage.Full,
                "batch" => Stage.Batch,
                "ring" => Stage.Ring,
                var s => throw new ArgumentException($"--stage {s}: full, batch or ring"),
            };
            var payload = (int)o.Long("payload", 64);
            if (payload is < 1 or > 4096)
                throw new ArgumentException("--payload must be 1..4096");
            var rate = o.Long("rate", 0);
            scenarios = [new($"{payload} B, {(rate == 0 ? "saturated" : $"offered {rate / 1e6:0.##} M/s")}, {stage.ToString().ToLowerInvariant()}", payload, rate, stage)];
        }
        else
        {
            scenarios =
            [
                new("64 B, saturated, full pipeline", 64, 0, Stage.Full),
                new("64 B, offered 3 M/s, full pipeline", 64, 3_000_000, Stage.Full),
                new("4 KiB, saturated, full pipeline", 4096, 0, Stage.Full),
                new("64 B, saturated, ring only", 64, 0, Stage.Ring),
                new("64 B, saturated, ring + batcher", 64, 0, Stage.Batch),
            ];
        }

        Console.WriteLine($"reader benchmark: {cpus} CPUs, producer on CPU {settings.ProducerCpu}, reader threads on {(settings.ReaderCpu < 0 ? "any CPU" : $"CPU {settings.ReaderCpu}")}, " +
                          $"ring buffer {settings.RingMiB} MiB, {WarmupMs / 1000} s warm-up + {settings.Seconds} s window per scenario, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        var results = new List<(Scenario, Result)>();
        foreach (var s in scenarios)
        {
            Console.WriteLine();
            Console.WriteLine($"== {s.Name}");
            var r = RunOne(s, settings);
            r.Print();
            results.Add((s, r));
        }

        Console.WriteLine();
        Console.WriteLine("| scenario | offered/s | chunks/s | payload MB/s | ring MB/s | lost (window) | reader CPU ms / M chunks | ring thread ns/chunk | decoder ns/chunk | other load (CPUs) |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var (s, r) in results)
            Console.WriteLine($"| {s.Name} | {M(r.OfferedPerS)} | {M(r.OutPerS)} | {r.PayloadMBps:0.#} | {r.RingMBps:0.#} | {r.LostWindow:N0} ({r.LostWindowPct:0.##}%) | {r.ReaderCpuMsPerM:0.#} | {r.PollNsPerChunk:0.#} | {(s.Stage == Stage.Full ? r.DecodeNsPerChunk.ToString("0.#", CultureInfo.InvariantCulture) : "-")} | {r.OtherLoad:0.00} |");
        return 0;

        static string M(double v) => v >= 1e6 ? $"{v / 1e6:0.00} M" : $"{v / 1e3:0.#} k";
    }

    private readonly record struct Snap(
        long TimeNs, long Read, long Out, ulong Produced, ulong Lost,
        long PollCpuNs, long DecodeCpuNs, long ProducerCpuNs, long ProcessCpuNs,
        long AllocatedBytes, int Gen0, int Gen2, long MachineBusyNs, long PollWaitNs, long DecodeWaitNs);

    private static Result RunOne(Scenario s, Settings st)
    {
        MachineLoad.WaitForQuiet();
        using var obj = BpfObject.Open(BenchObjects.Read("producer.bpf.o"), "producer.bpf.o");
        obj.SetMaxEntries("events", (uint)st.RingMiB << 20);
        obj.Load();

        // The pipeline, wired as CaptureSession wires it.
        var counters = new CaptureCounters();
        var sink = new CountingSink();
        var assembler = new CallAssembler(sink, new ClockOffset(), counters);
        string[] libraryNames = ["/usr/lib/x86_64-linux-gnu/libssl.so.3"];
        var decoder = new EventDecoder(assembler, id => id < libraryNames.Length ? libraryNames[id] : $"library#{id}");
        var batcher = new RecordBatcher();
        var counting = new CountingConsumer();
        using var ring = RingBuffer.Open(obj, "events", s.Stage == Stage.Ring ? counting : batcher);

        var stopping = false;
        Exception? failure = null;
        int pollTid = 0, decodeTid = 0, producerPid = 0;
        using var started = new CountdownEvent(s.Stage == Stage.Ring ? 1 : 2);

        var poll = new Thread(() =>
        {
            Sys.PinCurrentThread(st.ReaderCpu);
            pollTid = Sys.GetTid();
            started.Signal();
            try
            {
                while (!Volatile.Read(ref stopping))
                {
                    ring.Poll(100);
                    if (s.Stage != Stage.Ring)
                        batcher.Publish();
                }
                ring.Consume();
            }
            catch (Exception e)
            {
                failure ??= e;
            }
            finally
            {
                if (s.Stage != Stage.Ring)
                    batcher.Complete();
            }
        }) { Name = "bench ring reader", IsBackground = true };

        var decode = new Thread(() =>
        {
            Sys.PinCurrentThread(st.ReaderCpu);
            decodeTid = Sys.GetTid();
            started.Signal();
            try
            {
                foreach (var batch in batcher.Batches())
                {
                    if (s.Stage == Stage.Full)
                        decoder.DecodeBatch(batch.Buffer, batch.Length);
                    batcher.Release(batch);
                    if (!batcher.HasQueued)
                        sink.Flush();
                }
                assembler.FlushAll();
                sink.Flush();
            }
            catch (Exception e)
            {
                failure ??= e;
                foreach (var batch in batcher.Batches())
                    batcher.Release(batch);
            }
        }) { Name = "bench decoder", IsBackground = true };

        poll.Start();
        if (s.Stage != Stage.Ring)
            decode.Start();
        started.Wait();
        var t0 = Stopwatch.GetTimestamp();
        using var producer = Producer.Start(BpfProgramRun.ProgramFd(obj, "produce"), s.Payload, s.Rate, st.ProducerCpu);
        producerPid = producer.Id;
        Snap a, b, produced;
        try
        {
            Thread.Sleep(WarmupMs);
            a = Take();
            Thread.Sleep(st.Seconds * 1000);
            b = Take();
        }
        finally
        {
            producer.StandardInput.Close();
            if (!producer.WaitForExit(10_000))
                producer.Kill();
            producer.WaitForExit();
        }
        if (producer.ExitCode != 0)
            throw new InvalidOperationException($"the producer process failed (exit code {producer.ExitCode})");
        produced = Take();
        Volatile.Write(ref stopping, true);
        poll.Join();
        if (s.Stage != Stage.Ring)
            decode.Join();
        var end = Take();
        if (failure is not null)
            throw new InvalidOperationException("pipeline failed: " + failure.Message, failure);

        return new Result(s, a, b, produced, end, counters, sink);

        Snap Take()
        {
            Span<ulong> c = stackalloc ulong[4];
            var key = 0;
            obj.Lookup("counters", MemoryMarshal.AsBytes(new Span<int>(ref key)), MemoryMarshal.AsBytes(c));
            long read = s.Stage == Stage.Ring ? Volatile.Read(ref counting.Records) : batcher.Records;
            long output = s.Stage switch
            {
                Stage.Ring => read,
                Stage.Batch => batcher.Records, // released as soon as handed over
                _ => Volatile.Read(ref counters.Records),
            };
            return new Snap(
                (long)Stopwatch.GetElapsedTime(t0).TotalNanoseconds, read, output, c[0], c[1],
                Sys.ThreadCpuNs(pollTid), Sys.ThreadCpuNs(decodeTid), Sys.ThreadCpuNs(producerPid, producerPid), Sys.ProcessCpuNs(),
                GC.GetTotalAllocatedBytes(precise: false), GC.CollectionCount(0), GC.CollectionCount(2),
                MachineLoad.BusyNs(), Sys.ThreadWaitNs(pollTid), Sys.ThreadWaitNs(decodeTid));
        }
    }

    private sealed class Result(Scenario s, Snap a, Snap b, Snap produced, Snap end, CaptureCounters counters, CountingSink sink)
    {
        private readonly double seconds = (b.TimeNs - a.TimeNs) / 1e9;
        private long OutWindow => b.Out - a.Out;

        public double OfferedPerS => (double)(b.Produced + b.Lost - a.Produced - a.Lost) / seconds;
        public double OutPerS => OutWindow / seconds;
        public double ReadPerS => (b.Read - a.Read) / seconds;
        public double PayloadMBps => OutPerS * s.Payload / 1e6;

        /// <summary>Ring-buffer bytes per record: 8-byte header + record, rounded up to 8.</summary>
        public double RingMBps => OutPerS * (8 + ((Marshal.SizeOf<ChunkHeader>() + s.Payload + 7) & ~7)) / 1e6;

        public ulong LostWindow => b.Lost - a.Lost;
        public double LostWindowPct => 100.0 * LostWindow / Math.Max(1, b.Produced + b.Lost - a.Produced - a.Lost);

        /// <summary>CPU of the whole reader process (ring thread, decoder thread, GC, runtime; the
        /// producer is another process): ns per chunk = ms per million chunks.</summary>
        public double ReaderCpuMsPerM => (double)(b.ProcessCpuNs - a.ProcessCpuNs) / Math.Max(1, OutWindow);

        public double PollNsPerChunk => (double)(b.PollCpuNs - a.PollCpuNs) / Math.Max(1, b.Read - a.Read);
        public double DecodeNsPerChunk => (double)(b.DecodeCpuNs - a.DecodeCpuNs) / Math.Max(1, OutWindow);

        /// <summary>CPUs' worth used by processes other than the reader and the producer during the
        /// window (the machine is shared): a figure taken with this well above 0 is disturbed.</summary>
        public double OtherLoad =>
            Math.Max(0, (b.MachineBusyNs - a.MachineBusyNs) - (b.ProcessCpuNs - a.ProcessCpuNs) - (b.ProducerCpuNs - a.ProducerCpuNs)) / 1e9 / seconds;

        public void Print()
        {
            static string Pct(long ns, double s) => $"{100.0 * ns / 1e9 / s:0}%";
            Console.WriteLine($"  offered   {OfferedPerS / 1e6:0.000} M chunks/s by the producer (its CPU: {Pct(b.ProducerCpuNs - a.ProducerCpuNs, seconds)})");
            Console.WriteLine($"  read      {ReadPerS / 1e6:0.000} M chunks/s out of the ring (ring thread CPU: {Pct(b.PollCpuNs - a.PollCpuNs, seconds)}, {PollNsPerChunk:0.#} ns/chunk)");
            if (s.Stage == Stage.Full)
                Console.WriteLine($"  decoded   {OutPerS / 1e6:0.000} M chunks/s (decoder thread CPU: {Pct(b.DecodeCpuNs - a.DecodeCpuNs, seconds)}, {DecodeNsPerChunk:0.#} ns/chunk); backlog at window end {b.Read - b.Out:N0} records");
            Console.WriteLine($"  payload   {PayloadMBps:0.0} MB/s, ring {RingMBps:0.0} MB/s");
            Console.WriteLine($"  lost      {LostWindow:N0} records in the window ({LostWindowPct:0.##}% of offered), {end.Lost:N0} in the whole run");
            Console.WriteLine($"  CPU       reader process {ReaderCpuMsPerM:0.#} ms per million chunks; allocated {(double)(b.AllocatedBytes - a.AllocatedBytes) / Math.Max(1, OutWindow):0.#} B/chunk, {b.Gen0 - a.Gen0} gen0 / {b.Gen2 - a.Gen2} gen2 GCs");
            Console.WriteLine($"  drain     {(end.TimeNs - produced.TimeNs) / 1e6:0} ms after the producer stopped");
            Console.WriteLine($"  other     {OtherLoad:0.00} CPUs used by other processes in the window; reader threads waited for a CPU {Pct(b.PollWaitNs - a.PollWaitNs + b.DecodeWaitNs - a.DecodeWaitNs, seconds)} of the time");
            var check = s.Stage == Stage.Full
                ? $"{counters.Records:N0} records decoded of {end.Produced:N0} accepted by the ring; {sink.Chunks:N0} chunks to the sink, {counters.Gaps:N0} gaps ({counters.GapBytes / Math.Max(1, s.Payload):N0} records' worth) reported"
                : $"{end.Out:N0} records consumed of {end.Produced:N0} accepted by the ring";
            var ok = (ulong)end.Out == end.Produced;
            Console.WriteLine($"  check     {check}{(ok ? "" : "  MISMATCH")}");
        }
    }
}

/// <summary>The Ring stage's consumer: counts, copies nothing.</summary>
internal sealed class CountingConsumer : IRingBufferConsumer
{
    public long Records;

    public void OnRecord(ReadOnlySpan<byte> record) => Records++;
}

/// <summary>A null ICaptureSink that only counts what reaches it.</summary>
internal sealed class CountingSink : ICaptureSink
{
    public long Chunks;
    public long Bytes;
    public long Gaps;
    public long Closes;

    public void OnData(DataChunk chunk)
    {
        Chunks++;
        Bytes += chunk.Length;
    }

    public void OnGap(StreamGap gap) => Gaps++;

    public void OnClose(ConnectionClosed closed) => Closes++;

    public void Flush()
    {
    }

    public void Dispose()
    {
    }
}
