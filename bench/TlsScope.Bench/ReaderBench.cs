using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using TlsScope.Bpf;
using TlsScope.Engine.Model;
using TlsScope.Sources.Tls.Decoding;
using TlsScope.Engine.Reading;
using TlsScope.Sources.Tls.Events;

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

/// <summary>How the producer asks the kernel to wake the reader, and how the reader loop waits.</summary>
internal enum WakeupPolicy
{
    /// <summary>TlsScope before commit d942269: flags 0, the kernel wakes the reader whenever it had
    /// caught up; the reader loop is ring.Poll(100) and Publish.</summary>
    Adaptive = 0,
    /// <summary>TlsScope since d942269 (ring_flags in bpf/tls/maps.h): no wakeup while less than 1/8
    /// of the ring is unread, a forced wakeup for every record past that; the reader loop is
    /// ring.Poll(20), ring.Consume() and Publish.</summary>
    Threshold = 1,
    /// <summary>What-if: as Threshold, but only the record that crosses 1/8 forces a wakeup.</summary>
    Crossing = 2,
}

/// <summary>One measurement.</summary>
internal sealed record Scenario(string Name, int Payload, long Rate, Stage Stage, WakeupPolicy Policy = WakeupPolicy.Threshold);

/// <summary>
/// Reader throughput. A BPF program (bench/noop/producer.bpf.c), run with BPF_PROG_TEST_RUN by a
/// producer process on one CPU, emits struct tscope_chunk records faster than any uprobe could;
/// the reader threads, pinned to the other CPU, run TlsScope's own pieces as CaptureSession
/// wires them: a ring-reader thread (RingBuffer.Poll + Consume, RecordBatcher.Publish) and a
/// decoder thread (EventDecoder.DecodeBatch -> CallAssembler -> sink). Figures are taken over a
/// window that starts after a warm-up (JIT tiering); the pipeline is drained at the end and
/// checked. Each standard scenario runs in a fresh process, so memory figures are its own.
/// </summary>
internal static class ReaderBench
{
    private const int WarmupMs = 2000;
    private const int PollMilliseconds = 20; // CaptureSession.PollMilliseconds
    private const string RowTag = "ROW\t";

    private static readonly Scenario[] Standard =
    [
        new("64 B, saturated, full pipeline", 64, 0, Stage.Full),
        new("64 B, offered 3 M/s, full pipeline", 64, 3_000_000, Stage.Full),
        new("4 KiB, saturated, full pipeline", 4096, 0, Stage.Full),
        new("1 KiB, offered 40 k/s one by one, full pipeline", 1024, 40_000, Stage.Full),
        new("64 B, saturated, ring only", 64, 0, Stage.Ring),
        new("64 B, saturated, ring + batcher", 64, 0, Stage.Batch),
        // The wakeup policy TlsScope had before commit d942269, for comparison.
        new("before d942269: 64 B, saturated, full pipeline", 64, 0, Stage.Full, WakeupPolicy.Adaptive),
        new("before d942269: 64 B, offered 3 M/s, full pipeline", 64, 3_000_000, Stage.Full, WakeupPolicy.Adaptive),
        new("before d942269: 1 KiB, offered 40 k/s one by one, full pipeline", 1024, 40_000, Stage.Full, WakeupPolicy.Adaptive),
        // What-if: a forced wakeup only when crossing the threshold (not for every record past it).
        new("what-if crossing-only wakeup: 64 B, saturated, full pipeline", 64, 0, Stage.Full, WakeupPolicy.Crossing),
    ];

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
        {
            throw new ArgumentException("--seconds must be at least 1");
        }

