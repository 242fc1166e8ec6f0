using System.Runtime.InteropServices;
using TlsScope.Bpf.Native;

namespace TlsScope.Bpf;

/// <summary>What one BPF_PROG_TEST_RUN returned: the program's return value and, for program
/// types that time themselves (not raw_tp), the mean duration of one repetition.</summary>
public readonly record struct BpfRunResult(uint ReturnValue, uint DurationNs);

/// <summary>
/// Runs a loaded program in the kernel on demand (BPF_PROG_TEST_RUN via libbpf's
/// bpf_prog_test_run_opts), with no event attached. Used by benchmarks to drive a program that
/// produces ring-buffer records. The program runs on the calling thread's CPU.
/// </summary>
public static unsafe class BpfProgramRun
{
    /// <summary>Runs <paramref name="program"/> of a loaded object once with
    /// <paramref name="context"/> as its ctx (raw_tp: the u64 args). <paramref name="repeat"/> is
    /// passed through; raw_tp and syscall programs accept only 0.</summary>
    public static BpfRunResult Run(BpfObject obj, string program, ReadOnlySpan<byte> context = default, int repeat = 0) =>
        Run(ProgramFd(obj, program), context, repeat);

    /// <summary>The fd of a loaded program, e.g. to hand to another process (dup it first:
    /// libbpf opens it close-on-exec). It stays owned by <paramref name="obj"/>.</summary>
    public static int ProgramFd(BpfObject obj, string program)
    {
        if (!obj.Loaded)
        {
            throw new InvalidOperationException($"{obj.Name} is not loaded");
        }

        var fd = LibBpf.ProgramFd(obj.Program(program));
        return fd >= 0 ? fd : throw new BpfException($"{obj.Name}: program {program} is not loaded");
    }

    /// <summary>Runs the program behind <paramref name="programFd"/> once (see the overload above).</summary>
    public static BpfRunResult Run(int programFd, ReadOnlySpan<byte> context = default, int repeat = 0)
    {
        fixed (byte* ctx = context)
        {
            var opts = new LibBpfTestRun.TestRunOpts
            {
                Size = (nuint)sizeof(LibBpfTestRun.TestRunOpts),
                CtxIn = context.IsEmpty ? null : ctx,
                CtxSizeIn = (uint)context.Length,
                Repeat = repeat,
            };
            var rc = LibBpfTestRun.ProgTestRunOpts(programFd, &opts);
            if (rc < 0)
            {
                throw BpfException.FromErrno($"test run of bpf program fd {programFd}", rc);
            }

            return new BpfRunResult(opts.RetVal, opts.Duration);
        }
    }
}

/// <summary>libbpf's bpf_prog_test_run_opts, kept apart from the main import table.</summary>
internal static unsafe partial class LibBpfTestRun
{
    [LibraryImport("libbpf.so.1", EntryPoint = "bpf_prog_test_run_opts", SetLastError = true)]
    internal static partial int ProgTestRunOpts(int progFd, TestRunOpts* opts);

    /// <summary>struct bpf_test_run_opts as of libbpf 1.1 (sz = 80).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct TestRunOpts
    {
        public nuint Size;
        public void* DataIn;
        public void* DataOut;
        public uint DataSizeIn;
        public uint DataSizeOut;
        public void* CtxIn;
        public void* CtxOut;
        public uint CtxSizeIn;
        public uint CtxSizeOut;
        public uint RetVal;
        public int Repeat;
        public uint Duration;
        public uint Flags;
        public uint Cpu;
        public uint BatchSize;
    }
}
