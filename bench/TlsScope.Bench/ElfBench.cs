using System.Diagnostics;
using TlsScope.Bpf.Elf;

namespace TlsScope.Bench;

/// <summary>What examining one executable costs at its exec: reading its symbol tables
/// (<see cref="ElfSymbols.Open"/>), the first time in the process (code not yet compiled) and then
/// warm. A fresh copy of node is the case the hold's cap (HeldPrograms.MaxHold) must cover.</summary>
internal static class ElfBench
{
    public static int Run(Options options)
    {
        var path = options.String("path") ?? "/usr/bin/node";
        var repeats = options.Long("repeats", 10);
        for (var i = 0; i < repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            var symbols = ElfSymbols.Open(path);
            var open = clock.Elapsed.TotalMilliseconds;
            var found = symbols.TryGetFunction("SSL_write", out _);
            var lookup = clock.Elapsed.TotalMilliseconds - open;
            Console.WriteLine($"elf: {path}: read in {open:0.0} ms{(i == 0 ? " (first)" : "")}, one lookup {lookup * 1000:0} µs ({(found ? "found" : "not found")}), {symbols.FunctionCount} functions");
        }
        return 0;
    }
}
