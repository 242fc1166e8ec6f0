using Microsoft.Win32.SafeHandles;

namespace TlsScope.Outputs.Files;

/// <summary>Whom an output's path may depend on: root and the invoking user. Everyone else is
/// someone who could swap a file or plant a link.</summary>
internal sealed class OutputRules(InvokingUser user)
{
    private const int MaxLinks = 40; // as the kernel's ELOOP limit

    public static OutputRules Current { get; } = new(InvokingUser.Current);

    public InvokingUser User => user;

    public bool Trusts(uint owner) => user.Trusts(owner);

    /// <summary>Who, other than root and the invoking user, can add, remove or rename entries in
    /// this directory; null for nobody. A group other than root's counts as others: its members
    /// are not known.</summary>
    public string? WhoElseCanWrite(FileStatus dir)
    {
        if (!Trusts(dir.Owner))
        {
            return $"its owner, uid {dir.Owner}";
        }

        string mode = Convert.ToString(dir.Permissions, 8).PadLeft(4, '0');
        if ((dir.Permissions & 0x2) != 0)
        {
            return $"everyone (mode {mode})";
        }

        return (dir.Permissions & 0x10) != 0 && dir.Group != 0 ? $"group {dir.Group} (mode {mode})" : null;
    }

    /// <summary>Opens the directory an output goes into, one component at a time (O_PATH,
    /// O_NOFOLLOW, each relative to the one before), following a symbolic link only when root or
    /// the invoking user owns it, as fs.protected_symlinks would: a link planted by someone else
    /// anywhere in the path is refused, on any host.</summary>
    /// <exception cref="OutputException">A one-line refusal naming <paramref name="label"/>.</exception>
    public SafeFileHandle OpenDirectory(string label, string path)
    {
        var pending = new LinkedList<string>(path.Split('/'));
        string walked = path.StartsWith('/') ? "" : ".";
        SafeFileHandle current = OpenPath(label, null, path.StartsWith('/') ? "/" : ".", walked);
        int links = 0;
        try
        {
            while (pending.First is { } first)
            {
                string name = first.Value;
                pending.RemoveFirst();
                if (name is "" or ".")
                {
                    continue;
                }

                string shown = walked + "/" + name;
                FileStatus entry = Posix.StatEntry(current, name)
                    ?? throw new OutputException($"{label}: directory not found");
                if (entry.IsSymlink)
                {
                    if (!Trusts(entry.Owner))
                    {
                        throw new OutputException($"{label}: {shown} is a symbolic link owned by uid {entry.Owner}; refusing to follow it (give the real path)");
                    }

                    string target = Posix.ReadLink(current, name) ?? throw new OutputException($"{label}: cannot read the symbolic link {shown}");
                    if (Posix.StatEntry(current, name) is not { } again || !again.SameFile(entry) || ++links > MaxLinks)
                    {
                        throw new OutputException($"{label}: {shown}: too many levels of symbolic links, or a link that keeps changing");
                    }

                    if (target.StartsWith('/'))
                    {
                        Replace(ref current, OpenPath(label, null, "/", shown));
                        walked = "";
                    }

                    string[] parts = target.Split('/');
                    for (int i = parts.Length - 1; i >= 0; i--)
                    {
                        pending.AddFirst(parts[i]);
                    }

                    continue;
                }

                if (!entry.IsDirectory)
                {
                    throw new OutputException($"{label}: {shown} is not a directory");
                }

                Replace(ref current, OpenPath(label, current, name, shown));
                walked = shown;
            }

            return current;
        }
        catch
        {
            current.Dispose();
            throw;
        }
    }

    private static void Replace(ref SafeFileHandle current, SafeFileHandle next)
    {
        current.Dispose();
        current = next;
    }

    private static SafeFileHandle OpenPath(string label, SafeFileHandle? parent, string name, string shown)
    {
        SafeFileHandle handle = Posix.OpenAt(parent, name, Posix.OPath | Posix.ODirectory | Posix.ONoFollow | Posix.OCloExec, 0, out int errno);
        return handle.IsInvalid
            ? throw new OutputException($"{label}: {(errno == Posix.ELOOP ? $"{shown} changed into a symbolic link" : $"cannot open the directory {(shown.Length == 0 ? "/" : shown)}: {OutputException.DescribeErrno(errno)}")}")
            : handle;
    }
}
