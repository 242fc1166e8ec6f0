using System.Runtime.InteropServices;
using TlsScope.Bpf;
using TlsScope.Bpf.Elf;

namespace TlsScope.Bench;

/// <summary>
/// The pure trap cost: a uprobe and a uretprobe that do nothing on each SSL read/write entry
/// point of one libssl, in every process. Whatever a load loses with these attached is the
/// floor for any uprobe tracer; TlsScope's own overhead is what it loses beyond that.
/// </summary>
internal static class NoopProbes
{
    private static readonly string[] Symbols = ["SSL_read", "SSL_write", "SSL_read_ex", "SSL_write_ex"];

    /// <summary>The syscalls whose entry TlsScope traces (ProbeTable.FdSyscalls).</summary>
    private static readonly string[] Syscalls = ["read", "write", "readv", "writev", "recvfrom", "sendto", "recvmsg", "sendmsg"];

    public static int Run(Options options)
    {
        var lib = options.String("lib") ?? throw new ArgumentException("noop-probes needs --lib PATH (the libssl to probe)");
        var pid = (int)options.Long("pid", -1);
        var elf = ElfSymbols.Open(lib);

        using var obj = BpfObject.Open(BenchObjects.Read("noop.bpf.o"), "noop.bpf.o");
        obj.Load();
        var links = new List<BpfLink>();
        try
        {
            foreach (var symbol in Symbols)
            {
                if (!elf.TryGetFunction(symbol, out var fn))
                {
                    Console.Error.WriteLine($"bench: {lib} has no {symbol}; skipped");
                    continue;
                }
                links.Add(BpfLink.AttachUprobe(obj, "noop_enter", lib, fn.FileOffset, isReturn: false, pid));
                links.Add(BpfLink.AttachUprobe(obj, "noop_return", lib, fn.FileOffset, isReturn: true, pid));
            }
            if (links.Count == 0)
            {
                throw new ArgumentException($"{lib}: none of {string.Join(", ", Symbols)} found");
            }

            var tracepoints = options.Long("tracepoints", 0) != 0;
            if (tracepoints)
            {
                Tracefs.EnsureMounted();
                foreach (var syscall in Syscalls)
                {
                    links.Add(BpfLink.AttachTracepoint(obj, "noop_syscall", "syscalls", "sys_enter_" + syscall));
                }
            }

            using var stop = new ManualResetEventSlim();
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Set(); });
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Set(); });
            Console.Error.WriteLine($"bench: ready: {links.Count} do-nothing probes on {lib}{(pid > 0 ? $" (pid {pid})" : "")}{(tracepoints ? $" and {Syscalls.Length} syscall tracepoints" : "")}");
            stop.Wait();
            Console.Error.WriteLine("bench: detaching");
            return 0;
        }
        finally
        {
            foreach (var l in links)
            {
                l.Dispose();
            }
        }
    }
}

/// <summary>The benchmark's BPF objects, embedded at build time (see the .csproj).</summary>
internal static class BenchObjects
{
    public static byte[] Read(string name)
    {
        using var s = typeof(BenchObjects).Assembly.GetManifestResourceStream("bench/" + name)
            ?? throw new InvalidOperationException($"bpf object {name} is not embedded in this build");
        var bytes = new byte[s.Length];
        s.ReadExactly(bytes);
        return bytes;
    }
}
