using System.Runtime.InteropServices;

namespace TlsScope.Engine.Processes;

/// <summary>The calling thread's nice value (Linux keeps it per thread). While a program is held
/// at its exec, the thread attaching its probes is what it waits for, so that thread runs a few
/// steps ahead of where it was for that long, and no longer (a thread created meanwhile would
/// inherit it). Relative, so a TlsScope started under `nice` stays behind what it was asked to.
/// Best effort: a refusal changes nothing else.</summary>
public static partial class ThreadNice
{
    /// <summary>Steps ahead while a program waits: a few times a same-nice thread's share of a CPU.</summary>
    public const int Urgency = 5;

    private const int PrioProcess = 0, CallingThread = 0, Highest = -20;

    /// <summary>The calling thread's nice value now.</summary>
    public static int Current() => GetPriority(PrioProcess, CallingThread);

    /// <summary>Moves the calling thread <see cref="Urgency"/> steps ahead; returns the nice value
    /// it had, for <see cref="Restore"/>.</summary>
    public static int RaiseForHeldProgram()
    {
        var before = Current();
        _ = SetPriority(PrioProcess, CallingThread, Math.Max(before - Urgency, Highest));
        return before;
    }

    public static void Restore(int nice) => _ = SetPriority(PrioProcess, CallingThread, nice);

    [LibraryImport("libc", EntryPoint = "getpriority")]
    private static partial int GetPriority(int which, uint who);

    [LibraryImport("libc", EntryPoint = "setpriority")]
    private static partial int SetPriority(int which, uint who, int priority);
}
