using System.Runtime.InteropServices;

namespace TlsScope.Bpf.Native;

internal static unsafe partial class Libc
{
    private const string Lib = "libc";

    [LibraryImport(Lib, EntryPoint = "vsnprintf")]
    internal static partial int VsnPrintf(byte* buf, nuint size, byte* format, nint vaList);

    [LibraryImport(Lib, EntryPoint = "geteuid")]
    internal static partial uint GetEuid();

    [LibraryImport(Lib, EntryPoint = "mount", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Mount(string source, string target, string fsType, nuint flags, nint data);

    [LibraryImport(Lib, EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Stat(string path, byte* buf);

    [LibraryImport(Lib, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Open(string path, int flags);

    [LibraryImport(Lib, EntryPoint = "close")]
    internal static partial int Close(int fd);

    [LibraryImport(Lib, EntryPoint = "strerror")]
    internal static partial byte* StrError(int errnum);

    internal static string ErrorText(int errno) =>
        Marshal.PtrToStringUTF8((nint)StrError(errno))?.ToLowerInvariant() ?? $"errno {errno}";
}
