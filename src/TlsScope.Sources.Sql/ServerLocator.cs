namespace TlsScope.Sources.Sql;

/// <summary>Where SQL servers are: the distributions' paths, the binaries named on the command
/// line, and the executables of running processes with a server's name.</summary>
public static class ServerLocator
{
    public static readonly string[] KnownPaths = ["/usr/sbin/mariadbd", "/usr/sbin/mysqld", "/usr/libexec/mysqld", "/usr/libexec/mariadbd"];

    private static readonly string[] ServerNames = ["mariadbd", "mysqld", "postgres"];

    /// <summary>Whether a program's file name is a MariaDB, MySQL or PostgreSQL server's.</summary>
    public static bool IsServerName(string path) => ServerNames.Contains(Path.GetFileName(path), StringComparer.Ordinal);

    /// <summary>Known paths that exist, then running servers' executables (through /proc, so a
    /// deleted or private file is still reachable).</summary>
    public static IEnumerable<string> Candidates()
    {
        foreach (var p in KnownPaths.Where(File.Exists))
        {
            yield return p;
        }

        // Debian and Ubuntu: one directory per installed major version.
        if (Directory.Exists("/usr/lib/postgresql"))
        {
            foreach (var version in Directory.EnumerateDirectories("/usr/lib/postgresql").Order(StringComparer.Ordinal))
            {
                if (File.Exists(Path.Combine(version, "bin", "postgres")))
                {
                    yield return Path.Combine(version, "bin", "postgres");
                }
            }
        }

        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || Target(pid) is not { } exe)
            {
                continue;
            }

            if (IsServerName(exe))
            {
                yield return $"/proc/{pid}/exe";
            }
        }
    }

    private static string? Target(int pid)
    {
        try
        {
            return File.ResolveLinkTarget($"/proc/{pid}/exe", returnFinalTarget: false)?.FullName;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
