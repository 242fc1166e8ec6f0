using Microsoft.Win32.SafeHandles;

namespace TlsScope.Output.Files;

/// <summary>
/// One output file of a root tool that writes plaintext and keys, opened by rules an attacker
/// sharing the machine cannot bend (README, "Output files"):
/// <list type="bullet">
/// <item>the last component is never followed when it is a symbolic link (O_NOFOLLOW), and the
/// file is opened relative to its directory, held open, so the checks and the open see the same
/// directory;</item>
/// <item>a new file is created with O_CREAT|O_EXCL, mode 0600, and given to the invoking user
/// under sudo; an existing file is written only when it is a regular file with one link, owned by
/// root or the invoking user (character devices and FIFOs of theirs are written, never truncated);</item>
/// <item>a directory others can write is refused unless it is sticky and the file is new;</item>
/// <item>kernel pseudo file systems (/proc, /sys, cgroup, bpf, tracefs, ...) are refused.</item>
/// </list>
/// An existing file is not truncated when opened, only by <see cref="Commit"/>, when the capture
/// really starts; <see cref="Abandon"/> removes a file this run created and leaves others as they were.
/// </summary>
public sealed class OutputFile : IDisposable
{
    /// <summary>Buffer size of the streams handed to sinks.</summary>
    public const int BufferSize = 64 * 1024;

    private const uint OwnerReadWrite = 0x180; // 0600
    private const int Attempts = 3; // an entry that changes between the look and the open is looked at again

    // statfs f_type of file systems whose files are kernel interfaces, not storage.
    private static readonly Dictionary<long, string> PseudoFileSystems = new()
    {
        [0x9fa0] = "procfs",
        [0x62656572] = "sysfs",
        [0x63677270] = "cgroup2",
        [0x27e0eb] = "cgroup",
        [0x64626720] = "debugfs",
        [0x74726163] = "tracefs",
        [unchecked((int)0xcafe4a11)] = "bpffs",
        [0x73636673] = "securityfs",
        [0x62656570] = "configfs",
        [unchecked((int)0xde5e81e4)] = "efivarfs",
        [0x6165676c] = "pstore",
    };

    private readonly SafeFileHandle _directory;
    private readonly string _name;
    private bool _committed;
    private bool _streamOwnsHandle;

    private OutputFile(string? option, string label, string path, SafeFileHandle handle, FileStatus status, bool created, SafeFileHandle directory, string name)
    {
        Option = option;
        Label = label;
        Path = path;
        Handle = handle;
        Status = status;
        Created = created;
        _directory = directory;
        _name = name;
    }

    /// <summary>The option that named the file ("--json"), or null.</summary>
    public string? Option { get; }

    /// <summary>The option and path, as messages name the output: "--json /tmp/x.json".</summary>
    public string Label { get; }

    public string Path { get; }

    /// <summary>The open file (write only). Streams from <see cref="OpenStream"/> share it.</summary>
    public SafeFileHandle Handle { get; }

    /// <summary>The opened file's identity and kind, as fstat gave it.</summary>
    public FileStatus Status { get; }

    /// <summary>This run created the file (it did not exist).</summary>
    public bool Created { get; }

