using System.Runtime.InteropServices;

namespace TlsScope.Cli;

/// <summary>
/// SIGINT, SIGTERM and SIGHUP end a capture cleanly (summary, detach, exit status), as they end
/// tcpdump; a second one ends the process at once, after <c>beforeDying</c> (TC filters outlive
/// the process, uprobes do not). A shell starts a background job with SIGINT ignored, and .NET
/// keeps an inherited ignored signal ignored even when a handler is registered: SIGINT and
/// SIGTERM are reset to their default first, so <c>tlsscope &amp; kill -INT $!</c> works. An
/// ignored SIGHUP is left ignored: that is nohup asking.
/// </summary>
internal static partial class StopSignals
{
    private const int SIGHUP = 1, SIGINT = 2, SIGTERM = 15;
    private static readonly nint SigDfl = 0, SigIgn = 1;

    public static IDisposable Register(Action stop, Action beforeDying) => Register(_ => { stop(); return true; }, beforeDying);

    /// <param name="handle">Called for each signal until one of them stops the capture (returns
    /// true); the signal after that ends the process.</param>
    public static IDisposable Register(Func<PosixSignal, bool> handle, Action beforeDying)
    {
        Signal(SIGINT, SigDfl);
        Signal(SIGTERM, SigDfl);
        var registrations = new List<PosixSignalRegistration>();
        var stopping = 0;
        void Handle(PosixSignalContext c)
        {
            if (Volatile.Read(ref stopping) == 1)
            {
                beforeDying(); // after a stop: the default action follows
                return;
            }
            c.Cancel = true; // detach and summarise (or, launching, let the command decide) instead of dying
            if (handle(c.Signal))
            {
                Volatile.Write(ref stopping, 1);
            }
        }
        registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle));
        registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle));
        if (!IsIgnored(SIGHUP))
        {
            registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGHUP, Handle));
        }

        return new Registrations(registrations);
    }

    private static unsafe bool IsIgnored(int signal)
    {
        var action = stackalloc byte[256]; // struct sigaction: the handler comes first
        return SigAction(signal, null, action) == 0 && *(nint*)action == SigIgn;
    }

    [LibraryImport("libc", EntryPoint = "signal")]
    private static partial nint Signal(int signal, nint handler);

    [LibraryImport("libc", EntryPoint = "sigaction")]
    private static unsafe partial int SigAction(int signal, byte* action, byte* old);

    private sealed class Registrations(List<PosixSignalRegistration> all) : IDisposable
    {
        public void Dispose()
        {
            foreach (var r in all)
            {
                r.Dispose();
            }
        }
    }
}
