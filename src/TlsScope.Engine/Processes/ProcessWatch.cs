using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text;
using TlsScope.Bpf;
using TlsScope.Engine.Kernel;
using TlsScope.Engine.Model;
using TlsScope.Engine.Reading;
using TlsScope.Engine.Targets;

namespace TlsScope.Engine.Processes;

/// <summary>
/// The engine's kernel side (bpf/process): it owns the target's maps, which every source's object
/// shares (<see cref="ShareTargetMaps"/>), follows a launched command's tree through fork and
/// exit, and hands every exec of a traced process to the sources at once. Two threads: one reads
/// the ring and records a held program the moment it sees it (so that it is continued on every
/// path, whatever happens after), one runs the sources' handlers. Dispose detaches everything.
/// </summary>
public sealed class ProcessWatch : IDisposable, IRingBufferConsumer
{
    /// <summary>The target's maps, as every source object declares them (bpf/lib/target.h).</summary>
    public static readonly IReadOnlyList<string> TargetMaps = ["target_tgids", "target_cgroup"];

    private const int PollMilliseconds = 50;

    /// <summary>How long a stop waits for a handler still attaching (its program is continued anyway).</summary>
    private static readonly TimeSpan HandlerGrace = TimeSpan.FromSeconds(2);

    private readonly BpfObject _obj;
    private readonly Target _target;
    private readonly List<BpfLink> _links = [];
    private readonly List<Action<ExecEvent>> _execHandlers = [];
    private readonly ClockOffset _clock = new();
    private readonly TaskDecoder _tasks;
    private readonly HeldPrograms _held = new();
    private readonly BlockingCollection<PendingExec> _pending = [];
    private readonly Lock _gate = new(); // the object and the links, against a use after Dispose
    private BpfLink? _execLink;
    private RingBuffer? _ring;
    private Thread? _reader, _handler;
    private volatile bool _stopping;
    private volatile bool _execsStopped;
    private bool _drained; // the ring read to its end once the tracepoint went
    private bool _disposed;
    private long _lostExecs;

    private Action<string>? _log;
    private bool _verbose;

    /// <summary>Where the watch tells of an exec it could not handle, and (verbose) of each hold.</summary>
    public void LogTo(Action<string> log, bool verbose)
    {
        _log = log;
        _verbose = verbose;
    }

    private ProcessWatch(BpfObject obj, Target target, CgroupNames cgroups)
    {
        _obj = obj;
        _target = target;
        _tasks = new TaskDecoder(cgroups);
    }

    /// <summary>Programs continued before their probes were in (held longer than <see cref="HeldPrograms.MaxHold"/>).</summary>
    public long OverdueHolds => _held.Overdue;

    /// <summary>Exec events that did not fit the ring (a burst of execs).</summary>
    public long LostExecEvents
    {
        get
        {
            lock (_gate)
            {
                if (!_disposed)
                {
                    _lostExecs = (long)EmbeddedObjects.SumPerCpu<Counter>(_obj, "process_lost").Value;
                }

                return _lostExecs;
            }
        }
    }

    /// <summary>Loads bpf/process with the target's filters and fills the target's maps.</summary>
    /// <param name="execEvents">Whether any source wants exec events (the kernel skips them otherwise).</param>
    /// <param name="hold">Stop a never-seen program at its exec until the sources have attached to it.</param>
    public static ProcessWatch Load(Target target, bool execEvents, bool hold, CgroupNames cgroups)
    {
        var config = new KernelConfig
        {
            ExecEvents = execEvents ? 1u : 0u,
            HoldNew = execEvents && hold ? 1u : 0u,
            SelfPid = (uint)Environment.ProcessId,
        };
        target.WriteTo(ref config);
        HeldPrograms.ReleaseLeftovers();
        var obj = BpfObject.Open(EmbeddedObjects.Embedded(typeof(ProcessWatch).Assembly, "process.bpf.o"), "process.bpf.o");
        try
        {
            obj.SetInitialValue(".rodata.config", config);
            obj.Load();
            var watch = new ProcessWatch(obj, target, cgroups);
            foreach (var pid in target.Pids)
            {
                watch.Add(pid);
            }

            if (target.Scope == TargetScope.Cgroup)
            {
                obj.SetCgroup("target_cgroup", target.CgroupDirectory!);
            }

            return watch;
        }
        catch (BpfException e)
        {
            obj.Dispose();
            throw new CaptureException(e.Message);
        }
        catch
        {
            obj.Dispose();
            throw;
        }
    }

    /// <summary>Makes a source's object use the target's maps; before that object is loaded.</summary>
    public void ShareTargetMaps(BpfObject sourceObject)
    {
        foreach (var map in TargetMaps)
        {
            sourceObject.ShareMap(map, _obj);
        }
    }

