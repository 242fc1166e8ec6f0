using Microsoft.Win32.SafeHandles;

namespace TlsScope.Outputs.Files;

/// <summary>File descriptor 1, as the same-file check sees it.</summary>
internal static class StandardOutput
{
    public static FileStatus? Status()
    {
        using var fd = new SafeFileHandle(1, ownsHandle: false);
        return Posix.Status(fd);
    }
}
