using TlsScope.Bpf;
using TlsScope.Engine;
using TlsScope.Engine.Model;
using TlsScope.Engine.Reading;
using TlsScope.Sources.Tls.Decoding;
using TlsScope.Sources.Tls.Discovery;
using TlsScope.Sources.Tls.Probes;
using TlsScope.Engine.Kernel;
using TlsScope.Sources.Tls.Keys.Layout;
using TlsScope.Engine.Processes;

namespace TlsScope.Sources.Tls;

/// <summary>
/// One capture: loads the kernel side (<see cref="Load"/>: everything that can refuse, before a
/// caller touches any output file), then attaches every probe, reads the ring buffer on one
/// thread and decodes into the sinks on another (<see cref="Start"/>), and keeps attaching
/// libraries that new processes map. Dispose detaches everything (links, then ring buffer, then
/// object).
/// </summary>
public sealed class CaptureSession : IDisposable
{
    private static readonly IReadOnlyList<LibraryFamily> Families = [ProbeTable.OpenSsl];
    private static readonly TimeSpan RescanInterval = TimeSpan.FromMilliseconds(500);
    private const int PollMilliseconds = 20;

    private readonly CaptureOptions options;
    private readonly Action<string> log;
    private readonly BpfObject obj;
    private readonly ProbeAttacher attacher;
    private readonly LibraryDiscovery discovery;
    private readonly RecordBatcher batcher = new();
    private readonly CaptureCounters counters = new();
    private CallAssembler? assembler;
    private EventDecoder? decoder;
    private ICaptureSink? sink;
    private readonly RingBuffer ring;
    private readonly Thread reader;
    private readonly Thread pipeline;
    private readonly CancellationTokenSource failed = new();
    private readonly object attachGate = new();
    private bool closed;
    private CancellationTokenSource? runStop;
    private Thread? discoveryThread;
    private readonly CancellationTokenSource targetGone = new();
    private volatile bool stopping;
    private volatile Exception? pipelineError;
    private string[] libraryNames = [];
    private CaptureSummary? summary;

    private KeyCapture? keys;

    private readonly IReadOnlyList<(string Path, ExaminedLibrary Examined)> explicitLibraries;

    private CaptureSession(CheckedOptions checkedOptions, Action<string> log)
    {
        options = checkedOptions.Options;
        explicitLibraries = checkedOptions.Libraries;
        this.log = log;
        obj = TlsObject.Load(options);
        try
        {
            attacher = new ProbeAttacher(obj, options.Pid, options.Keys);
            discovery = new LibraryDiscovery(options.Pid, Families);
            ring = RingBuffer.Open(obj, "events", batcher);
        }
        catch
        {
            obj.Dispose();
            throw;
        }
        reader = new Thread(ReadLoop) { Name = "tlsscope ring reader", IsBackground = true };
        pipeline = new Thread(DecodeLoop) { Name = "tlsscope decoder", IsBackground = true };
    }

    public IReadOnlyList<TlsLibrary> Libraries => discovery.Libraries;

    public int ProbeCount => attacher.LinkCount;

    /// <summary>The refusals that need no kernel object (a bad --comm, a --libssl that is not a
    /// TLS library, no BPF, no BTF, not root, no such --pid), so a caller can make them before
    /// creating any output file. What it read of the --libssl files is kept for <see cref="Load"/>.</summary>
    public static CheckedOptions Check(CaptureOptions options)
    {
        EmbeddedObjects.Config(options);
        var libraries = options.Libraries.Select(path => (path, LibraryDiscovery.Examine(path, Families))).ToList();
        if (KernelSupport.Problems() is { Count: > 0 } problems)
            throw new CaptureException(problems[0]);
        if (options.Pid is { } pid && !Directory.Exists($"/proc/{pid}"))
            throw new CaptureException($"--pid {pid}: no such process");
        return new CheckedOptions(options, libraries);
    }

    /// <summary>Loads the kernel side of checked options; nothing is attached yet.</summary>
    public static CaptureSession Load(CheckedOptions options, Action<string> log)
    {
        LibBpfLog.Install(options.Options.Verbose, log);
        try
        {
            Tracefs.EnsureMounted();
        }
        catch (BpfException e)
        {
            throw new CaptureException(e.Message);
        }
        return new CaptureSession(options, log);
    }

