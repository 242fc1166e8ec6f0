using System.Diagnostics;
using System.Runtime.InteropServices;
using TlsScope.Bpf;

namespace TlsScope.Bench;

/// <summary>
/// The reader benchmark's producer, in a process of its own so that it behaves like the kernel
/// side of a real capture: the reader's garbage collections do not pause it. It inherits the
/// loaded producer program's fd from the reader process, pins itself to one CPU and runs the
/// program with BPF_PROG_TEST_RUN until its standard input closes.
/// </summary>
internal static class Producer
{
    public const int MaxPerRun = 8192; // records per test run: a few ms of producer time at most
    private const long SpinBelowRate = 1_000_000;

    public static int Run(Options o)
    {
        var fd = (int)o.Long("prog-fd", -1);
        if (fd < 0)
        {
            throw new ArgumentException("produce needs --prog-fd N (an inherited producer program fd)");
        }

        var payload = (ulong)o.Long("payload", 64);
        var rate = o.Long("rate", 0);
        var wakeupBytes = (ulong)o.Long("wakeup-bytes", 0);
        var policy = (ulong)o.Long("policy", 1);
        Sys.PinCurrentThread((int)o.Long("cpu", -1));

        var stop = 0;
        new Thread(() =>
        {
            // The reader closes our stdin to stop us; so does its death, so this never outlives it.
            try
            {
                Console.OpenStandardInput().CopyTo(Stream.Null);
            }
            finally
            {
                Volatile.Write(ref stop, 1);
            }
        }) { IsBackground = true, Name = "stdin watch" }.Start();

        Span<ulong> args = stackalloc ulong[4];
        var clock = Stopwatch.StartNew();
        long sent = 0;
        while (Volatile.Read(ref stop) == 0)
        {
            long n = MaxPerRun;
            if (rate > 0)
            {
                // Paced: catch up with the schedule in bursts of at most MaxPerRun; when ahead,
                // sleep (fast rates: ~1 ms bursts) or spin (slow rates: records arrive one by
                // one, as SSL calls do, each finding the reader asleep).
                var due = (long)(rate * clock.Elapsed.TotalSeconds) - sent;
                if (due <= 0)
                {
                    if (rate >= SpinBelowRate)
                    {
                        Thread.Sleep(1);
                    }
                    else
                    {
                        Thread.SpinWait(20);
                    }

                    continue;
                }
                n = Math.Min(due, MaxPerRun);
            }
            args[0] = (ulong)n;
            args[1] = payload;
            args[2] = wakeupBytes;
            args[3] = policy;
            var r = BpfProgramRun.Run(fd, MemoryMarshal.AsBytes(args));
            if (r.ReturnValue != 0)
            {
                throw new InvalidOperationException($"producer program returned {r.ReturnValue}");
            }

            sent += n;
        }
        return 0;
    }

    /// <summary>Starts a producer process running the program behind <paramref name="programFd"/>.</summary>
    public static Process Start(int programFd, int payload, long rate, long wakeupBytes, WakeupPolicy policy, int cpu)
    {
        var inherited = Sys.Dup(programFd);
        try
        {
            var host = Environment.ProcessPath ?? throw new InvalidOperationException("cannot tell this process's executable");
            var psi = new ProcessStartInfo(host) { RedirectStandardInput = true, UseShellExecute = false };
            if (Path.GetFileNameWithoutExtension(host) == "dotnet")
            {
                psi.ArgumentList.Add(typeof(Producer).Assembly.Location);
            }

            foreach (var a in (string[])["produce", "--prog-fd", $"{inherited}", "--payload", $"{payload}", "--rate", $"{rate}", "--wakeup-bytes", $"{wakeupBytes}", "--policy", $"{(int)policy}", "--cpu", $"{cpu}"])
            {
                psi.ArgumentList.Add(a);
            }

            return Process.Start(psi) ?? throw new InvalidOperationException("cannot start the producer process");
        }
        finally
        {
            Sys.Close(inherited); // the child has its own copy now
        }
    }
}
