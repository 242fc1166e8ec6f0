using Microsoft.Win32.SafeHandles;

namespace TlsScope.Outputs.Files;

/// <summary>
/// One output file of a root tool that writes plaintext and keys, opened by rules an attacker
/// sharing the machine cannot bend (README, "Output files"):
/// <list type="bullet">
/// <item>the directory is walked one component at a time and held open, following only links of
/// root's or the invoking user's (<see cref="OutputRules.OpenDirectory"/>); the last component is
/// never followed (O_NOFOLLOW);</item>
/// <item>a new file is created with O_CREAT|O_EXCL, mode 0600, and given to the invoking user
/// under sudo; an existing file is replaced only when it is a regular file with one link, owned by
/// root or the invoking user, and then by a fresh file renamed over it, so nobody who opened the
/// old one reads on; /dev/null, /dev/full, terminals and FIFOs of theirs are written in place;</item>
/// <item>a directory others can write is refused unless it is sticky, owned by root or the
/// invoking user, and the file is new;</item>
/// <item>kernel pseudo file systems (/proc, /sys, cgroup, bpf, tracefs, ...) are refused.</item>
/// </list>
/// Nothing is replaced or emptied when the file is opened, only by <see cref="Commit"/>, when the
/// capture really starts; <see cref="Abandon"/> removes a file this run created and leaves others
/// as they were. "/dev/fd/N" names an inherited descriptor (process substitution), written as is.
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
        [0x9fa0L] = "procfs",
        [0x62656572L] = "sysfs",
        [0x63677270L] = "cgroup2",
        [0x27e0ebL] = "cgroup",
        [0x64626720L] = "debugfs",
        [0x74726163L] = "tracefs",
        [0xcafe4a11L] = "bpffs",
        [0x73636673L] = "securityfs",
        [0x62656570L] = "configfs",
        [0xde5e81e4L] = "efivarfs",
        [0x6165676cL] = "pstore",
    };

    private readonly SafeFileHandle? _directory; // null for an inherited descriptor
    private readonly string _name;
    private readonly OutputRules _rules;
    private bool _committed;
    private bool _streamOwnsHandle;

    private OutputFile(string? option, string label, string path, SafeFileHandle handle, FileStatus status, bool created,
        SafeFileHandle? directory, string name, OutputRules rules)
    {
        Option = option;
        Label = label;
        Path = path;
        Handle = handle;
        Status = status;
        Created = created;
        _directory = directory;
        _name = name;
        _rules = rules;
    }

    /// <summary>The option that named the file ("--json"), or null.</summary>
    public string? Option { get; }

    /// <summary>The option and path, as messages name the output: "--json /tmp/x.json".</summary>
    public string Label { get; }

    public string Path { get; }

    /// <summary>The open file (write only). The stream of <see cref="OpenStream"/> owns it.</summary>
    public SafeFileHandle Handle { get; private set; }

    /// <summary>The open file's identity and kind, as fstat gave it.</summary>
    public FileStatus Status { get; private set; }

    /// <summary>This run created the file (it did not exist).</summary>
    public bool Created { get; }

    /// <summary>Opens <paramref name="path"/> by the rules above, replacing or emptying nothing.</summary>
    /// <param name="option">The option that named it ("--json"), for messages; null names the path alone.</param>
    /// <param name="regularOnly">The output rewrites the file in place (HAR): FIFOs and devices are refused.</param>
    /// <param name="opened">Outputs of the same run opened already: the same file again is refused by name.</param>
    /// <exception cref="OutputException">A one-line refusal: "--json /tmp/x.json: is a symbolic link; ...".</exception>
    public static OutputFile Open(string? option, string path, bool regularOnly = false, IReadOnlyList<OutputFile>? opened = null) =>
        Open(option, path, regularOnly, opened ?? [], OutputRules.Current);

    internal static OutputFile Open(string? option, string path, bool regularOnly, IReadOnlyList<OutputFile> opened, OutputRules rules)
    {
        ArgumentNullException.ThrowIfNull(path);
        string label = option is null ? path : $"{option} {path}";
        if (path.Length == 0)
        {
            throw new OutputException($"{(option is null ? "''" : option + " ''")}: empty path");
        }

        if (InheritedDescriptor(path) is { } fd)
        {
            return OpenInherited(option, label, path, fd, regularOnly, rules);
        }

        if (path.EndsWith('/') || System.IO.Path.GetFileName(path) is "." or "..")
        {
            throw Refuse(label, "is a directory");
        }

        string name = System.IO.Path.GetFileName(path);
        string directoryPath = System.IO.Path.GetDirectoryName(path) is { Length: > 0 } d ? d : path.StartsWith('/') ? "/" : ".";
        SafeFileHandle directory = rules.OpenDirectory(label, directoryPath);
        try
        {
            CheckFileSystem(label, directory);
            FileStatus dir = Posix.Status(directory) ?? throw Refuse(label, "cannot read its directory");
            for (int attempt = 0; ; attempt++)
            {
                if (TryOpen(option, label, path, directory, name, dir, regularOnly, opened, rules) is { } file)
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
    private static OutputFile? TryOpen(string? option, string label, string path, SafeFileHandle directory, string name, FileStatus dir,
        bool regularOnly, IReadOnlyList<OutputFile> opened, OutputRules rules)
    {
        string? othersWrite = rules.WhoElseCanWrite(dir);
        FileStatus? entry = Posix.StatEntry(directory, name);
        if (entry is null)
        {
            if (othersWrite is not null && !(dir.IsSticky && rules.Trusts(dir.Owner)))
            {
                throw Refuse(label, $"its directory is writable by {othersWrite}{(dir.IsSticky ? "" : " and not sticky")}: the file could be swapped; choose a directory only root or you can write");
            }

            SafeFileHandle created = Posix.OpenAt(directory, name, NewFileFlags, OwnerReadWrite, out int errno);
            if (created.IsInvalid)
            {
                return errno == Posix.EEXIST ? null : throw Refuse(label, OutputException.DescribeErrno(errno));
            }

            if (Posix.Status(created) is not { } status)
            {
                Posix.UnlinkAt(directory, name, 0);
                created.Dispose();
                throw Refuse(label, "cannot read the created file's status");
            }

            return new OutputFile(option, label, path, created, GiveToInvoker(created, status, rules), created: true, directory, name, rules);
        }

        if (opened.FirstOrDefault(o => o.Status.SameFile(entry.Value)) is { } earlier)
        {
            throw Refuse(label, $"the same file as {earlier.Label}");
        }

        CheckExisting(label, entry.Value, regularOnly, rules);
        if (othersWrite is not null && entry.Value.IsRegular)
        {
            throw Refuse(label, $"exists in a directory writable by {othersWrite}: remove it first, or choose a new name");
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
            FileStatus openedStatus = Posix.Status(handle) ?? throw Refuse(label, "cannot read its status");
            if (!openedStatus.SameFile(entry.Value))
            {
                handle.Dispose();
                return null;
            }

            CheckExisting(label, openedStatus, regularOnly, rules); // what was opened is what counts
            CheckFileSystem(label, handle); // a file bind-mounted from elsewhere
            ClearNonBlocking(handle);
            return new OutputFile(option, label, path, handle, openedStatus, created: false, directory, name, rules);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private const int NewFileFlags = Posix.OWrOnly | Posix.OCreat | Posix.OExcl | Posix.ONoFollow | Posix.ONoCtty | Posix.OCloExec;

    /// <summary>"/dev/fd/N" and "/proc/self/fd/N": a descriptor the caller passed (N &gt; 2).</summary>
    private static int? InheritedDescriptor(string path)
    {
        foreach (string prefix in (string[])["/dev/fd/", "/proc/self/fd/"])
        {
            if (path.StartsWith(prefix, StringComparison.Ordinal) && int.TryParse(path.AsSpan(prefix.Length), System.Globalization.NumberStyles.None, null, out int fd))
            {
                return fd;
            }
        }

        return null;
    }

    private static OutputFile OpenInherited(string? option, string label, string path, int fd, bool regularOnly, OutputRules rules)
    {
        if (fd <= 2)
        {
            throw Refuse(label, fd == 1 ? "standard output: give - instead" : "standard input and error are not outputs");
        }

        SafeFileHandle handle = Posix.Duplicate(fd);
        if (handle.IsInvalid)
        {
            throw Refuse(label, "not an open file descriptor");
        }

        try
        {
            int flags = Posix.Fcntl(handle, Posix.FGetFl, 0);
            if (flags < 0 || (flags & 3) == Posix.ORdOnly)
            {
                throw Refuse(label, "not open for writing");
            }

            FileStatus status = Posix.Status(handle) ?? throw Refuse(label, "cannot read its status");
            if (regularOnly && !status.IsRegular)
            {
                throw Refuse(label, $"is {status.TypeName}: this output is rewritten in place and needs a regular file");
            }

            return new OutputFile(option, label, path, handle, status, created: false, directory: null, "", rules);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static void CheckExisting(string label, FileStatus file, bool regularOnly, OutputRules rules)
    {
        if (file.IsSymlink)
        {
            throw Refuse(label, "is a symbolic link; refusing to follow it (give the path it points to)");
        }

        if (file.IsDirectory)
        {
            throw Refuse(label, "is a directory");
        }

        if (!(file.IsRegular || file.IsFifo || IsWritableDevice(file)))
        {
            throw Refuse(label, file.IsCharDevice
                ? $"is a character device ({file.DeviceMajor}:{file.DeviceMinor}) other than /dev/null, /dev/full or a terminal"
                : $"is {file.TypeName}, not a file to write");
        }

        if (regularOnly && !file.IsRegular)
        {
            throw Refuse(label, $"is {file.TypeName}: this output is rewritten in place and needs a regular file");
        }

        if (!rules.Trusts(file.Owner))
        {
            throw Refuse(label, $"exists and is owned by uid {file.Owner}, not by root or you: refusing to write into it; remove it or choose another name");
        }

        if (file.IsRegular && file.Links != 1)
        {
            throw Refuse(label, $"has {file.Links} hard links: refusing to write into it; remove it or choose another name");
        }
    }

    /// <summary>/dev/null (1:3), /dev/full (1:7) and terminals (4:*, /dev/tty 5:0, ptys 136-143:*).</summary>
    private static bool IsWritableDevice(FileStatus file) =>
        file.IsCharDevice && (file.DeviceMajor, file.DeviceMinor) switch
        {
            (1, 3) or (1, 7) or (4, _) or (5, 0) => true,
            (>= 136 and <= 143, _) => true,
            _ => false,
        };

    private static void CheckFileSystem(string label, SafeFileHandle file)
    {
        if (Posix.FileSystemType(file) is { } type && PseudoFileSystems.TryGetValue(type, out string? fs))
        {
            throw Refuse(label, $"is on {fs}, a kernel interface, not storage: refusing to write there");
        }
    }

    private static void ClearNonBlocking(SafeFileHandle handle)
    {
        int flags = Posix.Fcntl(handle, Posix.FGetFl, 0);
        if (flags >= 0)
        {
            Posix.Fcntl(handle, Posix.FSetFl, flags & ~Posix.ONonBlock);
        }
    }

    private static FileStatus GiveToInvoker(SafeFileHandle file, FileStatus status, OutputRules rules)
    {
        InvokingUser user = rules.User;
        return user.IsDelegated && Posix.FChown(file, user.Uid, user.Gid) == 0 ? status with { Owner = user.Uid, Group = user.Gid } : status;
    }

    private static OutputException Refuse(string label, string reason) => new($"{label}: {reason}");

    /// <summary>The capture starts writing. An existing regular file is replaced now by a fresh
    /// 0600 file renamed over it (the old one keeps nobody's new bytes, whoever holds it open);
    /// devices and FIFOs are written as they are. Idempotent.</summary>
    /// <exception cref="OutputException">The file cannot be replaced.</exception>
    public void Commit()
    {
        if (_committed)
        {
            return;
        }

        if (!Created && Status.IsRegular && _directory is not null)
        {
            ReplaceWithFreshFile(_directory);
        }

        _committed = true;
    }

    private void ReplaceWithFreshFile(SafeFileHandle directory)
    {
        string temporary = $".{_name}.tlsscope-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(6))}";
        SafeFileHandle fresh = Posix.OpenAt(directory, temporary, NewFileFlags, OwnerReadWrite, out int errno);
        if (fresh.IsInvalid)
        {
            throw Refuse(Label, "cannot replace it: " + OutputException.DescribeErrno(errno));
        }

        if (Posix.Status(fresh) is not { } status || Posix.RenameAt(directory, temporary, directory, _name) != 0)
        {
            string reason = OutputException.DescribeErrno(Posix.LastError);
            Posix.UnlinkAt(directory, temporary, 0);
            fresh.Dispose();
            throw Refuse(Label, "cannot replace it: " + reason);
        }

        Handle.Dispose();
        Handle = fresh;
        Status = GiveToInvoker(fresh, status, _rules);
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
        if (Created && !_committed && _directory is { IsClosed: false }
            && Posix.StatEntry(_directory, _name) is { } entry && entry.SameFile(Status))
        {
            Posix.UnlinkAt(_directory, _name, 0);
        }

        Dispose();
    }

    public void Dispose()
    {
        _directory?.Dispose();
        if (!_streamOwnsHandle)
        {
            Handle.Dispose();
        }
    }
}
