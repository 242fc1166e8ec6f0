using System.Diagnostics;

namespace TlsScope.Sources.Tls.Discovery;

/// <summary>Libraries the dynamic linker knows, from `ldconfig -p`.</summary>
public static class LinkerCache
{
    /// <summary>Paths of x86-64 libraries whose soname <paramref name="wanted"/> accepts.</summary>
    public static IReadOnlyList<string> Find(Func<string, bool> wanted)
    {
        var output = Run();
        var paths = new List<string>();
        foreach (var line in output.Split('\n'))
        {
            // "\tlibssl.so.3 (libc6,x86-64) => /lib/x86_64-linux-gnu/libssl.so.3"
            var arrow = line.IndexOf("=> ", StringComparison.Ordinal);
            var name = line.TrimStart();
            if (arrow < 0 || !line.Contains("x86-64", StringComparison.Ordinal))
            {
                continue;
            }

            if (wanted(name[..name.IndexOf(' ', StringComparison.Ordinal)]))
            {
                paths.Add(line[(arrow + 3)..].Trim());
            }
        }
        return paths;
    }

    private static string Run()
    {
        foreach (var ldconfig in new[] { "/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig" })
        {
            try
            {
                using var p = Process.Start(new ProcessStartInfo(ldconfig, "-p")
                {
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                })!;
                var text = p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                return text;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                // try the next location
            }
        }
        return "";
    }
}
