using TlsScope.Bpf;
using TlsScope.Engine;
using TlsScope.Engine.Kernel;
using TlsScope.Engine.Model;
using TlsScope.Engine.Reading;
using TlsScope.Engine.Sources;
using TlsScope.Sources.Tls.Decoding;
using TlsScope.Sources.Tls.Discovery;
using TlsScope.Sources.Tls.Keys.Decoding;
using TlsScope.Sources.Tls.Keys.Layout;
using TlsScope.Sources.Tls.Probes;

namespace TlsScope.Sources.Tls;

/// <summary>
/// The TLS source: the families' probes on every TLS library the target maps (bpf/tls), the ring
/// buffer read on one thread and decoded on another into chunks, gaps and closes, key sets when
/// an output takes them, and libraries attached as processes exec or map them. Dispose detaches
/// everything (links, then ring buffer, then object).
/// </summary>
public sealed class TlsSource(TlsSourceOptions options) : ICaptureSource
{
    /// <summary>The TLS library families, each a set of probes as data.</summary>
    public static readonly IReadOnlyList<LibraryFamily> Families = [ProbeTable.OpenSsl];

    private static readonly TimeSpan RescanInterval = TimeSpan.FromMilliseconds(500);
    private const int PollMilliseconds = 20;

    private readonly RecordBatcher batcher = new();
    private readonly CaptureCounters counters = new();
    private readonly object attachGate = new();
    private readonly CancellationTokenSource stopDiscovery = new();
    private SourceContext? context;
    private BpfObject? obj;
    private ProbeAttacher? attacher;
    private LibraryDiscovery? discovery;
    private RingBuffer? ring;
    private Thread? reader;
    private Thread? pipeline;
    private Thread? discoveryThread;
    private CallAssembler? assembler;
    private EventDecoder? decoder;
    private ICaptureSink? sink;
    private KeyExtractor? keys;
    private bool closed;
    private volatile bool stopping;
    private volatile Exception? pipelineError;
    private string[] libraryNames = [];
    private CaptureSummary? summary;
    private bool disposed;

    public string Name => "tls";

    public bool WantsExecEvents => true;

    public IReadOnlyList<TlsLibrary> Libraries => discovery?.Libraries ?? [];

    public int ProbeCount => attacher?.LinkCount ?? 0;

    public string ReadyText => $"{ProbeCount} probes on {Libraries.Count} libraries";

    public bool LostAny => summary?.AnyLoss ?? false;

    public void Attach(SourceContext context)
    {
        this.context = context;
        var config = new KernelConfig
        {
            MaxPayload = options.MaxPayload,
            WakeupBytes = EmbeddedObjects.RingSize(context.RingBufferMiB) / 8,
            Keys = options.Keys ? 1u : 0u,
        };
        context.Target.WriteTo(ref config);
        obj = EmbeddedObjects.Load(typeof(TlsSource).Assembly, "tls.bpf.o", config, scratchMap: "scratch", ringMap: "events",
            context.RingBufferMiB, context.Processes.ShareTargetMaps);
        attacher = new ProbeAttacher(obj, context.Target.SinglePid, options.Keys);
        discovery = new LibraryDiscovery(context.Target, context.Processes.Contains, Families);
        ring = RingBuffer.Open(obj, "events", batcher);
        try
        {
            attacher.AttachTracepoints();
        }
        catch (BpfException e)
        {
            throw new CaptureException(e.Message);
        }
        foreach (var (path, examined) in options.Libraries)
            AttachProbes(discovery.AddExplicit(path, examined));
        foreach (var lib in discovery.ScanAll())
            AttachProbes(lib);
    }

    public void Start(EventOutlets outlets)
    {
        if (context is null || obj is null)
            throw new InvalidOperationException("the TLS source is not attached");
        sink = outlets.Chunks;
        keys = options.Keys ? new KeyExtractor(outlets.Keys) : null;
        assembler = new CallAssembler(outlets.Chunks, new ClockOffset(), counters);
        decoder = new EventDecoder(assembler, LibraryName, keys, new TaskDecoder(context.Cgroups));
        reader = new Thread(ReadLoop) { Name = "tlsscope ring reader", IsBackground = true };
        pipeline = new Thread(DecodeLoop) { Name = "tlsscope decoder", IsBackground = true };
        reader.Start();
        pipeline.Start();
        foreach (var lib in Libraries.ToList())
            SetKeyLayout(lib);
        // Discovery runs on its own thread so that nothing it waits on (a /proc read, a large
        // ELF file) can delay a stop.
        discoveryThread = new Thread(DiscoverLoop) { Name = "tlsscope discovery", IsBackground = true };
        discoveryThread.Start();
    }

