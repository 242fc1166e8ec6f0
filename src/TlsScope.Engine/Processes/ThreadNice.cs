using System.Runtime.InteropServices;

namespace TlsScope.Engine.Processes;

/// <summary>The calling thread's nice value (Linux keeps it per thread). While a program is held
/// at its exec, the thread attaching its probes is what it waits for, so that thread runs ahead
/// of ordinary work for that long, and no longer (a thread created meanwhile would inherit it).
/// Best effort: a refusal changes nothing else.</summary>
public static partial class ThreadNice
{
    /// <summary>For the exec handler: ahead of nice-0 threads, a few times their share of a CPU.</summary>
    public const int Urgent = -5;

    public const int Normal = 0;

    private const int PrioProcess = 0;

    public static void Set(int nice) => _ = SetPriority(PrioProcess, 0, nice); // 0: the calling thread

    [LibraryImport("libc", EntryPoint = "setpriority")]
    private static partial int SetPriority(int which, uint who, int priority);
}
