namespace TlsScope.KernelTests.Infrastructure;

/// <summary>A <see cref="KernelFactAttribute"/> with data rows.</summary>
public sealed class KernelTheoryAttribute : TheoryAttribute
{
    public KernelTheoryAttribute()
    {
        if (KernelFactAttribute.GetEuid() != 0)
        {
            Skip = "needs root: loads BPF programs into the kernel";
        }
    }
}