        if (o.Has("scenario")) // one standard scenario, in a process of its own (see RunAll)
        {
            var i = (int)o.Long("scenario", 0);
            if (i < 0 || i >= Standard.Length)
            {
                throw new ArgumentException($"--scenario must be 0..{Standard.Length - 1}");
            }

            return RunHere([Standard[i]], settings, header: false);
        }
        if (o.Has("payload") || o.Has("rate") || o.Has("stage") || o.Has("policy"))
        {
            var stage = (o.String("stage") ?? "full") switch
            {
                "full" => Stage.Full,
                "batch" => Stage.Batch,
                "ring" => Stage.Ring,
                var s => throw new ArgumentException($"--stage {s}: full, batch or ring"),
            };
            var policy = (o.String("policy") ?? "threshold") switch
            {
                "threshold" => WakeupPolicy.Threshold,
                "adaptive" => WakeupPolicy.Adaptive,
                "crossing" => WakeupPolicy.Crossing,
                var p => throw new ArgumentException($"--policy {p}: threshold, adaptive or crossing"),
            };
            var payload = (int)o.Long("payload", 64);
            if (payload is < 1 or > 4096)
            {
                throw new ArgumentException("--payload must be 1..4096");
            }

            var rate = o.Long("rate", 0);
            var name = $"{payload} B, {(rate == 0 ? "saturated" : $"offered {rate / 1e6:0.###} M/s")}, {stage.ToString().ToLowerInvariant()}, {policy.ToString().ToLowerInvariant()} wakeup";
            return RunHere([new(name, payload, rate, stage, policy)], settings, header: true);
        }
        return RunAll(settings);
    }

    private static void PrintHeader(Settings st) =>
        Console.WriteLine($"reader benchmark: {Environment.ProcessorCount} CPUs, producer on CPU {st.ProducerCpu}, reader threads on " +
                          $"{(st.ReaderCpu < 0 ? "any CPU" : $"CPU {st.ReaderCpu}")}, ring buffer {st.RingMiB} MiB, {WarmupMs / 1000} s warm-up + " +
                          $"{st.Seconds} s window per scenario, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");

    private const string TableHeader =
        "| scenario | offered/s | chunks/s | payload MB/s | ring MB/s | lost (window) | reader CPU ms / M chunks | ring thread ns/chunk | decoder ns/chunk | peak RSS MiB | other load (CPUs) |\n" +
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|";

    /// <summary>The standard scenarios, each in a child process (a fresh heap and RSS account).</summary>
    private static int RunAll(Settings st)
    {
        PrintHeader(st);
        var rows = new List<string>();
        for (var i = 0; i < Standard.Length; i++)
        {
            var host = Environment.ProcessPath ?? throw new InvalidOperationException("cannot tell this process's executable");
            var psi = new ProcessStartInfo(host) { RedirectStandardOutput = true, UseShellExecute = false };
            if (Path.GetFileNameWithoutExtension(host) == "dotnet")
            {
                psi.ArgumentList.Add(typeof(ReaderBench).Assembly.Location);
            }

            foreach (var a in (string[])["reader", "--scenario", $"{i}", "--seconds", $"{st.Seconds}", "--ring-mib", $"{st.RingMiB}",
                         "--producer-cpu", $"{st.ProducerCpu}", "--reader-cpu", $"{st.ReaderCpu}"])
            {
                psi.ArgumentList.Add(a);
            }

            using var child = Process.Start(psi) ?? throw new InvalidOperationException("cannot start a scenario process");
            while (child.StandardOutput.ReadLine() is { } line)
            {
                if (line.StartsWith(RowTag, StringComparison.Ordinal))
                {
                    rows.Add(line[RowTag.Length..]);
                }
                else
                {
                    Console.WriteLine(line);
                }
            }
            child.WaitForExit();
            if (child.ExitCode != 0)
            {
                rows.Add($"| {Standard[i].Name} | failed (exit code {child.ExitCode}) |");
            }
        }
        Console.WriteLine();
        Console.WriteLine(TableHeader);
        foreach (var r in rows)
        {
            Console.WriteLine(r);
        }

        return 0;
    }

    private static int RunHere(IEnumerable<Scenario> scenarios, Settings st, bool header)
    {
        Sys.PinCurrentThread(st.ReaderCpu); // every thread of the reader process starts from here
        if (header)
        {
            PrintHeader(st);
        }

        var rows = new List<string>();
        foreach (var s in scenarios)
        {
            Console.WriteLine();
            Console.WriteLine($"== {s.Name}");
            var r = RunOne(s, st);
            r.Print();
            rows.Add(r.Row());
        }
        if (header)
        {
            Console.WriteLine();
            Console.WriteLine(TableHeader);
            foreach (var row in rows)
            {
                Console.WriteLine(row);
            }
        }
        else
        {
            foreach (var row in rows)
            {
                Console.WriteLine(RowTag + row);
            }
        }
        return 0;
    }