    /// <summary>Traces a process from now on (the launched command, before it execs).</summary>
    public unsafe void Add(int pid)
    {
        uint key = (uint)pid, one = 1;
        lock (_gate)
        {
            if (!_disposed)
            {
                _obj.Update("target_tgids", new ReadOnlySpan<byte>(&key, 4), new ReadOnlySpan<byte>(&one, 4));
            }
        }
    }

    /// <summary>Whether the kernel traces this process now (a <see cref="TargetScope.Processes"/>
    /// target: the pids given and, following forks, their descendants).</summary>
    public unsafe bool Contains(int pid)
    {
        uint key = (uint)pid, value = 0;
        lock (_gate)
        {
            return !_disposed && _obj.Lookup("target_tgids", new ReadOnlySpan<byte>(&key, 4), new Span<byte>(&value, 4));
        }
    }

    /// <summary>A program needs no hold at its exec: examined already (the start-up index).</summary>
    public unsafe void MarkKnown(FileIdentity program)
    {
        var key = new ExeKey { Dev = ((ulong)program.Major << 20) | program.Minor, Ino = program.Inode };
        byte one = 1;
        lock (_gate)
        {
            if (!_disposed)
            {
                _obj.Update("known_exes", new ReadOnlySpan<byte>(&key, sizeof(ExeKey)), new ReadOnlySpan<byte>(&one, 1));
            }
        }
    }

    /// <summary>A program will be held again at its next exec (its probes were removed).</summary>
    public unsafe void Forget(FileIdentity program)
    {
        var key = new ExeKey { Dev = ((ulong)program.Major << 20) | program.Minor, Ino = program.Inode };
        lock (_gate)
        {
            if (!_disposed)
            {
                _obj.Delete("known_exes", new ReadOnlySpan<byte>(&key, sizeof(ExeKey)));
            }
        }
    }

    /// <summary>Called, on this watch's handler thread, for every exec of a traced process.
    /// Subscribe before <see cref="Attach"/>.</summary>
    public void OnExec(Action<ExecEvent> handler) => _execHandlers.Add(handler);

    /// <summary>Attaches the raw tracepoints the target and the subscribers need, and starts reading.</summary>
    public void Attach()
    {
        try
        {
            if (_target.FollowForks)
            {
                _links.Add(BpfLink.AttachRawTracepoint(_obj, "process_fork", "sched_process_fork"));
            }

            if (_target is { Scope: TargetScope.Processes, SinglePid: null })
            {
                // An exited pid leaves the set: a later process given the same pid is not traced.
                _links.Add(BpfLink.AttachRawTracepoint(_obj, "process_exit", "sched_process_exit"));
            }

            if (_execHandlers.Count > 0)
            {
                _ring = RingBuffer.Open(_obj, "process_events", this);
                _execLink = BpfLink.AttachRawTracepoint(_obj, "process_exec", "sched_process_exec");
                _reader = new Thread(ReadLoop) { Name = "tlsscope exec reader", IsBackground = true };
                _handler = new Thread(HandleLoop) { Name = "tlsscope exec handler", IsBackground = true };
                _reader.Start();
                _handler.Start();
            }
        }
        catch (BpfException e)
        {
            throw new CaptureException(e.Message);
        }
    }

    private void ReadLoop()
    {
        while (!_stopping)
        {
            try
            {
                _ring!.Poll(PollMilliseconds);
            }
            catch (Exception e)
            {
                _log?.Invoke($"tlsscope: warning: reading exec events: {e.GetType().Name}: {e.Message}");
            }
        }
    }

    /// <summary>On the reader thread: a held program is recorded at once, then the exec waits
    /// for the handler thread. While stopping, held programs are only continued.</summary>
    public unsafe void OnRecord(ReadOnlySpan<byte> record)
    {
        if (record.Length < sizeof(ExecRecord))
        {
            return;
        }

        ref readonly var e = ref MemoryMarshal.AsRef<ExecRecord>(record);
        if (e.Head.Kind != EventKind.Exec)
        {
            return;
        }

        var pid = (int)e.Head.Task.Pid;
        long? hold = (e.Head.Flags & ExecFlags.Held) != 0 ? _held.Held(pid) : null;
        if (_execsStopped || _pending.IsAddingCompleted)
        {
            Release(pid, hold);
            return;
        }

        string filename;
        fixed (byte* name = e.Filename)
        {
            filename = Encoding.UTF8.GetString(name, (int)Math.Min(e.FilenameLen, (uint)ExecRecord.PathMax));
        }

        var exec = new ExecEvent(_clock.ToUnixNs(e.Head.TimeNs), _tasks.Decode(in e.Head.Task),
            new FileIdentity(e.ExeMajor, e.ExeMinor, e.ExeIno), filename, (int)e.OldPid);
        try
        {
            _pending.Add(new PendingExec(exec, hold, Environment.TickCount64));
        }
        catch (InvalidOperationException)
        {
            Release(pid, hold); // completed meanwhile: stopping
        }
    }

