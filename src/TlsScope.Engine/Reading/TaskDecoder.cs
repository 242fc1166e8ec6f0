using TlsScope.Engine.Kernel;
using TlsScope.Engine.Model;
using TlsScope.Engine.Processes;

namespace TlsScope.Engine.Reading;

/// <summary>
/// The envelope's task (struct tscope_task) as a <see cref="ProcessInfo"/>, one object per thread
/// while its pid, user, cgroup and name stay the same: every record carries a task, and most
/// come from threads seen before. Bounded: the cache is emptied past 65536 threads.
/// </summary>
public sealed unsafe class TaskDecoder(CgroupNames? cgroups = null)
{
    private const int MaxCached = 65536;

    private readonly Dictionary<(uint Pid, uint Tid), ProcessInfo> _cache = [];

    public ProcessInfo Decode(in KernelTask task)
    {
        fixed (byte* comm = task.Comm)
        {
            var name = KernelComm.Bytes(comm);
            if (_cache.TryGetValue((task.Pid, task.Tid), out var known) && known.Uid == task.Uid && known.Cgroup == task.CgroupId
                && KernelComm.Same(known.Comm, name))
            {
                return known;
            }

            var info = new ProcessInfo((int)task.Pid, (int)task.Tid, task.Uid, KernelComm.Decode(name), task.CgroupId,
                task.CgroupId == 0 ? null : cgroups?.ContainerOf(task.CgroupId));
            if (_cache.Count >= MaxCached)
            {
                _cache.Clear();
            }

            _cache[(task.Pid, task.Tid)] = info;
            return info;
        }
    }
}
