using System.Globalization;
using System.Runtime.InteropServices;

namespace TlsScope.Bench;

/// <summary>The few libc calls the benchmarks need: thread ids, CPU pinning, CPU time.</summary>
internal static unsafe partial class Sys
{
    [LibraryImport("libc", EntryPoint = "gettid")]
    internal static partial int GetTid();

    [LibraryImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static partial int SchedSetAffinity(int pid, nuint size, ulong* mask);

    [LibraryImport("libc", EntryPoint = "dup", SetLastError = true)]
    private static partial int DupFd(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    internal static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "getrusage")]
    private static partial int GetRusage(int who, long* usage);

    /// <summary>Pins the calling thread (and threads it creates later) to one CPU; -1 leaves it free.</summary>
    public static void PinCurrentThread(int cpu)
    {
        if (cpu < 0)
        {
            return;
        }

        var mask = 1UL << cpu;
        if (SchedSetAffinity(0, sizeof(ulong), &mask) != 0)
        {
            throw new InvalidOperationException($"cannot pin a thread to CPU {cpu}: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>A copy of <paramref name="fd"/> that a child process inherits (dup clears close-on-exec).</summary>
    public static int Dup(int fd)
    {
        var copy = DupFd(fd);
        return copy >= 0 ? copy : throw new InvalidOperationException($"dup({fd}): errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>CPU time of a thread in nanoseconds, from the scheduler's own account
    /// (/proc/PID/task/TID/schedstat, first field); 0 once the thread is gone.</summary>
    public static long ThreadCpuNs(int tid, int pid = 0)
    {
        if (tid <= 0)
        {
            return 0;
        }

        try
        {
            var text = File.ReadAllText($"/proc/{(pid > 0 ? pid.ToString(CultureInfo.InvariantCulture) : "self")}/task/{tid}/schedstat");
            return long.Parse(text.AsSpan(0, text.IndexOf(' ')), CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>Time a thread of this process spent runnable but waiting for a CPU, in ns
    /// (schedstat's second field): how much others (or its sibling threads) kept it off the CPU.</summary>
    public static long ThreadWaitNs(int tid)
    {
        if (tid <= 0)
        {
            return 0;
        }

        try
        {
            var f = File.ReadAllText($"/proc/self/task/{tid}/schedstat").Split(' ');
            return long.Parse(f[1], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>Peak resident set of this process (VmHWM) in MiB.</summary>
    public static double PeakRssMiB()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) / 1024.0;
            }
        }

        return 0;
    }

    /// <summary>User + system CPU of the whole process, exited threads included, in nanoseconds.</summary>
    public static long ProcessCpuNs()
    {
        var ru = stackalloc long[18]; // struct rusage: two timevals, then 14 longs
        if (GetRusage(0 /* RUSAGE_SELF */, ru) != 0)
        {
            return 0;
        }

        return (ru[0] + ru[2]) * 1_000_000_000 + (ru[1] + ru[3]) * 1000;
    }
}
