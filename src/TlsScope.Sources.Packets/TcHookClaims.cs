using System.Globalization;
using TlsScope.Bpf;
using TlsScope.Engine;

namespace TlsScope.Sources.Packets;

/// <summary>
/// Which TC hooks running TlsScope processes hold, one file per process under /run/tlsscope.
/// A filter of ours that no living process claims was left by a killed run: it is removed at
/// start. A hook claimed by a living run is refused with a one-line error.
/// </summary>
public sealed class TcHookClaims : IDisposable
{
    private const string Dir = "/run/tlsscope";
    private readonly string _file;

    private TcHookClaims(string file) => _file = file;

    /// <summary>Removes stale filters of ours on every interface of this namespace and claims
    /// the hooks about to be attached.</summary>
    /// <returns>The claims (dispose after detaching) and how many stale filters were removed.</returns>
    public static (TcHookClaims Claims, int StaleRemoved) Take(IEnumerable<(int IfIndex, bool Egress)> hooks)
    {
        Directory.CreateDirectory(Dir);
        File.SetUnixFileMode(Dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var netns = CurrentNetns();
        var live = LiveClaims(netns);
        var wanted = hooks.ToList();
        RefuseHeld(live, wanted);
        var removed = 0;
        foreach (var e in NetworkInterfaces.All())
        {
            foreach (var egress in new[] { false, true })
            {
                if (!live.ContainsKey((e.Interface.Index, egress)) && TcFilter.RemoveIfPresent(e.Interface.Index, egress))
                {
                    removed++;
                }
            }
        }

        var path = Path.Combine(Dir, $"tc-{Environment.ProcessId}");
        File.WriteAllLines(path, wanted.Select(h => $"{netns} {h.IfIndex} {(h.Egress ? "egress" : "ingress")}"));
        return (new TcHookClaims(path), removed);
    }

    private static Dictionary<(int, bool), int> LiveClaims(string netns)
    {
        var claims = new Dictionary<(int, bool), int>();
        foreach (var path in Directory.GetFiles(Dir, "tc-*"))
        {
            if (!int.TryParse(Path.GetFileName(path)[3..], NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            if (pid == Environment.ProcessId || !IsTlsScope(pid))
            {
                TryDelete(path); // a killed run's claim: its filters are stale
                continue;
            }
            foreach (var line in File.ReadLines(path))
            {
                var f = line.Split(' ');
                if (f.Length == 3 && f[0] == netns && int.TryParse(f[1], CultureInfo.InvariantCulture, out var ifIndex))
                {
                    claims[(ifIndex, f[2] == "egress")] = pid;
                }
            }
        }
        return claims;
    }

    /// <summary>A living TlsScope, not another process that got a killed run's pid.</summary>
    private static bool IsTlsScope(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Contains("tlsscope", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Refuses, before anything is created, when a living run holds one of the hooks.</summary>
    public static void EnsureFree(IEnumerable<(int IfIndex, bool Egress)> hooks)
    {
        if (Directory.Exists(Dir))
        {
            RefuseHeld(LiveClaims(CurrentNetns()), hooks);
        }
    }

    private static void RefuseHeld(Dictionary<(int, bool), int> live, IEnumerable<(int IfIndex, bool Egress)> hooks)
    {
        foreach (var hook in hooks)
        {
            if (live.TryGetValue(hook, out var pid))
            {
                throw new CaptureException($"another TlsScope (pid {pid}) captures packets on interface {hook.IfIndex}; stop it first");
            }
        }
    }

    private static string CurrentNetns()
    {
        try
        {
            return new FileInfo("/proc/self/ns/net").LinkTarget ?? "net";
        }
        catch (IOException)
        {
            return "net";
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
    }

    public void Dispose() => TryDelete(_file);
}