    private void Release(int pid, long? hold)
    {
        if (hold is { } h)
        {
            _held.Release(pid, h);
        }
    }

    private void HandleLoop()
    {
        foreach (var pending in _pending.GetConsumingEnumerable())
        {
            // A held program waits on this thread.
            var nice = pending.Hold is null ? 0 : ThreadNice.RaiseForHeldProgram();

            try
            {
                if (!_execsStopped)
                {
                    foreach (var handler in _execHandlers)
                    {
                        Run(handler, pending.Exec);
                    }
                }
            }
            finally
            {
                // Continued first, on every path; then examined, TLS or not: not held again.
                if (pending.Hold is { } hold)
                {
                    ThreadNice.Restore(nice);
                    _held.Release(pending.Exec.Process.Pid, hold);
                    if (_verbose)
                    {
                        _log?.Invoke($"tlsscope: held {pending.Exec.Filename} (pid {pending.Exec.Process.Pid}) {Environment.TickCount64 - pending.SeenAt} ms");
                    }
                }

                MarkKnown(pending.Exec.Executable);
            }
        }
    }

    /// <summary>One handler failing (a bug) must not end exec-time attach for the rest of the run,
    /// nor keep the others from seeing the exec.</summary>
    private void Run(Action<ExecEvent> handler, ExecEvent exec)
    {
        try
        {
            handler(exec);
        }
        catch (Exception e)
        {
            _log?.Invoke($"tlsscope: warning: the exec of {exec.Filename} (pid {exec.Process.Pid}) could not be handled: {e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>No program is held from here on, and none stays held: the exec tracepoint goes,
    /// what the ring still has is read (its held programs continued, not handled), and a handler
    /// still attaching gets <see cref="HandlerGrace"/>. First thing of a stop, before the sources.</summary>
    public void StopExecs() => StopHolding(HandlerGrace);

    /// <summary>Before the process dies of a second signal: the same, waiting for no handler: the
    /// records the kernel wrote (each a program it stopped) are read and continued.</summary>
    public void DetachNow() => StopHolding(TimeSpan.Zero);

    private void StopHolding(TimeSpan handlerGrace)
    {
        lock (_gate)
        {
            _execsStopped = true;
            _execLink?.Dispose(); // from here on the kernel stops no program
            _execLink = null;
            if (_drained)
            {
                _held.ReleaseAll(); // a stop under way drains the ring; what was read is continued now
                return;
            }

            _drained = true;
        }

        _stopping = true;
        _reader?.Join(); // it polls 50 ms at a time
        try
        {
            // Records written before the tracepoint went: their programs are stopped. Each is
            // released as it is read (_execsStopped); a record that fails is passed over (libbpf
            // moves past it), never the rest.
            for (var round = 0; _ring is not null && round < 1024; round++)
            {
                try
                {
                    if (_ring.Consume() == 0)
                    {
                        break;
                    }
                }
                catch (Exception e)
                {
                    _log?.Invoke($"tlsscope: warning: reading the last exec events: {e.GetType().Name}: {e.Message}");
                }
            }
        }
        finally
        {
            _pending.CompleteAdding();
            if (handlerGrace > TimeSpan.Zero)
            {
                _handler?.Join(handlerGrace);
            }

            _held.ReleaseAll();
        }
    }

    public void Dispose()
    {
        StopExecs();
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _lostExecs = (long)EmbeddedObjects.SumPerCpu<Counter>(_obj, "process_lost").Value;
            _disposed = true;
            foreach (var link in _links)
            {
                link.Dispose();
            }

            _links.Clear();
            _held.Dispose();
            _ring?.Dispose(); // its reader has ended (StopExecs)
            if (_handler is not { IsAlive: true })
            {
                _pending.Dispose(); // else a handler still attaching ends on its own
            }

            _obj.Dispose();
        }
    }

    private sealed record PendingExec(ExecEvent Exec, long? Hold, long SeenAt);

    [StructLayout(LayoutKind.Sequential)]
    private struct ExeKey
    {
        public ulong Dev;
        public ulong Ino;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Counter : ICounters<Counter>
    {
        public ulong Value;

        public void Add(in Counter other) => Value += other.Value;
    }
}
