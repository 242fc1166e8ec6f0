using System.Runtime.InteropServices;

namespace TlsScope.Engine.Processes;

/// <summary>kill(2), for the few signals TlsScope sends: continuing a program it held or
/// launched stopped, and ending a launch that never ran.</summary>
public static partial class ProcessSignals
{
    public const int Sigkill = 9, Sigcont = 18, Sigstop = 19;

    /// <summary>0 when sent; -1 when the process is gone (or not ours to signal).</summary>
    public static int Send(int pid, int signal) => Kill(pid, signal);

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);
}
