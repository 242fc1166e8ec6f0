namespace TlsScope.Outputs.Files;

/// <summary>What fstat says of an open file: enough to tell it apart (device, inode), what it is,
/// who owns it and how many names it has.</summary>
public readonly record struct FileStatus(ulong Device, ulong Inode, uint Mode, ulong Links, uint Owner, uint Group, ulong SpecialDevice)
{
    private const uint TypeMask = 0xF000, Regular = 0x8000, Directory = 0x4000, CharDevice = 0x2000, Fifo = 0x1000, Symlink = 0xA000;

    public bool IsRegular => (Mode & TypeMask) == Regular;

    public bool IsDirectory => (Mode & TypeMask) == Directory;

    public bool IsCharDevice => (Mode & TypeMask) == CharDevice;

    public bool IsFifo => (Mode & TypeMask) == Fifo;

    public bool IsSymlink => (Mode & TypeMask) == Symlink;

    /// <summary>The permission bits, setuid/setgid/sticky included.</summary>
    public uint Permissions => Mode & 0xFFF;

    public bool IsSticky => (Mode & 0x200) != 0;

    public bool SameFile(FileStatus other) => Device == other.Device && Inode == other.Inode;

    /// <summary>A character device's major number (st_rdev).</summary>
    public uint DeviceMajor => (uint)(((SpecialDevice >> 8) & 0xfff) | ((SpecialDevice >> 32) & 0xfffff000));

    /// <summary>A character device's minor number (st_rdev).</summary>
    public uint DeviceMinor => (uint)((SpecialDevice & 0xff) | ((SpecialDevice >> 12) & 0xffffff00));

    /// <summary>The file type in words, for refusals.</summary>
    public string TypeName => (Mode & TypeMask) switch
    {
        Regular => "a regular file",
        Directory => "a directory",
        CharDevice => "a character device",
        Fifo => "a FIFO",
        Symlink => "a symbolic link",
        0x6000 => "a block device",
        0xC000 => "a socket",
        _ => "a special file",
    };

    // x86_64 struct stat: st_dev 0, st_ino 8, st_nlink 16, st_mode 24, st_uid 28, st_gid 32, st_rdev 40.
    internal static unsafe FileStatus Read(byte* st) =>
        new(*(ulong*)st, *(ulong*)(st + 8), *(uint*)(st + 24), *(ulong*)(st + 16), *(uint*)(st + 28), *(uint*)(st + 32), *(ulong*)(st + 40));
}
