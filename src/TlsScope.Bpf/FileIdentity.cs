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
        {
            return null;
        }

        var dev = *(ulong*)st;       // st_dev at offset 0
        var ino = *(ulong*)(st + 8); // st_ino at offset 8
        var major = (uint)(((dev >> 8) & 0xfff) | ((dev >> 32) & 0xfffff000));
        var minor = (uint)((dev & 0xff) | ((dev >> 12) & 0xffffff00));
        return new FileIdentity(major, minor, ino);
    }

    /// <summary>The user this process acts as (what a file it creates is owned by).</summary>
    public static uint EffectiveUid => Libc.GetEuid();

    /// <summary>The file's owner (st_uid, after symlinks), or null when it cannot be read.</summary>
    public static unsafe uint? OwnerOf(string path)
    {
        var st = stackalloc byte[256];
        if (Libc.Stat(path, st) != 0)
        {
            return null;
        }

        return *(uint*)(st + 28); // x86_64: st_dev 8, st_ino 8, st_nlink 8, st_mode 4, then st_uid
    }
}