    /// <summary>Opens <paramref name="path"/> by the rules above, without truncating anything.</summary>
    /// <param name="option">The option that named it ("--json"), for messages; null names the path alone.</param>
    /// <param name="regularOnly">The output rewrites the file in place (HAR): FIFOs and devices are refused.</param>
    /// <exception cref="OutputException">A one-line refusal: "--json /tmp/x.json: is a symbolic link; ...".</exception>
    public static OutputFile Open(string? option, string path, bool regularOnly = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        string label = option is null ? path : $"{option} {path}";
        if (path.Length == 0)
        {
            throw new OutputException($"{(option is null ? "''" : option + " ''")}: empty path");
        }

        if (path.EndsWith('/') || System.IO.Path.GetFileName(path) is "." or "..")
        {
            throw Refuse(label, "is a directory");
        }

        string name = System.IO.Path.GetFileName(path);
        string directoryPath = System.IO.Path.GetDirectoryName(path) is { Length: > 0 } d ? d : ".";
        SafeFileHandle directory = Posix.OpenAt(null, directoryPath, Posix.ORdOnly | Posix.ODirectory | Posix.OCloExec, 0, out int errno);
        if (directory.IsInvalid)
        {
            throw Refuse(label, errno switch
            {
                Posix.ENOENT => "directory not found",
                Posix.ENOTDIR => "a component of the directory is not a directory",
                _ => OutputException.DescribeErrno(errno),
            });
        }

        try
        {
            CheckFileSystem(label, directory);
            FileStatus dir = Posix.Status(directory) ?? throw Refuse(label, "cannot read its directory");
            for (int attempt = 0; ; attempt++)
            {
                if (TryOpen(option, label, path, directory, name, dir, regularOnly) is { } file)
                {
                    return file;
                }

                if (attempt == Attempts)
                {
                    throw Refuse(label, "the file keeps changing while it is opened; is someone replacing it?");
                }
            }
        }
        catch
        {
            directory.Dispose();
            throw;
        }
    }

