namespace TlsScope.Sources.Tls.Keys.Resolution;

/// <summary>
/// Whether a library may be loaded by the calibration helper. Loading runs the library's code
/// (its constructors) with the tool's privileges, root: only files that root alone could have
/// put there qualify. A file another user or a container could write is left to the table.
/// </summary>
public static class TrustedFile
{
    private const UnixFileMode WritableByOthers = UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;

    /// <summary>Null when trusted, else why not (one line).</summary>
    public static string? Check(string path)
    {
        var full = Path.GetFullPath(path);
        if (full.StartsWith("/proc/", StringComparison.Ordinal))
        {
            return "it lives in another mount namespace (a container's)";
        }

        try
        {
            var file = new FileInfo(full);
            if (file.LinkTarget is not null)
            {
                file = (FileInfo?)file.ResolveLinkTarget(returnFinalTarget: true) ?? file;
            }

            if (Problem(file.FullName, file.UnixFileMode) is { } p)
            {
                return p;
            }

            for (var dir = file.Directory; dir is not null; dir = dir.Parent)
            {
                if (Problem(dir.FullName, dir.UnixFileMode) is { } d)
                {
                    return d;
                }
            }

            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"it cannot be checked ({e.Message})";
        }
    }

    private static string? Problem(string path, UnixFileMode mode)
    {
        if (TlsScope.Bpf.FileIdentity.OwnerOf(path) != 0)
        {
            return $"{path} is not owned by root";
        }
        // A sticky world-writable directory (/tmp) still lets others create files in it.
        if ((mode & WritableByOthers) != 0)
        {
            return $"{path} is writable by other users";
        }

        return null;
    }
}