    /// <summary>A traced process runs a new program: its TLS libraries are attached now, not at
    /// the next scan.</summary>
    public void OnExec(ExecEvent exec)
    {
        if (discovery is null)
            return;
        try
        {
            foreach (var lib in discovery.ScanExec(exec))
                Attach(lib);
        }
        catch (Exception e) when (e is CaptureException or IOException or UnauthorizedAccessException)
        {
            if (context!.Verbose)
                context.Log($"tlsscope: exec of {exec.Filename}: {e.Message}");
        }
    }

    /// <summary>Attaches from the start-up thread or the discovery thread. The gate keeps an
    /// attach and the teardown apart: libbpf must not attach with an object being freed.</summary>
    private void AttachProbes(TlsLibrary lib)
    {
        lock (attachGate)
        {
            if (closed)
                return;
            libraryNames = discovery!.Libraries.Select(l => l.Name).ToArray();
            var n = attacher!.Attach(lib);
            if (context!.Verbose)
                context.Log($"tlsscope: attached {n} probes to {lib.Path} ({lib.Family.Name})");
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
            (layout, problem) = KeyLayouts.For(lib, keys);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            (layout, problem) = (default, e.Message);
        }
        if (problem is not null)
        {
            context!.Log($"tlsscope: warning: no TLS keys from {lib.Path}: {problem}");
            return;
        }
        var id = (uint)lib.Id;
        lock (attachGate)
        {
            if (!closed)
                obj!.Update("key_layouts", new ReadOnlySpan<byte>(&id, 4), new ReadOnlySpan<byte>(&layout, sizeof(KernelKeyLayout)));
        }
    }

    /// <summary>Detaches every probe; no attach can happen after it.</summary>
    private void CloseAttachments()
    {
        lock (attachGate)
        {
            closed = true;
            attacher?.Dispose();
        }
    }

    private string LibraryName(uint id)
    {
        var names = libraryNames;
        return id < names.Length ? names[id] : $"library#{id}";
    }

    private void DiscoverLoop()
    {
        var stop = stopDiscovery.Token;
        while (!stop.IsCancellationRequested)
        {
            if (stop.WaitHandle.WaitOne(RescanInterval))
                return;
            try
            {
                foreach (var lib in discovery!.ScanNew())
                {
                    if (stop.IsCancellationRequested)
                        return;
                    try
                    {
                        Attach(lib);
                    }
                    catch (CaptureException e)
                    {
                        context!.Log("tlsscope: warning: " + e.Message);
                    }
                }
            }
            catch (Exception e)
            {
                // /proc changes under our feet (processes exit mid-scan): a failed scan is retried
                // on the next round and must never end the capture.
                if (context!.Verbose)
                    context.Log($"tlsscope: discovery: {e.GetType().Name}: {e.Message}");
            }
        }
    }

    /// <summary>Detaches, drains what the kernel already produced, and makes the account.</summary>
    /// <exception cref="CaptureException">Reading or decoding failed during the capture.</exception>
    public void Stop()
    {
        if (summary is not null)
            return;
        stopDiscovery.Cancel();
        discoveryThread?.Join(TimeSpan.FromSeconds(2)); // a /proc read may hang; the gate covers that
        CloseAttachments(); // no new events from here on
        stopping = true;
        reader?.Join();
        pipeline?.Join();
        summary = new CaptureSummary(counters, obj is null ? default : TlsObject.ReadStats(obj), Libraries.Count);
        if (pipelineError is { } err)
            throw new CaptureException("capture failed: " + err.Message);
    }

    public IEnumerable<string> Summary()
    {
        if (summary is null)
            yield break;
        foreach (var line in summary.Lines())
            yield return line;
        if (keys is not null)
            yield return "tlsscope: " + KeyLayouts.Summary(keys);
    }

    private void ReadLoop()
    {
        try
        {
            while (!stopping)
            {
                // The kernel wakes us only for bursts (see ring_flags in bpf/tls/maps.h); between
                // them a short poll bounds how late a chunk is shown.
                ring!.Poll(PollMilliseconds);
                ring.Consume();
                batcher.Publish();
            }
            ring!.Consume(); // what was produced before the links went away
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
        context?.Failed(e);
    }

    public void Dispose()
    {
        if (disposed)
            return;
        disposed = true;
        if (summary is null)
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
        ring?.Dispose();
        obj?.Dispose();
        if (discoveryThread is not { IsAlive: true })
            stopDiscovery.Dispose(); // a discovery thread still stuck in a /proc read keeps its token
    }
}

/// <summary>What the TLS source was asked for: the --libssl files (examined already), the bytes
/// kept per call (0: all), and whether an output takes key sets.</summary>
public sealed record TlsSourceOptions(IReadOnlyList<(string Path, ExaminedLibrary Examined)> Libraries, uint MaxPayload, bool Keys)
{
    /// <summary>Reads every --libssl path; each refusal is a one-line CaptureException.</summary>
    public static TlsSourceOptions Check(IReadOnlyList<string> libraries, uint maxPayload, bool keys) =>
        new(libraries.Select(path => (path, LibraryDiscovery.Examine(path, TlsSource.Families))).ToList(), maxPayload, keys);
}
