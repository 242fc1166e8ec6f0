using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace TlsScope.Outputs.Files;

/// <summary>The few file system calls .NET does not expose with the flags a root tool needs
/// (openat with O_NOFOLLOW|O_EXCL relative to a held directory, fstat's owner and links,
/// fstatfs, fchown, unlinkat). x86_64 Linux layouts.</summary>
internal static unsafe partial class Posix
{
    public const int ORdOnly = 0, OWrOnly = 1, OCreat = 0x40, OExcl = 0x80, ONoCtty = 0x100,
        ONonBlock = 0x800, ODirectory = 0x10000, ONoFollow = 0x20000, OCloExec = 0x80000, OPath = 0x200000;

    public const int AtSymlinkNoFollow = 0x100;
    public const int FGetFl = 3, FSetFl = 4, FDupFdCloExec = 1030;

    public const int ENOENT = 2, EINTR = 4, ENXIO = 6, EBADF = 9, EEXIST = 17, ENOTDIR = 20, EISDIR = 21, ELOOP = 40;

    private const string Lib = "libc";

    /// <summary>openat(2); the handle is invalid on failure (errno in <paramref name="errno"/>).</summary>
    public static SafeFileHandle OpenAt(SafeFileHandle? directory, string path, int flags, uint mode, out int errno)
    {
        while (true)
        {
            int fd = directory is null ? SysOpenAt(AtFdCwd, path, flags, mode) : SysOpenAt(directory, path, flags, mode);
            errno = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
            if (fd >= 0 || errno != EINTR)
            {
                return new SafeFileHandle(fd, ownsHandle: fd >= 0);
            }
        }
    }

    public static FileStatus? Status(SafeFileHandle handle)
    {
        byte* st = stackalloc byte[256]; // struct stat is 144 bytes on x86_64
        return SysFstat(handle, st) == 0 ? FileStatus.Read(st) : null;
    }

    /// <summary>fstatat without following a last symlink; null when the entry is gone.</summary>
    public static FileStatus? StatEntry(SafeFileHandle directory, string name)
    {
        byte* st = stackalloc byte[256];
        return SysFstatAt(directory, name, st, AtSymlinkNoFollow) == 0 ? FileStatus.Read(st) : null;
    }

    /// <summary>The file system's magic number (statfs f_type), or null.</summary>
    public static long? FileSystemType(SafeFileHandle handle)
    {
        byte* buf = stackalloc byte[256]; // struct statfs is 120 bytes; f_type comes first
        return SysFstatfs(handle, buf) == 0 ? *(long*)buf : null;
    }

    public static int LastError => Marshal.GetLastPInvokeError();

    /// <summary>readlinkat(2); null when it fails.</summary>
    public static string? ReadLink(SafeFileHandle directory, string name)
    {
        byte* buf = stackalloc byte[4096];
        nint n = SysReadLinkAt(directory, name, buf, 4096);
        return n < 0 || n >= 4096 ? null : System.Text.Encoding.UTF8.GetString(buf, (int)n);
    }

    /// <summary>A duplicate of an inherited descriptor (close-on-exec), or an invalid handle.</summary>
    public static SafeFileHandle Duplicate(int fd)
    {
        using var borrowed = new SafeFileHandle(fd, ownsHandle: false);
        int copy = Fcntl(borrowed, FDupFdCloExec, 3);
        return new SafeFileHandle(copy, ownsHandle: copy >= 0);
    }

    [LibraryImport(Lib, EntryPoint = "readlinkat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial nint SysReadLinkAt(SafeFileHandle directory, string name, byte* buf, nint size);

    [LibraryImport(Lib, EntryPoint = "renameat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int RenameAt(SafeFileHandle fromDirectory, string from, SafeFileHandle toDirectory, string to);

    private const int AtFdCwd = -100;

    [LibraryImport(Lib, EntryPoint = "openat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int SysOpenAt(SafeFileHandle directory, string path, int flags, uint mode);

    [LibraryImport(Lib, EntryPoint = "openat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int SysOpenAt(int directory, string path, int flags, uint mode);

    [LibraryImport(Lib, EntryPoint = "fstat", SetLastError = true)]
    private static partial int SysFstat(SafeFileHandle fd, byte* buf);

    [LibraryImport(Lib, EntryPoint = "fstatat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int SysFstatAt(SafeFileHandle directory, string name, byte* buf, int flags);

    [LibraryImport(Lib, EntryPoint = "fstatfs", SetLastError = true)]
    private static partial int SysFstatfs(SafeFileHandle fd, byte* buf);

    [LibraryImport(Lib, EntryPoint = "fchown", SetLastError = true)]
    public static partial int FChown(SafeFileHandle fd, uint owner, uint group);

    [LibraryImport(Lib, EntryPoint = "fchmod", SetLastError = true)]
    public static partial int FChmod(SafeFileHandle fd, uint mode);

    [LibraryImport(Lib, EntryPoint = "ftruncate", SetLastError = true)]
    public static partial int FTruncate(SafeFileHandle fd, long length);

    [LibraryImport(Lib, EntryPoint = "unlinkat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int UnlinkAt(SafeFileHandle directory, string name, int flags);

    [LibraryImport(Lib, EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(SafeFileHandle fd, int command, int argument);

    [LibraryImport(Lib, EntryPoint = "geteuid")]
    public static partial uint GetEuid();

    [LibraryImport(Lib, EntryPoint = "getegid")]
    public static partial uint GetEgid();
}
