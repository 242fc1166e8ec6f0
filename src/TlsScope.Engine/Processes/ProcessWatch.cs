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
/// exit, and hands every exec of a traced process to the sources at once, on a thread of its own.
/// Dispose detaches everything.
/// </summary>
public sealed class ProcessWatch : IDisposable, IRingBufferConsumer
{
    /// <summary>The target's maps, as every source object declares them (bpf/lib/target.h).</summary>
    public static readonly IReadOnlyList<string> TargetMaps = ["target_tgids", "target_cgroup"];

    private const int PollMilliseconds = 50;

    private readonly BpfObject _obj;
    private readonly Target _target;
    private readonly List<BpfLink> _links = [];
    private readonly List<Action<ExecEvent>> _execHandlers = [];
    private readonly ClockOffset _clock = new();
    private readonly TaskDecoder _tasks;
    private readonly HeldPrograms _held = new();
    private RingBuffer? _ring;
    private Thread? _reader;
    private volatile bool _stopping;
    private bool _disposed;

    private Action<string>? _log;

    /// <summary>Where the watch tells of an exec it could not handle.</summary>
    public void LogTo(Action<string> log) => _log = log;

    private ProcessWatch(BpfObject obj, Target target, CgroupNames cgroups)
    {
        _obj = obj;
        _target = target;
        _tasks = new TaskDecoder(cgroups);
    }

    /// <summary>Programs continued before their probes were in (held longer than <see cref="HeldPrograms.MaxHold"/>).</summary>
    public long OverdueHolds => _held.Overdue;

    /// <summary>Exec events that did not fit the ring (a burst of execs).</summary>
    public long LostExecEvents => (long)EmbeddedObjects.SumPerCpu<Counter>(_obj, "process_lost").Value;

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
        _obj.Update("target_tgids", new ReadOnlySpan<byte>(&key, 4), new ReadOnlySpan<byte>(&one, 4));
    }

    /// <summary>Whether the kernel traces this process now (a <see cref="TargetScope.Processes"/>
    /// target: the pids given and, following forks, their descendants).</summary>
    public unsafe bool Contains(int pid)
    {
        uint key = (uint)pid, value = 0;
        return _obj.Lookup("target_tgids", new ReadOnlySpan<byte>(&key, 4), new Span<byte>(&value, 4));
    }

    /// <summary>A program needs no hold at its exec: examined already (the start-up index).</summary>
    public unsafe void MarkKnown(FileIdentity program)
    {
        var key = new ExeKey { Dev = ((ulong)program.Major << 20) | program.Minor, Ino = program.Inode };
        byte one = 1;
        _obj.Update("known_exes", new ReadOnlySpan<byte>(&key, sizeof(ExeKey)), new ReadOnlySpan<byte>(&one, 1));
    }

    /// <summary>A program will be held again at its next exec (its probes were removed).</summary>
    public unsafe void Forget(FileIdentity program)
    {
        var key = new ExeKey { Dev = ((ulong)program.Major << 20) | program.Minor, Ino = program.Inode };
        _obj.Delete("known_exes", new ReadOnlySpan<byte>(&key, sizeof(ExeKey)));
    }

    /// <summary>Called, on this watch's thread, for every exec of a traced process. Subscribe before <see cref="Attach"/>.</summary>
    public void OnExec(Action<ExecEvent> handler) => _execHandlers.Add(handler);

    /// <summary>Attaches the raw tracepoints the target and the subscribers need, and starts reading.</summary>
    public void Attach()
    {
        try
        {
            if (_target.FollowForks)
            {
                _links.Add(BpfLink.AttachRawTracepoint(_obj, "process_fork", "sched_process_fork"));
                _links.Add(BpfLink.AttachRawTracepoint(_obj, "process_exit", "sched_process_exit"));
            }
            if (_execHandlers.Count > 0)
            {
                _links.Add(BpfLink.AttachRawTracepoint(_obj, "process_exec", "sched_process_exec"));
                _ring = RingBuffer.Open(_obj, "process_events", this);
                _reader = new Thread(ReadLoop) { Name = "tlsscope exec watch", IsBackground = true };
                _reader.Start();
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
                // One exec's handler failing (a bug) must not end exec-time attach for the rest of
                // the run; the program it held was continued by the finally of OnRecord.
                _log?.Invoke($"tlsscope: warning: an exec could not be handled: {e.GetType().Name}: {e.Message}");
            }
        }
    }

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

        var held = (e.Head.Flags & ExecFlags.Held) != 0;
        if (held)
        {
            _held.Held((int)e.Head.Task.Pid);
        }

        try
        {
            Deliver(in e);
        }
        finally
        {
            // Examined, TLS or not: not held again. And on every path, continued.
            var key = new ExeKey { Dev = (e.ExeMajor << 20) | e.ExeMinor, Ino = e.ExeIno };
            byte one = 1;
            _obj.Update("known_exes", new ReadOnlySpan<byte>(&key, sizeof(ExeKey)), new ReadOnlySpan<byte>(&one, 1));
            if (held)
            {
                _held.Release((int)e.Head.Task.Pid);
            }
        }
    }

    private unsafe void Deliver(in ExecRecord e)
    {
        string filename;
        fixed (byte* name = e.Filename)
        {
            filename = Encoding.UTF8.GetString(name, (int)Math.Min(e.FilenameLen, (uint)ExecRecord.PathMax));
        }

        var exec = new ExecEvent(_clock.ToUnixNs(e.Head.TimeNs), _tasks.Decode(in e.Head.Task),
            new FileIdentity(e.ExeMajor, e.ExeMinor, e.ExeIno), filename, (int)e.OldPid);
        foreach (var handler in _execHandlers)
        {
            handler(exec);
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _stopping = true;
        foreach (var link in _links)
        {
            link.Dispose();
        }

        _links.Clear();
        _reader?.Join();
        _held.Dispose();
        _ring?.Dispose();
        _obj.Dispose();
    }

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
