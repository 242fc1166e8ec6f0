using System.Diagnostics;

namespace TlsScope.Sources.Tls.Discovery;

/// <summary>Libraries the dynamic linker knows, from `ldconfig -p` (the host's cache, or another
/// root's: a container's /etc/ld.so.cache).</summary>
public static class LinkerCache
{
    private static readonly string[] Ldconfig = ["/sbin/ldconfig", "/usr/sbin/ldconfig"];
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    /// <summary>Paths of the host's x86-64 libraries whose soname <paramref name="wanted"/> accepts.</summary>
    public static IReadOnlyList<string> Find(Func<string, bool> wanted) =>
        Read(null).Where(e => wanted(e.Key)).Select(e => e.Value).ToList();

    /// <summary>The x86-64 entries of a cache file (null: the host's), soname to path as the
    /// cache's root sees it; the first entry of a name wins, as the loader takes it.</summary>
    public static Dictionary<string, string> Read(string? cacheFile)
    {
        var entries = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in Run(cacheFile).Split('\n'))
        {
            // "\tlibssl.so.3 (libc6,x86-64) => /lib/x86_64-linux-gnu/libssl.so.3"
            var arrow = line.IndexOf("=> ", StringComparison.Ordinal);
            if (arrow < 0 || !line.Contains("x86-64", StringComparison.Ordinal))
            {
                continue;
            }

            var name = line.TrimStart();
            var space = name.IndexOf(' ', StringComparison.Ordinal);
            if (space > 0)
            {
                entries.TryAdd(name[..space], line[(arrow + 3)..].Trim());
            }
        }

        return entries;
    }

    private static string Run(string? cacheFile)
    {
        foreach (var ldconfig in Ldconfig.Where(File.Exists))
        {
            var start = new ProcessStartInfo(ldconfig) { RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add("-p");
            if (cacheFile is not null)
            {
                start.ArgumentList.Add("-C");
                start.ArgumentList.Add(cacheFile);
            }

            try
            {
                using var p = Process.Start(start)!;
                var text = p.StandardOutput.ReadToEndAsync();
                p.StandardError.ReadToEndAsync(); // drained, so that it never blocks on a full pipe
                if (!p.WaitForExit(Timeout))
                {
                    p.Kill(); // a hung ldconfig costs the cache's libraries, not the capture
                    return "";
                }

                return text.Wait(Timeout) ? text.Result : "";
            }
            catch (System.ComponentModel.Win32Exception)
            {
                // try the next location
            }
        }

        return "";
    }
}
