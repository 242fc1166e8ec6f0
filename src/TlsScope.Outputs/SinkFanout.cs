using TlsScope.Flows;
using TlsScope.Engine.Model;

namespace TlsScope.Outputs;

/// <summary>One output of a run: a sink and how messages name it ("--json /tmp/x.json").</summary>
/// <param name="Sink">Any of <see cref="ICaptureSink"/>, <see cref="IHttpSink"/>,
/// <see cref="IKeySink"/>, <see cref="IPacketSink"/>: it receives the kinds it implements.</param>
public readonly record struct NamedSink(IDisposable Sink, string Label);

/// <summary>
/// The one fan-out of a capture. Every output receives the kinds of event it implements:
/// chunks, gaps and closes (<see cref="ICaptureSink"/>; with HTTP parsing on, HTTP connections'
/// chunks become HTTP events first), every chunk whatever the parsing (<see cref="IEveryChunkSink"/>),
/// HTTP events (<see cref="IHttpSink"/>), key sets (<see cref="IKeySink"/>) and packets
/// (<see cref="IPacketSink"/>) and any other kind (<see cref="IReceive{T}"/>, through
/// <see cref="Publish{T}"/>). One failure policy for all of them: the first I/O error of an
/// output is reported at once, naming it; that output receives nothing more and the others go
/// on; when none is left, <paramref name="noneLeft"/> is called. Other exceptions are bugs and
/// propagate. Chunks, HTTP events and keys come from the decoding thread, packets from the
/// packet reader's: each sink synchronises what it shares between the two (the pcapng sink).
/// </summary>
public sealed class SinkFanout : ICaptureSink, IHttpSink, IKeySink, IPacketSink, IEventPublisher
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Type, int[]> _receivers = new();
    private readonly NamedSink[] _outputs;
    private readonly bool[] _failed; // written under _gate, read without it: a late read only delivers once more
    private readonly int[] _everyChunk, _shownChunks, _capture, _http, _keys, _packets;
    private readonly HttpFlowTracker? _tracker;
    private readonly Action<string> _report;
    private readonly Action? _noneLeft;
    private readonly Lock _gate = new();

    // Sources deliver from threads of their own (TLS chunks, shell and SQL events): the text and
    // NDJSON sinks take one writer at a time. Reentrant: the HTTP stage calls back in. Packets
    // keep their own thread and the pcapng sink its own synchronisation.
    private readonly Lock _writers = new();
    private readonly List<string> _failures = [];
    private int _active;
    private bool _finishing, _finished;

    /// <param name="outputs">The outputs, in the order they are fed.</param>
    /// <param name="http">HTTP parsing between the capture and the chunk sinks; null for raw chunks.</param>
    /// <param name="report">Where a failure is told at once (stderr), one line without the "tlsscope: " prefix.</param>
    /// <param name="noneLeft">Called once every output has failed.</param>
    public SinkFanout(IEnumerable<NamedSink> outputs, FlowOptions? http = null, Action<string>? report = null, Action? noneLeft = null)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        _outputs = [.. outputs];
        foreach (NamedSink output in _outputs)
        {
            ArgumentNullException.ThrowIfNull(output.Sink, nameof(outputs));
        }

        _failed = new bool[_outputs.Length];
        _active = _outputs.Length;
        _report = report ?? (_ => { });
        _noneLeft = noneLeft;
        _everyChunk = Indexes(s => s is IEveryChunkSink);
        _shownChunks = Indexes(s => s is ICaptureSink and not IEveryChunkSink);
        _capture = Indexes(s => s is ICaptureSink);
        _http = Indexes(s => s is IHttpSink);
        _keys = Indexes(s => s is IKeySink);
        _packets = Indexes(s => s is IPacketSink);
        if (http is not null)
        {
            _tracker = new HttpFlowTracker(new ShownChunks(this), this, http);
        }
    }

    /// <summary>Unnamed outputs (tests): labelled by their type.</summary>
    public SinkFanout(params ICaptureSink[] sinks)
        : this(sinks.Select(s => new NamedSink(s, s.GetType().Name)))
    {
    }

    /// <summary>The HTTP stage, when parsing is on (its counters are the summary's).</summary>
    public HttpFlowTracker? Http => _tracker;

    /// <summary>"LABEL: reason" of every output that failed, in order.</summary>
    public IReadOnlyList<string> Failures
    {
        get
        {
            lock (_gate)
            {
                return [.. _failures];
            }
        }
    }

    /// <summary>How many outputs still receive events.</summary>
    public int ActiveCount => Volatile.Read(ref _active);

    public bool HasFailed(IDisposable sink)
    {
        int index = Array.FindIndex(_outputs, o => ReferenceEquals(o.Sink, sink));
        return index >= 0 && Volatile.Read(ref _failed[index]);
    }

    public void OnData(DataChunk chunk)
    {
        using (_writers.EnterScope())
        {
            Deliver(_everyChunk, chunk, static (s, c) => ((ICaptureSink)s).OnData(c));
            if (_tracker is null)
            {
                Deliver(_shownChunks, chunk, static (s, c) => ((ICaptureSink)s).OnData(c));
            }
            else
            {
                _tracker.OnData(chunk);
            }
        }
    }

    public void OnGap(StreamGap gap)
    {
        using (_writers.EnterScope())
        {
            Deliver(_everyChunk, gap, static (s, g) => ((ICaptureSink)s).OnGap(g));
            if (_tracker is null)
            {
                Deliver(_shownChunks, gap, static (s, g) => ((ICaptureSink)s).OnGap(g));
            }
            else
            {
                _tracker.OnGap(gap);
            }
        }
    }

    public void OnClose(ConnectionClosed closed)
    {
        using (_writers.EnterScope())
        {
            Deliver(_everyChunk, closed, static (s, c) => ((ICaptureSink)s).OnClose(c));
            if (_tracker is null)
            {
                Deliver(_shownChunks, closed, static (s, c) => ((ICaptureSink)s).OnClose(c));
            }
            else
            {
                _tracker.OnClose(closed);
            }
        }
    }

    /// <summary>The decoding thread drained what was available.</summary>
    public void Flush()
    {
        using (_writers.EnterScope())
        {
            Deliver(_capture, 0, static (s, _) => ((ICaptureSink)s).Flush());
        }
    }

    public void OnRequest(HttpFlow flow, long sequence, HttpMessage request) =>
        Deliver(_http, (flow, sequence, request), static (s, e) => ((IHttpSink)s).OnRequest(e.flow, e.sequence, e.request));

    public void OnResponse(HttpFlow flow, long sequence, HttpMessage response) =>
        Deliver(_http, (flow, sequence, response), static (s, e) => ((IHttpSink)s).OnResponse(e.flow, e.sequence, e.response));

    public void OnExchange(HttpExchange exchange) =>
        Deliver(_http, exchange, static (s, e) => ((IHttpSink)s).OnExchange(e));

    public void OnWebSocket(WebSocketEvent frame) =>
        Deliver(_http, frame, static (s, e) => ((IHttpSink)s).OnWebSocket(e));

    public void OnKeys(TlsKeySet keys)
    {
        using (_writers.EnterScope())
        {
            Deliver(_keys, keys, static (s, k) => ((IKeySink)s).OnKeys(k));
        }
    }

    public bool FollowsKeyProgress => _keys.Any(i => ((IKeySink)_outputs[i].Sink).FollowsKeyProgress);

    public void KeysThrough(DateTimeOffset drainedAt) =>
        Deliver(_keys, drainedAt, static (s, t) => ((IKeySink)s).KeysThrough(t));

    public void OnPacket(CapturedPacket packet) => Deliver(_packets, packet, static (s, p) => ((IPacketSink)s).OnPacket(p));

    /// <summary>Any other kind: to every output that implements <see cref="IReceive{T}"/> for it.</summary>
    public void Publish<T>(T item) where T : class
    {
        using (_writers.EnterScope())
        {
            Deliver(_receivers.GetOrAdd(typeof(T), _ => Indexes(s => s is IReceive<T>)), item, static (s, e) => ((IReceive<T>)s).Receive(e));
        }
    }

    /// <summary>The packet reader drained what was available.</summary>
    void IPacketSink.Flush() => Deliver(_packets, 0, static (s, _) => ((IPacketSink)s).Flush());

    /// <summary>Ends the HTTP stage (exchanges still open are written out) and closes every
    /// output, so their counters are final; a failure while closing is reported like any other.
    /// Idempotent.</summary>
    public void Finish()
    {
        if (_finishing)
        {
            return;
        }

        _finishing = true;
        try
        {
            _tracker?.Dispose();
        }
        finally
        {
            _finished = true;
            CloseOutputs(0);
        }
    }

    /// <summary>Closes the outputs from <paramref name="first"/> on; one that throws a bug does
    /// not keep the others from writing out their buffers.</summary>
    private void CloseOutputs(int first)
    {
        for (int i = first; i < _outputs.Length; i++)
        {
            try
            {
                _outputs[i].Sink.Dispose();
            }
            catch (Exception e) when (IsOutputFailure(e))
            {
                if (!Volatile.Read(ref _failed[i]))
                {
                    Fail(i, e, finishing: true);
                }
            }
            catch
            {
                CloseOutputs(i + 1);
                throw;
            }
        }
    }

    public void Dispose() => Finish();

    /// <summary>One call to every healthy output of a kind; an output's I/O error drops that output only.</summary>
    private void Deliver<T>(int[] targets, T item, Action<IDisposable, T> call)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        foreach (int i in targets)
        {
            if (Volatile.Read(ref _failed[i]))
            {
                continue;
            }

            try
            {
                call(_outputs[i].Sink, item);
            }
            catch (Exception e) when (IsOutputFailure(e))
            {
                Fail(i, e, finishing: false);
            }
        }
    }

    private static bool IsOutputFailure(Exception e) => e is IOException or OutputException or UnauthorizedAccessException;

    private void Fail(int index, Exception error, bool finishing)
    {
        bool noneLeft;
        string line;
        lock (_gate)
        {
            if (_failed[index])
            {
                return;
            }

            Volatile.Write(ref _failed[index], true);
            _active--;
            noneLeft = _active == 0;
            line = $"{_outputs[index].Label}: {OutputException.Reason(error)}";
            _failures.Add(line);
        }

        _report(line + (finishing ? " (while closing)" : noneLeft ? "; no output left, stopping" : "; other outputs continue"));
        if (noneLeft && !finishing)
        {
            _noneLeft?.Invoke();
        }
    }

    private int[] Indexes(Func<IDisposable, bool> wants) =>
        [.. Enumerable.Range(0, _outputs.Length).Where(i => wants(_outputs[i].Sink))];

    /// <summary>Where the HTTP stage sends what it does not turn into HTTP events.</summary>
    private sealed class ShownChunks(SinkFanout fanout) : ICaptureSink
    {
        public void OnData(DataChunk chunk) => fanout.Deliver(fanout._shownChunks, chunk, static (s, c) => ((ICaptureSink)s).OnData(c));

        public void OnGap(StreamGap gap) => fanout.Deliver(fanout._shownChunks, gap, static (s, g) => ((ICaptureSink)s).OnGap(g));

        public void OnClose(ConnectionClosed closed) => fanout.Deliver(fanout._shownChunks, closed, static (s, c) => ((ICaptureSink)s).OnClose(c));

        public void Flush()
        {
            // the fanout flushes every chunk sink itself
        }

        public void Dispose()
        {
        }
    }
}
