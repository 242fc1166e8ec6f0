using TlsScope.Bpf.Native;

namespace TlsScope.Bpf;

/// <summary>A failure of a BPF operation, with a one-line message meant for the user.</summary>
public sealed class BpfException(string message, int errno = 0) : Exception(message)
{
    public int Errno { get; } = errno;

    internal static BpfException FromErrno(string what, int errno, string? hint = null)
    {
        errno = Math.Abs(errno);
        var text = errno == 0 ? "failed" : Libc.ErrorText(errno);
        return new BpfException(hint is null ? $"{what}: {text}" : $"{what}: {text}; {hint}", errno);
    }
}