    private readonly record struct Snap(
        long TimeNs, long Read, long Out, ulong Produced, ulong Lost,
        long PollCpuNs, long DecodeCpuNs, long ProducerCpuNs, long ProcessCpuNs,
        long AllocatedBytes, int Gen0, int Gen2, long MachineBusyNs, long PollWaitNs, long DecodeWaitNs,
        long Polls, long Batches);

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
        long polls = 0, batches = 0;
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
                    if (s.Policy == WakeupPolicy.Adaptive)
                    {
                        ring.Poll(100);
                    }
                    else
                    {
                        ring.Poll(PollMilliseconds); // woken early only past the threshold
                        ring.Consume();
                    }
                    if (s.Stage != Stage.Ring)
                    {
                        batcher.Publish();
                    }

                    Volatile.Write(ref polls, polls + 1);
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
                {
                    batcher.Complete();
                }
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
                    {
                        decoder.DecodeBatch(batch.Buffer, batch.Length);
                    }

                    batcher.Release(batch);
                    if (!batcher.HasQueued)
                    {
                        sink.Flush();
                    }

                    Volatile.Write(ref batches, batches + 1);
                }
                assembler.FlushAll();
                sink.Flush();
            }
            catch (Exception e)
            {
                failure ??= e;
                foreach (var batch in batcher.Batches())
                {
                    batcher.Release(batch);
                }
            }
        }) { Name = "bench decoder", IsBackground = true };

        poll.Start();
        if (s.Stage != Stage.Ring)
        {
            decode.Start();
        }

        started.Wait();
        var t0 = Stopwatch.GetTimestamp();
        var wakeupBytes = ((long)st.RingMiB << 20) / 8; // CaptureSession: RingSize / 8
        using var producer = Producer.Start(BpfProgramRun.ProgramFd(obj, "produce"), s.Payload, s.Rate, wakeupBytes, s.Policy, st.ProducerCpu);
        producerPid = producer.Id;
        Snap a, b, produced;
        long maxBacklog = 0;
        try
        {
            Thread.Sleep(WarmupMs);
            a = Take();
            var window = Stopwatch.StartNew();
            while (window.ElapsedMilliseconds < st.Seconds * 1000L)
            {
                Thread.Sleep(50);
                maxBacklog = Math.Max(maxBacklog, (s.Stage == Stage.Ring ? 0 : batcher.Records) - Volatile.Read(ref counters.Records));
            }
            b = Take();
        }
        finally
        {
            producer.StandardInput.Close();
            if (!producer.WaitForExit(10_000))
            {
                producer.Kill();
            }

            producer.WaitForExit();
        }
        if (producer.ExitCode != 0)
        {
            throw new InvalidOperationException($"the producer process failed (exit code {producer.ExitCode})");
        }

        produced = Take();
        Volatile.Write(ref stopping, true);
        poll.Join();
        if (s.Stage != Stage.Ring)
        {
            decode.Join();
        }

        var end = Take();
        if (failure is not null)
        {
            throw new InvalidOperationException("pipeline failed: " + failure.Message, failure);
        }

        return new Result(s, a, b, produced, end, counters, sink, s.Stage == Stage.Full ? maxBacklog : 0);

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
                MachineLoad.BusyNs(), Sys.ThreadWaitNs(pollTid), Sys.ThreadWaitNs(decodeTid),
                Volatile.Read(ref polls), Volatile.Read(ref batches));
        }
    }

    private sealed class Result(Scenario s, Snap a, Snap b, Snap produced, Snap end, CaptureCounters counters, CountingSink sink, long maxBacklog)
    {
        private readonly double _peakRssMiB = Sys.PeakRssMiB();

        private readonly double _seconds = (b.TimeNs - a.TimeNs) / 1e9;
        private long OutWindow => b.Out - a.Out;

        public double OfferedPerS => (double)(b.Produced + b.Lost - a.Produced - a.Lost) / _seconds;
        public double OutPerS => OutWindow / _seconds;
        public double ReadPerS => (b.Read - a.Read) / _seconds;
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
            Math.Max(0, (b.MachineBusyNs - a.MachineBusyNs) - (b.ProcessCpuNs - a.ProcessCpuNs) - (b.ProducerCpuNs - a.ProducerCpuNs)) / 1e9 / _seconds;

        public string Row() =>
            $"| {s.Name} | {M(OfferedPerS)} | {M(OutPerS)} | {PayloadMBps:0.#} | {RingMBps:0.#} | {LostWindow:N0} ({LostWindowPct:0.##}%) | {ReaderCpuMsPerM:0.#} | {PollNsPerChunk:0.#} | " +
            $"{(s.Stage == Stage.Full ? DecodeNsPerChunk.ToString("0.#", CultureInfo.InvariantCulture) : "-")} | {_peakRssMiB:0} | {OtherLoad:0.00} |";

        private static string M(double v) => v >= 1e6 ? $"{v / 1e6:0.00} M" : $"{v / 1e3:0.#} k";

        public void Print()
        {
            static string Pct(long ns, double s) => $"{100.0 * ns / 1e9 / s:0}%";
            Console.WriteLine($"  offered   {OfferedPerS / 1e6:0.000} M chunks/s by the producer (its CPU: {Pct(b.ProducerCpuNs - a.ProducerCpuNs, _seconds)})");
            Console.WriteLine($"  read      {ReadPerS / 1e6:0.000} M chunks/s out of the ring (ring thread CPU: {Pct(b.PollCpuNs - a.PollCpuNs, _seconds)}, {PollNsPerChunk:0.#} ns/chunk)");
            if (s.Stage == Stage.Full)
            {
                Console.WriteLine($"  decoded   {OutPerS / 1e6:0.000} M chunks/s (decoder thread CPU: {Pct(b.DecodeCpuNs - a.DecodeCpuNs, _seconds)}, {DecodeNsPerChunk:0.#} ns/chunk); backlog at window end {b.Read - b.Out:N0} records");
            }

            Console.WriteLine($"  payload   {PayloadMBps:0.0} MB/s, ring {RingMBps:0.0} MB/s");
            Console.WriteLine($"  lost      {LostWindow:N0} records in the window ({LostWindowPct:0.##}% of offered), {end.Lost:N0} in the whole run");
            Console.WriteLine($"  CPU       reader process {ReaderCpuMsPerM:0.#} ms per million chunks; allocated {(double)(b.AllocatedBytes - a.AllocatedBytes) / Math.Max(1, OutWindow):0.#} B/chunk, {b.Gen0 - a.Gen0} gen0 / {b.Gen2 - a.Gen2} gen2 GCs");
            var perPoll = (double)(b.Read - a.Read) / Math.Max(1, b.Polls - a.Polls);
            var perBatch = (double)(b.Out - a.Out) / Math.Max(1, b.Batches - a.Batches);
            Console.WriteLine($"  batching  {perPoll:0.#} records per poll loop{(s.Stage == Stage.Ring ? "" : $", {perBatch:0.#} per batch handed to the decoder")} ({(b.Polls - a.Polls) / _seconds:0} loops/s)");
            Console.WriteLine($"  memory    peak RSS of the reader process {_peakRssMiB:0} MiB{(s.Stage == Stage.Full ? $"; decoder backlog up to {maxBacklog:N0} records ({maxBacklog * (4 + Marshal.SizeOf<ChunkHeader>() + s.Payload) / 1048576.0:0} MiB of record data)" : "")}");
            Console.WriteLine($"  drain     {(end.TimeNs - produced.TimeNs) / 1e6:0} ms after the producer stopped");
            Console.WriteLine($"  other     {OtherLoad:0.00} CPUs used by other processes in the window; reader threads waited for a CPU {Pct(b.PollWaitNs - a.PollWaitNs + b.DecodeWaitNs - a.DecodeWaitNs, _seconds)} of the time");
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
