using System.Collections.Concurrent;
using TlsScope.Bpf;
using TlsScope.Bpf.Elf;
using TlsScope.Engine;
using TlsScope.Engine.Kernel;
using TlsScope.Engine.Model;
using TlsScope.Engine.Reading;
using TlsScope.Engine.Sources;
using TlsScope.Sources.Tls.Decoding;
using TlsScope.Sources.Tls.Discovery;
using TlsScope.Sources.Tls.Go;
using TlsScope.Sources.Tls.Nss;
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
    public static readonly IReadOnlyList<LibraryFamily> Families = [ProbeTable.OpenSsl, ProbeTable.GnuTls, NssFamily.Family, GoFamily.Family];

    private static readonly TimeSpan RescanInterval = TimeSpan.FromMilliseconds(500);
    private const int PollMilliseconds = 20;

    private readonly RecordBatcher _batcher = new();
    private readonly CaptureCounters _counters = new();
    private readonly object _attachGate = new();
    private readonly CancellationTokenSource _stopDiscovery = new();
    private readonly List<double> _execLatencies = []; // ms from an exec to its libraries' probes
    private const long QuietBeforeReclaim = 2000; // ms without an exec-time attach
    private long _lastExecAttach;
    private readonly BlockingCollection<TlsLibrary> _layoutQueue = [];
    private readonly HashSet<int> _layoutsSet = []; // library ids whose key layout is in the kernel
    private readonly HashSet<int> _prepared = []; // library ids whose family told the kernel about them
    private Thread? _layoutThread;
    private Thread? _indexThread;
    private SourceContext? _context;
    private BpfObject? _obj;
    private ProbeAttacher? _attacher;
    private LibraryDiscovery? _discovery;
    private RingBuffer? _ring;
    private Thread? _reader;
    private Thread? _pipeline;
    private Thread? _discoveryThread;
    private CallAssembler? _assembler;
    private EventDecoder? _decoder;
    private ICaptureSink? _sink;
    private KeyExtractor? _keys;
    private IKeySink? _keyOutlet; // told how far the key records have been read (when keys are on)
    private bool _closed;
    private volatile bool _stopping;
    private volatile Exception? _pipelineError;
    private CaptureSummary? _summary;
    private bool _disposed;

    public string Name => "tls";

    public bool WantsExecEvents => true;

    public IReadOnlyList<TlsLibrary> Libraries => _discovery?.Libraries ?? [];

    public int ProbeCount => _attacher?.LinkCount ?? 0;

    public string ReadyText => $"{ProbeCount} probes on {Libraries.Count} libraries";

    public bool LostAny => _summary?.AnyLoss ?? false;

    public void Attach(SourceContext context)
    {
        _context = context;
        var warmUp = Task.Run(() => Parallel.ForEach(Families.Select(f => f.WarmUp).OfType<Action>(), WarmUp));
        var config = new KernelConfig
        {
            MaxPayload = options.MaxPayload,
            WakeupBytes = EmbeddedObjects.RingSize(context.RingBufferMiB) / 8,
            Keys = options.Keys ? 1u : 0u,
        };
        context.Target.WriteTo(ref config);
        _obj = EmbeddedObjects.Load(typeof(TlsSource).Assembly, "tls.bpf.o", config, scratchMap: "scratch", ringMap: "events",
            context.RingBufferMiB, context.Processes.ShareTargetMaps);
        _attacher = new ProbeAttacher(_obj, context.Target.SinglePid, options.Keys);
        _discovery = new LibraryDiscovery(context.Target, context.Processes.Contains, Families);
        _ring = RingBuffer.Open(_obj, "events", _batcher);
        try
        {
            _attacher.AttachTracepoints();
        }
        catch (BpfException e)
        {
            throw new CaptureException(e.Message);
        }
        foreach (var (path, examined) in options.Libraries)
        {
            AttachProbes(_discovery.AddExplicit(path, examined));
        }

        // A library found on the machine that cannot be probed (an old Go program, say) is
        // reported and skipped; only the ones asked for by name (--binary) stop the start.
        foreach (var lib in _discovery.ScanAll())
        {
            TryAttachProbes(lib);
        }

        warmUp.Wait();
    }

    /// <summary>A warm-up that fails costs the first exec its speed, nothing else.</summary>
    private void WarmUp(Action warmUp)
    {
        try
        {
            warmUp();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            if (_context!.Verbose)
            {
                _context.Log($"tlsscope: warm-up: {e.GetType().Name}: {e.Message}");
            }
        }
    }

    public void Start(EventOutlets outlets)
    {
        if (_context is null || _obj is null)
        {
            throw new InvalidOperationException("the TLS source is not attached");
        }

        _sink = outlets.Chunks;
        _keys = options.Keys ? new KeyExtractor(outlets.Keys) : null;
        _keyOutlet = options.Keys && outlets.Keys.FollowsKeyProgress ? outlets.Keys : null;
        _assembler = new CallAssembler(outlets.Chunks, new ClockOffset(), _counters);
        _decoder = new EventDecoder(_assembler, LibraryName, _keys, new TaskDecoder(_context.Cgroups));
        _reader = new Thread(ReadLoop) { Name = "tlsscope ring reader", IsBackground = true };
        _pipeline = new Thread(DecodeLoop) { Name = "tlsscope decoder", IsBackground = true };
        _reader.Start();
        _pipeline.Start();
        foreach (var lib in Libraries.ToList())
        {
            SetKeyLayout(lib);
        }

        if (_keys is not null)
        {
            _layoutThread = new Thread(LayoutLoop) { Name = "tlsscope key layouts", IsBackground = true };
            _layoutThread.Start();
        }

        // Discovery runs on threads of its own so that nothing it waits on (a /proc read, a large
        // ELF file, the index of the machine's programs) can delay an exec's attach or a stop.
        _discoveryThread = new Thread(DiscoverLoop) { Name = "tlsscope discovery", IsBackground = true };
        _discoveryThread.Start();
        if (_context.Target.SinglePid is null)
        {
            _indexThread = new Thread(RunIndex) { Name = "tlsscope index", IsBackground = true };
            _indexThread.Start();
        }
    }

    /// <summary>A traced process runs a new program (on the engine's exec thread, the program
    /// held): its TLS libraries get their probes now, not at the next scan, and the program goes on.
    /// Their key layouts follow on the layout thread (a calibration takes seconds).</summary>
    public void OnExec(ExecEvent exec)
    {
        if (_discovery is null)
        {
            return;
        }

        try
        {
            var found = _discovery.ScanExec(exec);
            if (found.Count == 0)
            {
                return;
            }

            // Found again or new: either way no reclaim may race this program's start.
            Volatile.Write(ref _lastExecAttach, Environment.TickCount64);
            var attached = found.Sum(TryAttachProbes);
            if (attached > 0)
            {
                // From the exec in the kernel to the last probe in: what a program that starts
                // talking at once races against.
                var latency = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100 - exec.TimeUnixNs;
                lock (_execLatencies)
                {
                    _execLatencies.Add(latency / 1e6);
                }

                if (_context!.Verbose)
                {
                    _context.Log($"tlsscope: exec of {exec.Filename} (pid {exec.Process.Pid}): {attached} probes attached {latency / 1e6:0.0} ms after the exec");
                }
            }

            foreach (var lib in found)
            {
                QueueKeyLayout(lib);
            }
        }
        catch (Exception e) when (e is CaptureException or IOException or UnauthorizedAccessException)
        {
            if (_context!.Verbose)
            {
                _context.Log($"tlsscope: exec of {exec.Filename}: {e.Message}");
            }
        }
    }

    public void PrepareLaunch(string program, IReadOnlyList<string> libraryPath)
    {
        foreach (var lib in _discovery!.ScanProgram(program, libraryPath))
        {
            AttachProbes(lib);
        }
    }

    /// <summary>Attaches from the start-up thread, the discovery threads or the exec thread; a
    /// library that has its probes already gets none. The gate keeps an attach, a reclaim and the
    /// teardown apart: libbpf must not attach with an object being freed. Returns the probes made.</summary>
    private int AttachProbes(TlsLibrary lib)
    {
        lock (_attachGate)
        {
            if (_closed)
            {
                return 0;
            }

            if (lib.Family.Prepare is { } prepare && !_prepared.Contains(lib.Id))
            {
                prepare(lib, _obj!);
                _prepared.Add(lib.Id);
            }

            var n = _attacher!.Attach(lib);
            if (n > 0 && _context!.Verbose)
            {
                var how = lib.Family.Describe?.Invoke(lib.Symbols) is { } d ? $"; {d}" : "";
                _context.Log($"tlsscope: attached {n} probes to {lib.Path} ({lib.Family.Name}{how})");
            }

            return n;
        }
    }

    /// <summary>One library's attach failing (a process gone mid-scan takes its /proc path with
    /// it) is reported and costs that library only, never the others found with it.</summary>
    private int TryAttachProbes(TlsLibrary lib)
    {
        try
        {
            return AttachProbes(lib);
        }
        catch (Exception e) when (e is CaptureException or IOException or UnauthorizedAccessException or ElfFormatException)
        {
            _context!.Log("tlsscope: warning: " + e.Message);
            return 0;
        }
    }

    /// <summary>A library found while capturing: probes, then its key layout (on the layout
    /// thread: it may take a calibration, seconds, and neither the plaintext nor a stop may wait).</summary>
    private void Attach(TlsLibrary lib)
    {
        if (TryAttachProbes(lib) > 0)
        {
            QueueKeyLayout(lib);
        }
    }

    private void QueueKeyLayout(TlsLibrary lib)
    {
        if (_keys is null)
        {
            return;
        }

        lock (_layoutsSet)
        {
            if (_layoutsSet.Contains(lib.Id))
            {
                return;
            }
        }

        try
        {
            _layoutQueue.Add(lib);
        }
        catch (InvalidOperationException)
        {
            // stopping
        }
    }

    private void LayoutLoop()
    {
        foreach (var lib in _layoutQueue.GetConsumingEnumerable())
        {
            try
            {
                SetKeyLayout(lib);
            }
            catch (Exception e)
            {
                _context!.Log($"tlsscope: warning: no TLS keys from {lib.Path}: {e.GetType().Name}: {e.Message}");
            }
        }
    }

    /// <summary>Tells the kernel where this library keeps its secrets, before its first call
    /// is seen. A library without a layout still gives plaintext; the reason is reported (once:
    /// a library found again keeps its id, and its layout).</summary>
    private unsafe void SetKeyLayout(TlsLibrary lib)
    {
        if (_keys is null || lib.Id >= KernelKeyLayout.MaxLibraries || !lib.Family.KeysFromLayout)
        {
            return;
        }

        lock (_layoutsSet)
        {
            if (!_layoutsSet.Add(lib.Id))
            {
                return;
            }
        }

        string? problem;
        KernelKeyLayout layout;
        try
        {
            (layout, problem) = KeyLayouts.For(lib, _keys);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            (layout, problem) = (default, e.Message);
        }
        if (problem is not null)
        {
            _context!.Log($"tlsscope: warning: no TLS keys from {lib.Path}: {problem}");
            return;
        }
        var id = (uint)lib.Id;
        lock (_attachGate)
        {
            if (!_closed)
            {
                _obj!.Update("key_layouts", new ReadOnlySpan<byte>(&id, 4), new ReadOnlySpan<byte>(&layout, sizeof(KernelKeyLayout)));
            }
        }
    }

    /// <summary>Under the attach gate: a library whose probes go forgets its layout too (the file
    /// found again with its id may be a new build in the same inode: the layout is found anew).</summary>
    private unsafe void ForgetKeyLayout(TlsLibrary lib)
    {
        lock (_layoutsSet)
        {
            if (!_layoutsSet.Remove(lib.Id))
            {
                return;
            }
        }

        var id = (uint)lib.Id;
        var none = default(KernelKeyLayout); // not valid: no keys read for the id until it has one again
        _obj!.Update("key_layouts", new ReadOnlySpan<byte>(&id, 4), new ReadOnlySpan<byte>(&none, sizeof(KernelKeyLayout)));
    }

    /// <summary>Detaches every probe; no attach can happen after it.</summary>
    private void CloseAttachments()
    {
        lock (_attachGate)
        {
            _closed = true;
            _attacher?.Dispose();
        }
    }

    private string LibraryName(uint id)
    {
        var names = _discovery?.Names ?? [];
        return id < names.Count ? names[(int)id] : $"library#{id}";
    }

    private void DiscoverLoop()
    {
        var stop = _stopDiscovery.Token;
        while (!stop.WaitHandle.WaitOne(RescanInterval))
        {
            try
            {
                Reclaim(stop);
                foreach (var lib in _discovery!.ScanNew())
                {
                    if (stop.IsCancellationRequested)
                    {
                        return;
                    }

                    Attach(lib);
                }
            }
            catch (Exception e)
            {
                // /proc changes under our feet (processes exit mid-scan), a library refuses a
                // probe: a failed scan is retried on the next round and never ends the capture.
                _context!.Log(e is CaptureException ? "tlsscope: warning: " + e.Message
                    : $"tlsscope: warning: discovery: {e.GetType().Name}: {e.Message}");
            }
        }
    }

    /// <summary>The machine's TLS-capable files, attached before they first run (node, a static
    /// client); every other indexed program needs no hold at its exec. On its own thread: a cold
    /// index takes a second, and rescans and execs go on meanwhile.</summary>
    private void RunIndex()
    {
        var stop = _stopDiscovery.Token;
        try
        {
            // Every family judges the files (the verdicts are cached), but programs of a family
            // that is not probed ahead (Go) stay unseen: their exec is held and attached then.
            var (all, account) = new ExecutableIndex(Families).Scan(() => stop.IsCancellationRequested);
            var files = all.Where(f => f.Family is not { Indexed: false }).ToList();
            foreach (var (_, id, _) in files)
            {
                _context!.Processes.MarkKnown(id);
            }

            foreach (var lib in _discovery!.AddIndexed(files))
            {
                Attach(lib);
            }

            if (_context!.Verbose)
            {
                _context.Log($"tlsscope: index: {account.Files} files ({account.FromCache} from the cache), {account.Capable} with TLS, in {account.Took.TotalMilliseconds:0} ms");
            }
        }
        catch (Exception e)
        {
            _context!.Log($"tlsscope: warning: the index of TLS programs failed: {e.Message}");
        }
    }

    /// <summary>Programs started through an exec that have exited lose their probes now, in the
    /// background: each probe's removal waits for the kernel (an RCU grace period), and a run that
    /// saw a thousand short-lived programs must not take minutes to end. They are found anew (and
    /// held again) if they run again.</summary>
    private void Reclaim(CancellationToken stop)
    {
        // A removal holds the kernel's trace event lock for its whole grace period (~0.1 s here):
        // an exec's attach would wait behind it. Only when no program has been attached lately.
        if (Environment.TickCount64 - Volatile.Read(ref _lastExecAttach) < QuietBeforeReclaim)
        {
            return;
        }

        foreach (var lib in _discovery!.Reclaimable())
        {
            if (stop.IsCancellationRequested)
            {
                return;
            }

            ProbeAttacher.PendingDetach detach;
            lock (_attachGate)
            {
                // Still idle, decided together with taking its probes: an exec that finds it from
                // here on attaches anew (after these are gone), never relies on probes going away.
                if (_closed)
                {
                    return;
                }

                if (_discovery.TryReclaim(lib) is not { } programs)
                {
                    continue;
                }

                detach = _attacher!.BeginDetach(lib);
                ForgetKeyLayout(lib);
                foreach (var program in programs)
                {
                    _context!.Processes.Forget(program); // held again at its next exec, until the probes are back
                }
            }

            detach.Complete();
            if (_context!.Verbose)
            {
                _context.Log($"tlsscope: detached {lib.Path}: its processes have exited");
            }
        }
    }

    /// <summary>Detaches, drains what the kernel already produced, and makes the account.</summary>
    /// <exception cref="CaptureException">Reading or decoding failed during the capture.</exception>
    public void Stop()
    {
        if (_summary is not null)
        {
            return;
        }

        _stopDiscovery.Cancel();
        _layoutQueue.CompleteAdding(); // a calibration under way finishes on its own; the gate covers it
        _discoveryThread?.Join(TimeSpan.FromSeconds(2)); // a /proc read may hang; the gate covers that
        _indexThread?.Join(TimeSpan.FromSeconds(2));
        CloseAttachments(); // no new events from here on
        _stopping = true;
        _reader?.Join();
        _pipeline?.Join();
        _summary = new CaptureSummary(_counters, _obj is null ? default : TlsObject.ReadStats(_obj), Libraries.Count);
        if (_pipelineError is { } err)
        {
            throw new CaptureException("capture failed: " + err.Message);
        }
    }

    public IEnumerable<string> Summary()
    {
        if (_summary is null)
        {
            yield break;
        }

        foreach (var line in _summary.Lines())
        {
            yield return line;
        }

        if (_keys is not null)
        {
            yield return "tlsscope: " + KeyLayouts.Summary(_keys);
            var noKeys = Libraries.Select(l => (l.Family.Name, Why: l.Family.NoKeys?.Invoke(l.Symbols))).Where(n => n.Why is not null).Distinct();
            foreach (var (family, why) in noKeys)
            {
                yield return $"tlsscope: {family}: keys not available ({why})";
            }
        }

        if (ExecAttachLine() is { } execs)
        {
            yield return execs;
        }
    }

    /// <summary>"exec-time attach: 12 programs, 3.1 ms median, 8.0 ms p99 from exec to probes".</summary>
    private string? ExecAttachLine()
    {
        lock (_execLatencies)
        {
            if (_execLatencies.Count == 0)
            {
                return null;
            }

            var sorted = _execLatencies.Order().ToArray();
            double At(double q) => sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
            return $"tlsscope: exec-time attach: {sorted.Length} programs, {At(0.5):0.0} ms median, {At(0.99):0.0} ms p99, {sorted[^1]:0.0} ms max from exec to probes";
        }
    }

    private void ReadLoop()
    {
        try
        {
            while (!_stopping)
            {
                // The kernel wakes us only for bursts (see ring_flags in bpf/tls/maps.h); between
                // them a short poll bounds how late a chunk is shown.
                _ring!.Poll(PollMilliseconds);
                if (_keyOutlet is null)
                {
                    _ring.Consume();
                    _batcher.Publish();
                    continue;
                }

                // Read the ring empty once more, marked with the time before: every key record
                // produced by then is in what is handed over (see IKeySink.KeysThrough).
                var drainedAt = TimeProvider.System.GetUtcNow();
                _ring.Consume();
                _batcher.Publish(drainedAt);
            }
            _ring!.Consume(); // what was produced before the links went away
        }
        catch (Exception e)
        {
            Fail(e);
        }
        finally
        {
            _batcher.Complete();
        }
    }

    private void DecodeLoop()
    {
        try
        {
            var unflushed = false; // decoded records whose output may still sit in buffers
            foreach (var batch in _batcher.Batches())
            {
                _decoder!.DecodeBatch(batch.Buffer, batch.Length);
                _batcher.Release(batch);
                unflushed |= batch.Length > 0;
                if (batch.DrainedAt is { } drainedAt)
                {
                    _keyOutlet!.KeysThrough(drainedAt);
                }

                if (unflushed && !_batcher.HasQueued)
                {
                    _sink!.Flush();
                    unflushed = false;
                }
            }
            _assembler!.FlushAll();
            _sink!.Flush();
        }
        catch (Exception e)
        {
            Fail(e);
            foreach (var batch in _batcher.Batches())
            {
                _batcher.Release(batch); // keep the reader from waiting on a dead consumer
            }
        }
    }

    private void Fail(Exception e)
    {
        _pipelineError ??= e;
        _context?.Failed(e);
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_summary is null)
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
        _ring?.Dispose();
        _obj?.Dispose();
        if (_discoveryThread is not { IsAlive: true } && _indexThread is not { IsAlive: true })
        {
            _stopDiscovery.Dispose(); // a discovery thread still stuck in a /proc read keeps its token
        }
    }
}

/// <summary>What the TLS source was asked for: the --binary files (examined already), the bytes
/// kept per call (0: all), and whether an output takes key sets.</summary>
public sealed record TlsSourceOptions(IReadOnlyList<(string Path, ExaminedLibrary Examined)> Libraries, uint MaxPayload, bool Keys)
{
    /// <summary>Reads every --binary path; each refusal is a one-line CaptureException naming the
    /// option as typed (<paramref name="option"/>: --binary or its alias --libssl).</summary>
    public static TlsSourceOptions Check(IReadOnlyList<string> libraries, uint maxPayload, bool keys, string option = "--binary") =>
        new(libraries.Select(path => (path, LibraryDiscovery.Examine(path, TlsSource.Families, option))).ToList(), maxPayload, keys);
}
