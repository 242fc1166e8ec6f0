using TlsScope.Bpf.Native;

namespace TlsScope.Bpf;

/// <summary>What the kernel and our privileges must offer before anything is loaded; each
/// problem is one line that says exactly what is missing.</summary>
public static class KernelSupport
{
    private const int CapSysAdmin = 21, CapPerfmon = 38, CapBpf = 39;

    public static IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (!HasPrivileges())
        {
            problems.Add("tlsscope needs root (or CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN): run it with sudo");
            return problems; // the probes below would fail for lack of privilege, not of support
        }
        if (!File.Exists("/sys/kernel/btf/vmlinux"))
        {
            problems.Add("kernel BTF is missing (/sys/kernel/btf/vmlinux): a kernel built with CONFIG_DEBUG_INFO_BTF=y is needed");
        }

        if (LibBpf.ProbeMapType(LibBpf.BPF_MAP_TYPE_RINGBUF, 0) != 1)
        {
            problems.Add($"kernel {Environment.OSVersion.Version} has no BPF ring buffer (needs Linux 5.8 or later)");
        }
        else if (LibBpf.ProbeHelper(LibBpf.BPF_PROG_TYPE_KPROBE, LibBpf.BPF_FUNC_loop, 0) != 1)
        {
            problems.Add($"kernel {Environment.OSVersion.Version} lacks the bpf_loop helper (needs Linux 5.17 or later)");
        }

        return problems;
    }

    public static bool HasPrivileges()
    {
        if (Libc.GetEuid() == 0)
        {
            return true;
        }

        var caps = EffectiveCapabilities();
        return Has(caps, CapBpf) && Has(caps, CapPerfmon) && Has(caps, CapSysAdmin);

        static bool Has(ulong caps, int cap) => (caps >> cap & 1) == 1;
    }

    private static ulong EffectiveCapabilities()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("CapEff:", StringComparison.Ordinal))
            {
                return Convert.ToUInt64(line[7..].Trim(), 16);
            }
        }

        return 0;
    }

    public static int PossibleCpus() => LibBpf.NumPossibleCpus();
}
