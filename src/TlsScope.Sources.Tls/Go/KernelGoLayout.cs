using System.Runtime.InteropServices;

namespace TlsScope.Sources.Tls.Go;

/// <summary>enum tscope_go_abi: how a Go build passes arguments and finds its goroutine.</summary>
public enum GoAbi : uint
{
    None = 0,

    /// <summary>Go 1.17 and later on amd64: arguments and results in registers, g in R14.</summary>
    Registers = 1,

    /// <summary>Older Go: arguments and results on the stack, g in thread-local storage.</summary>
    Stack = 2,
}

/// <summary>struct tscope_go_layout: one Go binary's facts, in the go_layouts map at the
/// library's index. A test pins it to bpf/include/events.h.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KernelGoLayout
{
    public GoAbi Abi;
    public uint GoidOffset;
    public uint ConnOffset;
    public uint ItabHashOffset;
    public uint TcpConnHash;
    public uint NetFdOffset;
    public uint SysfdOffset;
    public uint StackLoOffset;
}
