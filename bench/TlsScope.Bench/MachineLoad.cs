using System.Globalization;

namespace TlsScope.Bench;

/// <summary>
/// Whole-machine CPU use from /proc/stat. This VM is shared (builds and test runs of other
/// sessions come and go), so every measurement window records how much CPU processes other
/// than the benchmark's used, and a scenario starts only once the machine has been quiet.
/// </summary>
internal static class MachineLoad
{
    private static readonly long NsPerTick = 1_000_000_000 / 100; // USER_HZ is 100 on Linux

    /// <summary>Busy CPU time of all CPUs so far (everything but idle and iowait), in ns.</summary>
    public static long BusyNs()
    {
        using var r = new StreamReader("/proc/stat");
        var line = r.ReadLine() ?? "";
        var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // cpu user nice system idle iowait irq softirq steal guest guest_nice
        long busy = 0;
        for (var i = 1; i < f.Length && i <= 8; i++)
        {
            if (i is not 4 and not 5)
            {
                busy += long.Parse(f[i], CultureInfo.InvariantCulture);
            }
        }

        return busy * NsPerTick;
    }

    /// <summary>Waits (at most <paramref name="maxSeconds"/>) until the machine has used less than
    /// <paramref name="maxCpus"/> CPUs' worth for one whole second. Returns the last load seen.</summary>
    public static double WaitForQuiet(double maxCpus = 0.10, int maxSeconds = 300)
    {
        var load = 0.0;
        for (var i = 0; i < maxSeconds; i++)
        {
            var before = BusyNs();
            Thread.Sleep(1000);
            load = (BusyNs() - before) / 1e9;
            if (load < maxCpus)
            {
                return load;
            }

            if (i == 0)
            {
                Console.WriteLine($"  (machine busy: {load:0.00} CPUs in use by other processes; waiting up to {maxSeconds} s for quiet)");
            }
        }
        Console.WriteLine($"  (still busy after {maxSeconds} s: {load:0.00} CPUs; measuring anyway, see 'other load')");
        return load;
    }
}