    /// <summary>One look and one open; null when the entry changed in between (look again).</summary>
    private static OutputFile? TryOpen(string? option, string label, string path, SafeFileHandle directory, string name, FileStatus dir, bool regularOnly)
    {
        string? othersWrite = WhoElseCanWrite(dir);
        FileStatus? entry = Posix.StatEntry(directory, name);
        if (entry is null)
        {
            if (othersWrite is not null && !dir.IsSticky)
            {
                throw Refuse(label, $"its directory is writable by {othersWrite} and not sticky: the file could be swapped; choose a directory only root or you can write");
            }

            SafeFileHandle created = Posix.OpenAt(directory, name,
                Posix.OWrOnly | Posix.OCreat | Posix.OExcl | Posix.ONoFollow | Posix.ONoCtty | Posix.OCloExec, OwnerReadWrite, out int errno);
            if (created.IsInvalid)
            {
                return errno == Posix.EEXIST ? null : throw Refuse(label, OutputException.DescribeErrno(errno));
            }

            FileStatus status = Posix.Status(created) ?? throw Refuse(label, "cannot read the created file's status");
            InvokingUser user = InvokingUser.Current;
            if (user.IsDelegated && Posix.FChown(created, user.Uid, user.Gid) == 0)
            {
                status = status with { Owner = user.Uid, Group = user.Gid };
            }

            return new OutputFile(option, label, path, created, status, created: true, directory, name);
        }

        CheckExisting(label, entry.Value, regularOnly);
        if (othersWrite is not null && entry.Value.IsRegular)
        {
            throw Refuse(label, "exists in a directory others can write: remove it first, or choose a new name");
        }

        // O_NONBLOCK: opening a FIFO with no reader must fail, not hang; it is cleared below.
        SafeFileHandle handle = Posix.OpenAt(directory, name,
            Posix.OWrOnly | Posix.ONoFollow | Posix.ONonBlock | Posix.ONoCtty | Posix.OCloExec, 0, out int openErrno);
        if (handle.IsInvalid)
        {
            return openErrno switch
            {
                Posix.ENOENT => null,
                Posix.ELOOP => throw Refuse(label, "is a symbolic link; refusing to follow it (give the path it points to)"),
                Posix.ENXIO => throw Refuse(label, "is a FIFO with no reader: start the reader first"),
                _ => throw Refuse(label, OutputException.DescribeErrno(openErrno)),
            };
        }

        try
        {
            FileStatus opened = Posix.Status(handle) ?? throw Refuse(label, "cannot read its status");
            if (!opened.SameFile(entry.Value))
            {
                handle.Dispose();
                return null;
            }

            CheckExisting(label, opened, regularOnly); // what was opened is what counts
            int flags = Posix.Fcntl(handle, Posix.FGetFl, 0);
            if (flags >= 0)
            {
                Posix.Fcntl(handle, Posix.FSetFl, flags & ~Posix.ONonBlock);
            }

            return new OutputFile(option, label, path, handle, opened, created: false, directory, name);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static void CheckExisting(string label, FileStatus file, bool regularOnly)
    {
        if (file.IsSymlink)
        {
            throw Refuse(label, "is a symbolic link; refusing to follow it (give the path it points to)");
        }

        if (file.IsDirectory)
        {
            throw Refuse(label, "is a directory");
        }

        if (!(file.IsRegular || file.IsCharDevice || file.IsFifo))
        {
            throw Refuse(label, $"is {file.TypeName}, not a file to write");
        }

        if (regularOnly && !file.IsRegular)
        {
            throw Refuse(label, $"is {file.TypeName}: this output is rewritten in place and needs a regular file");
        }

        if (!InvokingUser.Current.Trusts(file.Owner))
        {
            throw Refuse(label, $"exists and is owned by uid {file.Owner}, not by root or you: refusing to write into it; remove it or choose another name");
        }

        if (file.IsRegular && file.Links != 1)
        {
            throw Refuse(label, $"has {file.Links} hard links: refusing to write into it; remove it or choose another name");
        }
    }

    /// <summary>Who, other than root and the invoking user, can add, remove or rename entries; null for nobody.</summary>
    private static string? WhoElseCanWrite(FileStatus dir)
    {
        string mode = Convert.ToString(dir.Permissions, 8).PadLeft(4, '0');
        if ((dir.Permissions & 0x2) != 0)
        {
            return $"everyone (mode {mode})";
        }

        if ((dir.Permissions & 0x10) != 0 && dir.Group != 0 && dir.Group != InvokingUser.Current.Gid)
        {
            return $"group {dir.Group} (mode {mode})";
        }

        return InvokingUser.Current.Trusts(dir.Owner) ? null : $"its owner, uid {dir.Owner}";
    }

    private static void CheckFileSystem(string label, SafeFileHandle directory)
    {
        if (Posix.FileSystemType(directory) is { } type && PseudoFileSystems.TryGetValue(type, out string? fs))
        {
            throw Refuse(label, $"is on {fs}, a kernel interface, not storage: refusing to write there");
        }
    }

    private static OutputException Refuse(string label, string reason) => new($"{label}: {reason}");

    /// <summary>The capture starts writing: an existing regular file is emptied and narrowed to
    /// 0600 now, through the open file (never by path). Idempotent.</summary>
    /// <exception cref="OutputException">The file cannot be truncated.</exception>
    public void Commit()
    {
        if (_committed)
        {
            return;
        }

        _committed = true;
        if (Created || !Status.IsRegular)
        {
            return;
        }

        if (Posix.FTruncate(Handle, 0) != 0)
        {
            throw Refuse(Label, OutputException.DescribeErrno(Posix.LastError));
        }

        if ((Status.Permissions & 0xFFF & ~OwnerReadWrite) != 0)
        {
            Posix.FChmod(Handle, OwnerReadWrite);
        }
    }

    /// <summary>A buffered stream over the file; it owns the handle from then on.</summary>
    public FileStream OpenStream()
    {
        var stream = new FileStream(Handle, FileAccess.Write, BufferSize);
        _streamOwnsHandle = true;
        return stream;
    }

    /// <summary>Removes the file if this run created it and nothing was written yet (the entry
    /// must still be the very file created), then closes it. An existing file is left untouched.</summary>
    public void Abandon()
    {
        if (Created && !_committed && !_directory.IsClosed
            && Posix.StatEntry(_directory, _name) is { } entry && entry.SameFile(Status))
        {
            Posix.UnlinkAt(_directory, _name, 0);
        }

        Dispose();
    }

    public void Dispose()
    {
        _directory.Dispose();
        if (!_streamOwnsHandle)
        {
            Handle.Dispose();
        }
    }
}
