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

    [LibraryImport("libc", EntryPoint = "getrusage")]
    private static partial int GetRusage(int who, long* usage);

    /// <summary>Pins the calling thread (and threads it creates later) to one CPU; -1 leaves it free.</summary>
    public static void PinCurrentThread(int cpu)
    {
        if (cpu < 0)
            return;
        var mask = 1UL << cpu;
        if (SchedSetAffinity(0, sizeof(ulong), &mask) != 0)
            throw new InvalidOperationException($"cannot pin a thread to CPU {cpu}: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>CPU time of a thread of this process in nanoseconds, from the scheduler's own
    /// account (/proc/self/task/TID/schedstat, first field); 0 once the thread is gone.</summary>
    public static long ThreadCpuNs(int tid)
    {
        if (tid <= 0)
            return 0;
        try
        {
            var text = File.ReadAllText($"/proc/self/task/{tid}/schedstat");
            return long.Parse(text.AsSpan(0, text.IndexOf(' ')), CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>User + system CPU of the whole process, exited threads included, in nanoseconds.</summary>
    public static long ProcessCpuNs()
    {
        var ru = stackalloc long[18]; // struct rusage: two timevals, then 14 longs
        if (GetRusage(0 /* RUSAGE_SELF */, ru) != 0)
            return 0;
        return (ru[0] + ru[2]) * 1_000_000_000 + (ru[1] + ru[3]) * 1000;
    }
}
