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

    private readonly BpfObject obj;
    private readonly Target target;
    private readonly List<BpfLink> links = [];
    private readonly List<Action<ExecEvent>> execHandlers = [];
    private readonly ClockOffset clock = new();
    private readonly TaskDecoder tasks;
    private RingBuffer? ring;
    private Thread? reader;
    private volatile bool stopping;
    private bool disposed;

    private ProcessWatch(BpfObject obj, Target target, CgroupNames cgroups)
    {
        this.obj = obj;
        this.target = target;
        tasks = new TaskDecoder(cgroups);
    }

    /// <summary>Exec events that did not fit the ring (a burst of execs).</summary>
    public long LostExecEvents => (long)EmbeddedObjects.SumPerCpu<Counter>(obj, "process_lost").Value;

    /// <summary>Loads bpf/process with the target's filters and fills the target's maps.</summary>
    /// <param name="execEvents">Whether any source wants exec events (the kernel skips them otherwise).</param>
    public static ProcessWatch Load(Target target, bool execEvents, CgroupNames cgroups)
    {
        var config = new KernelConfig { ExecEvents = execEvents ? 1u : 0u };
        target.WriteTo(ref config);
        var obj = BpfObject.Open(EmbeddedObjects.Embedded(typeof(ProcessWatch).Assembly, "process.bpf.o"), "process.bpf.o");
        try
        {
            obj.SetInitialValue(".rodata.config", config);
            obj.Load();
            var watch = new ProcessWatch(obj, target, cgroups);
            foreach (var pid in target.Pids)
                watch.Add(pid);
            if (target.Scope == TargetScope.Cgroup)
                obj.SetCgroup("target_cgroup", target.CgroupDirectory!);
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
            sourceObject.ShareMap(map, obj);
    }

    /// <summary>Traces a process from now on (the launched command, before it execs).</summary>
    public unsafe void Add(int pid)
    {
        uint key = (uint)pid, one = 1;
        obj.Update("target_tgids", new ReadOnlySpan<byte>(&key, 4), new ReadOnlySpan<byte>(&one, 4));
    }

    /// <summary>Whether the kernel traces this process now (a <see cref="TargetScope.Processes"/>
    /// target: the pids given and, following forks, their descendants).</summary>
    public unsafe bool Contains(int pid)
    {
        uint key = (uint)pid, value = 0;
        return obj.Lookup("target_tgids", new ReadOnlySpan<byte>(&key, 4), new Span<byte>(&value, 4));
    }

    /// <summary>Called, on this watch's thread, for every exec of a traced process. Subscribe before <see cref="Attach"/>.</summary>
    public void OnExec(Action<ExecEvent> handler) => execHandlers.Add(handler);

    /// <summary>Attaches the raw tracepoints the target and the subscribers need, and starts reading.</summary>
    public void Attach()
    {
        try
        {
            if (target.FollowForks)
            {
                links.Add(BpfLink.AttachRawTracepoint(obj, "process_fork", "sched_process_fork"));
                links.Add(BpfLink.AttachRawTracepoint(obj, "process_exit", "sched_process_exit"));
            }
            if (execHandlers.Count > 0)
            {
                links.Add(BpfLink.AttachRawTracepoint(obj, "process_exec", "sched_process_exec"));
                ring = RingBuffer.Open(obj, "process_events", this);
                reader = new Thread(ReadLoop) { Name = "tlsscope exec watch", IsBackground = true };
                reader.Start();
            }
        }
        catch (BpfException e)
        {
            throw new CaptureException(e.Message);
        }
    }

    private void ReadLoop()
    {
        try
        {
            while (!stopping)
                ring!.Poll(PollMilliseconds);
        }
        catch (Exception)
        {
            // a handler's failure is the handler's to report; the watch stops reading
        }
    }

    public unsafe void OnRecord(ReadOnlySpan<byte> record)
    {
        if (record.Length < sizeof(ExecRecord))
            return;
        ref readonly var e = ref MemoryMarshal.AsRef<ExecRecord>(record);
        if (e.Head.Kind != EventKind.Exec)
            return;
        string filename;
        fixed (byte* name = e.Filename)
            filename = Encoding.UTF8.GetString(name, (int)Math.Min(e.FilenameLen, (uint)ExecRecord.PathMax));
        var exec = new ExecEvent(clock.ToUnixNs(e.Head.TimeNs), tasks.Decode(in e.Head.Task),
            new FileIdentity(e.ExeMajor, e.ExeMinor, e.ExeIno), filename, (int)e.OldPid);
        foreach (var handler in execHandlers)
            handler(exec);
    }

    public void Dispose()
    {
        if (disposed)
            return;
        disposed = true;
        stopping = true;
        foreach (var link in links)
            link.Dispose();
        links.Clear();
        reader?.Join();
        ring?.Dispose();
        obj.Dispose();
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Counter : ICounters<Counter>
    {
        public ulong Value;

        public void Add(in Counter other) => Value += other.Value;
    }
}
