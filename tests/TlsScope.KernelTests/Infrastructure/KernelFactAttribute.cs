using System.Runtime.InteropServices;

namespace TlsScope.KernelTests.Infrastructure;

/// <summary>A test that needs root: real BPF programs in the real kernel. Reported as skipped,
/// with the reason, when not root (CI runs as root).</summary>
public sealed partial class KernelFactAttribute : FactAttribute
{
    public KernelFactAttribute()
    {
        if (GetEuid() != 0)
        {
            Skip = "needs root: loads BPF programs into the kernel";
        }
    }

    [LibraryImport("libc", EntryPoint = "geteuid")]
    internal static partial uint GetEuid();
}
