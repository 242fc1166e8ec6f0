using TlsScope.Bpf.Native;

namespace TlsScope.Bpf;

/// <summary>A file's device and inode: uprobes attach to inodes, so this is what tells two
/// paths (symlinks, /proc/PID/root views, private copies) apart or together.</summary>
public readonly record struct FileIdentity(uint Major, uint Minor, ulong Inode)
{
    public override string ToString() => $"{Major:x2}:{Minor:x2}:{Inode}";

    public static unsafe FileIdentity? Of(string path)
    {
        var st = stackalloc byte[256]; // struct stat is 144 bytes on x86_64
        if (Libc.Stat(path, st) != 0)
            return null;
        var dev = *(ulong*)st;       // st_dev at offset 0
        var ino = *(ulong*)(st + 8); // st_ino at offset 8
        var major = (uint)(((dev >> 8) & 0xfff) | ((dev >> 32) & 0xfffff000));
        var minor = (uint)((dev & 0xff) | ((dev >> 12) & 0xffffff00));
        return new FileIdentity(major, minor, ino);
    }
}