    /// <summary>Checks, loads, attaches and starts into <paramref name="sink"/> at once (tests, benchmarks).</summary>
    public static CaptureSession Start(CaptureOptions options, ICaptureSink sink, Action<string> log, KeyCapture? keys = null)
    {
        var session = Load(Check(options with { Keys = keys is not null }), log);
        try
        {
            session.Attach();
            session.Start(sink, keys);
            return session;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>Attaches the tracepoints and every probe of the libraries known now: from here
    /// on, events wait in the ring buffer for <see cref="Start"/>. A --libssl that cannot be
    /// attached is refused here, before the caller's outputs are touched.</summary>
    public void Attach()
    {
        attacher.AttachTracepoints();
        foreach (var (path, examined) in explicitLibraries)
            AttachProbes(discovery.AddExplicit(path, examined));
        foreach (var lib in discovery.ScanAll())
            AttachProbes(lib);
    }

    /// <summary>Starts reading and decoding into the sinks, then gives the libraries attached
    /// so far their key layouts. When this returns, capture is live.</summary>
    /// <param name="keys">Required when the options ask for keys, null otherwise.</param>
    public void Start(ICaptureSink sink, KeyCapture? keys)
    {
        if (options.Keys != keys is not null)
            throw new ArgumentException("keys must be given exactly when the options ask for them", nameof(keys));
        if (this.sink is not null)
            throw new InvalidOperationException("the session is started already");
        this.sink = sink;
        this.keys = keys;
        assembler = new CallAssembler(sink, new ClockOffset(), counters);
        decoder = new EventDecoder(assembler, LibraryName, keys?.Sink, new TaskDecoder(new CgroupNames()));
        reader.Start();
        pipeline.Start();
        foreach (var lib in discovery.Libraries.ToList())
            SetKeyLayout(lib);
    }

    /// <summary>Attaches from the start-up thread or the discovery thread. The gate keeps an
    /// attach and the teardown apart: libbpf must not attach with an object being freed.</summary>
    private void AttachProbes(TlsLibrary lib)
    {
        lock (attachGate)
        {
            if (closed)
                return;
            libraryNames = discovery.Libraries.Select(l => l.Name).ToArray();
            var n = attacher.Attach(lib);
            if (options.Verbose)
                log($"tlsscope: attached {n} probes to {lib.Path} ({lib.Family.Name})");
        }
    }

    /// <summary>A library found while capturing: probes, then its key layout outside the gate
    /// (it may take a calibration, seconds, and neither the plaintext nor a stop may wait).</summary>
    private void Attach(TlsLibrary lib)
    {
        AttachProbes(lib);
        SetKeyLayout(lib);
    }

    /// <summary>Tells the kernel where this library keeps its secrets, before its first call
    /// is seen. A library without a layout still gives plaintext; the reason is reported.</summary>
    private unsafe void SetKeyLayout(TlsLibrary lib)
    {
        if (keys is null || lib.Id >= KernelKeyLayout.MaxLibraries)
            return;
        string? problem;
        KernelKeyLayout layout;
        try
        {
            (layout, problem) = keys.Layout(lib);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            (layout, problem) = (default, e.Message);
        }
        if (problem is not null)
        {
            log($"tlsscope: warning: no TLS keys from {lib.Path}: {problem}");
            return;
        }
        var id = (uint)lib.Id;
        lock (attachGate)
        {
            if (!closed)
                obj.Update("key_layouts", new ReadOnlySpan<byte>(&id, 4), new ReadOnlySpan<byte>(&layout, sizeof(KernelKeyLayout)));
        }
    }

    /// <summary>Detaches every probe; no attach can happen after it.</summary>
    private void CloseAttachments()
    {
        lock (attachGate)
        {
            closed = true;
            attacher.Dispose();
        }
    }

    private string LibraryName(uint id)
    {
        var names = libraryNames;
        return id < names.Length ? names[id] : $"library#{id}";
    }

    /// <summary>Runs until cancelled (or the pipeline fails). Discovery runs on its own thread
    /// so that nothing it waits on (a /proc read, a large ELF file) can delay a stop.</summary>
    public void Run(CancellationToken cancel)
    {
        runStop = CancellationTokenSource.CreateLinkedTokenSource(cancel, failed.Token, targetGone.Token);
        var token = runStop.Token;
        discoveryThread = new Thread(() => DiscoverLoop(token)) { Name = "tlsscope discovery", IsBackground = true };
        discoveryThread.Start();
        token.WaitHandle.WaitOne();
        if (pipelineError is { } err)
            throw new CaptureException("capture failed: " + err.Message);
    }

    /// <summary>True when the capture ended because the --pid process exited.</summary>
    public bool TargetExited => targetGone.IsCancellationRequested;

    private void DiscoverLoop(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            Thread.Sleep(RescanInterval);
            if (stop.IsCancellationRequested)
                return;
            try
            {
                if (options.Pid is { } pid && !Directory.Exists($"/proc/{pid}"))
                {
                    targetGone.Cancel(); // like strace -p: the capture ends with its process
                    return;
                }
                AttachNew(stop);
            }
            catch (Exception e)
            {
                // /proc changes under our feet (processes exit mid-scan): a failed scan is retried
                // on the next round and must never end the capture.
                if (options.Verbose)
                    log($"tlsscope: discovery: {e.GetType().Name}: {e.Message}");
            }
        }
    }

    private void AttachNew(CancellationToken stop)
    {
        foreach (var lib in discovery.ScanNew())
        {
            if (stop.IsCancellationRequested)
                return;
            try
            {
                Attach(lib);
            }
            catch (CaptureException e)
            {
                log("tlsscope: warning: " + e.Message);
            }
        }
    }

    /// <summary>Detaches, drains what the kernel already produced, and returns the account.</summary>
    public CaptureSummary Stop()
    {
        if (summary is not null)
            return summary;
        runStop?.Cancel();
        discoveryThread?.Join(TimeSpan.FromSeconds(2)); // a /proc read may hang; the gate covers that
        CloseAttachments(); // no new events from here on
        stopping = true;
        if (sink is not null) // started
        {
            reader.Join();
            pipeline.Join();
        }
        summary = new CaptureSummary(counters, TlsObject.ReadStats(obj), discovery.Libraries.Count);
        return summary;
    }

    private void ReadLoop()
    {
        try
        {
            while (!stopping)
            {
                // The kernel wakes us only for bursts (see ring_flags in bpf/tls/maps.h); between
                // them a short poll bounds how late a chunk is shown.
                ring.Poll(PollMilliseconds);
                ring.Consume();
                batcher.Publish();
            }
            ring.Consume(); // what was produced before the links went away
        }
        catch (Exception e)
        {
            Fail(e);
        }
        finally
        {
            batcher.Complete();
        }
    }

    private void DecodeLoop()
    {
        try
        {
            foreach (var batch in batcher.Batches())
            {
                decoder!.DecodeBatch(batch.Buffer, batch.Length);
                batcher.Release(batch);
                if (!batcher.HasQueued)
                    sink!.Flush();
            }
            assembler!.FlushAll();
            sink!.Flush();
        }
        catch (Exception e)
        {
            Fail(e);
            foreach (var batch in batcher.Batches())
                batcher.Release(batch); // keep the reader from waiting on a dead consumer
        }
    }

    private void Fail(Exception e)
    {
        pipelineError ??= e;
        failed.Cancel();
    }

    private bool disposed;

    public void Dispose()
    {
        if (disposed)
            return;
        disposed = true;
        if (summary is null && (reader.IsAlive || sink is null))
        {
            try
            {
                Stop();
            }
            catch
            {
                // disposing must not throw; Stop's errors were reported by the caller's Stop
            }
        }
        CloseAttachments();
        ring.Dispose();
        obj.Dispose();
        if (discoveryThread is not { IsAlive: true })
        {
            // a discovery thread still stuck in a /proc read keeps its tokens; the GC takes them
            runStop?.Dispose();
            failed.Dispose();
            targetGone.Dispose();
        }
    }
}
