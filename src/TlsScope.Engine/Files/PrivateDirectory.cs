using System.Text;
using TlsScope.Bpf;

namespace TlsScope.Engine.Files;

/// <summary>
/// A directory where TlsScope keeps state it acts on later (/run/tlsscope: pids it will continue;
/// /var/cache/tlsscope: layouts and an index it will trust). Created 0700 when missing; an
/// existing one is used only if it is a directory of its own (not a symlink), owned by the user
/// TlsScope runs as, and writable by no one else: what it holds must not come from another user.
/// Files are written whole, to a new file (O_EXCL: never through a planted link) renamed into place.
/// </summary>
public static class PrivateDirectory
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OthersWrite = UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;

    /// <summary>Whether <paramref name="path"/> can be trusted (created when <paramref name="create"/>
    /// and missing); <paramref name="problem"/> says why not.</summary>
    public static bool Prepare(string path, bool create, out string? problem)
    {
        try
        {
            var info = new DirectoryInfo(path);
            if (!info.Exists && info.LinkTarget is null)
            {
                if (!create)
                {
                    problem = $"{path}: no such directory";
                    return false;
                }

                Directory.CreateDirectory(path, OwnerOnly);
                info.Refresh();
            }

            problem = info.LinkTarget is not null ? $"{path} is a symbolic link"
                : !info.Exists ? $"{path} is not a directory"
                : FileIdentity.OwnerOf(path) != FileIdentity.EffectiveUid ? $"{path} belongs to another user"
                : (File.GetUnixFileMode(path) & OthersWrite) != 0 ? $"{path} is writable by others"
                : null;
            return problem is null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problem = $"{path}: {e.Message}";
            return false;
        }
    }

    /// <summary>Replaces <paramref name="name"/> in a trusted directory with <paramref name="text"/>
    /// (0600). False when the directory is not trusted or the write failed.</summary>
    public static bool Write(string directory, string name, string text)
    {
        if (!Prepare(directory, create: true, out _))
        {
            return false;
        }

        var final = Path.Combine(directory, name);
        var temporary = $"{final}.{Environment.ProcessId}.{Environment.CurrentManagedThreadId}.tmp";
        try
        {
            var options = new FileStreamOptions
            {
                Mode = FileMode.CreateNew, // O_CREAT|O_EXCL: fails on anything already there, a link included
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            };
            using (var stream = new FileStream(temporary, options))
            {
                stream.Write(Encoding.UTF8.GetBytes(text));
            }

            File.Move(temporary, final, overwrite: true); // readers never see half a file
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try
            {
                File.Delete(temporary);
            }
            catch (Exception again) when (again is IOException or UnauthorizedAccessException)
            {
            }

            return false;
        }
    }

    /// <summary>The text of <paramref name="name"/> in a trusted directory; null when absent,
    /// unreadable, or the directory is not trusted.</summary>
    public static string? Read(string directory, string name)
    {
        if (!Prepare(directory, create: false, out _))
        {
            return null;
        }

        try
        {
            var path = Path.Combine(directory, name);
            return new FileInfo(path).LinkTarget is null && File.Exists(path) ? File.ReadAllText(path) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
