using TlsScope.Bpf;
using TlsScope.Bpf.Elf;

namespace TlsScope.Sources.Tls.Discovery;

/// <summary>
/// The libraries a program will load, found as the dynamic loader finds them (ld.so(8)): each
/// DT_NEEDED name, transitively, looked up in the object's DT_RPATH (when it has no DT_RUNPATH)
/// and the executable's, LD_LIBRARY_PATH, the object's DT_RUNPATH ($ORIGIN expanded), the root's
/// ld.so.cache, then the default directories. Everything happens inside a root: "/" for the
/// host, /proc/PID/root for a process in a container, so its private libraries are found. What
/// each file needs is read once (per device and inode); each root's cache once.
/// </summary>
public sealed class DependencyResolver
{
    private const int MaxLibraries = 512; // a program needs tens; a loop or a huge tree stops here

    private static readonly string[] DefaultDirectories =
        ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"];

    private const int MaxRoots = 64;     // containers' caches kept; more start over
    private const int MaxFiles = 65536; // files' dynamic sections kept; more start over

    private readonly Dictionary<FileIdentity, ElfDynamicInfo?> _dynamic = [];
    private readonly Dictionary<(FileIdentity Root, FileIdentity Cache, DateTime Written), Dictionary<string, string>> _caches = [];
    private readonly Lock _gate = new();

    /// <summary>The files <paramref name="executable"/> loads, as paths this process can open (the
    /// root prefixed), the executable first. Files that cannot be read are left out.</summary>
    /// <param name="root">"/" or a process's /proc/PID/root.</param>
    /// <param name="executable">The program's path inside <paramref name="root"/>.</param>
    /// <param name="libraryPath">LD_LIBRARY_PATH of the process that runs it.</param>
    public List<string> Resolve(string root, string executable, IReadOnlyList<string> libraryPath)
    {
        lock (_gate)
        {
            var result = new List<string>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var pending = new Queue<string>();
            pending.Enqueue(executable);
            seen.Add(executable);
            var exe = Dynamic(root, executable);
            var exeRPath = exe is { RunPath.Count: 0 } ? Directories(exe.RPath, executable) : [];
            while (pending.TryDequeue(out var inRoot) && result.Count < MaxLibraries)
            {
                var info = Dynamic(root, inRoot);
                if (info is null)
                {
                    continue;
                }

                result.Add(Host(root, inRoot));
                foreach (var name in info.Needed)
                {
                    if (Find(root, name, inRoot, info, exeRPath, libraryPath) is { } found && seen.Add(found))
                    {
                        pending.Enqueue(found);
                    }
                }
            }

            return result;
        }
    }

    /// <summary>Where the loader finds <paramref name="name"/> for <paramref name="loader"/>, inside the root.</summary>
    private string? Find(string root, string name, string loader, ElfDynamicInfo info, IReadOnlyList<string> exeRPath, IReadOnlyList<string> libraryPath)
    {
        if (name.Contains('/'))
        {
            return Usable(root, name) ? name : null;
        }

        var rpath = info.RunPath.Count == 0 ? Directories(info.RPath, loader).Concat(exeRPath) : [];
        var runpath = Directories(info.RunPath, loader);
        foreach (var dir in rpath.Concat(libraryPath).Concat(runpath))
        {
            var candidate = dir.TrimEnd('/') + "/" + name;
            if (Usable(root, candidate))
            {
                return candidate;
            }
        }

        if (Cache(root).TryGetValue(name, out var cached) && Usable(root, cached))
        {
            return cached;
        }

        foreach (var dir in DefaultDirectories)
        {
            var candidate = dir + "/" + name;
            if (Usable(root, candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>A DT_RPATH/DT_RUNPATH list, $ORIGIN (the loader's directory) expanded; $LIB and
    /// $PLATFORM entries are the multiarch directories the defaults cover anyway.</summary>
    private static IReadOnlyList<string> Directories(IReadOnlyList<string> lists, string loader)
    {
        var origin = Path.GetDirectoryName(loader) ?? "/";
        return lists.SelectMany(l => l.Split(':', StringSplitOptions.RemoveEmptyEntries))
            .Select(d => d.Replace("${ORIGIN}", origin, StringComparison.Ordinal).Replace("$ORIGIN", origin, StringComparison.Ordinal))
            .Where(d => !d.Contains('$') && d.StartsWith('/'))
            .ToList();
    }

    /// <summary>An x86-64 ELF file the loader could take (a 32-bit one in the same directory is skipped, as ld.so does).</summary>
    private bool Usable(string root, string inRoot) => Dynamic(root, inRoot) is not null;

    private ElfDynamicInfo? Dynamic(string root, string inRoot)
    {
        var path = Host(root, inRoot);
        if (FileIdentity.Of(path) is not { } id)
        {
            return null;
        }

        if (_dynamic.TryGetValue(id, out var known))
        {
            return known;
        }

        if (_dynamic.Count >= MaxFiles)
        {
            _dynamic.Clear();
        }

        ElfDynamicInfo? info;
        try
        {
            info = ElfDynamicInfo.Read(path);
        }
        catch (Exception e) when (e is ElfFormatException or IOException or UnauthorizedAccessException)
        {
            info = null;
        }

        return _dynamic[id] = info;
    }

    /// <summary>A root's ld.so.cache, read once per root directory and cache file (by identity and
    /// time written: every process of a container shares its root, /proc/PID/root names it once each).</summary>
    private Dictionary<string, string> Cache(string root)
    {
        var file = Host(root, "/etc/ld.so.cache");
        var key = (FileIdentity.Of(root) ?? default, FileIdentity.Of(file) ?? default, SafeWriteTime(file));
        if (!_caches.TryGetValue(key, out var cache))
        {
            if (_caches.Count >= MaxRoots)
            {
                _caches.Clear();
            }

            _caches[key] = cache = LinkerCache.Read(root == "/" ? null : file);
        }

        return cache;
    }

    private static DateTime SafeWriteTime(string path)
    {
        try
        {
            return File.GetLastWriteTimeUtc(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return default;
        }
    }

    private static string Host(string root, string inRoot) => root == "/" ? inRoot : root + inRoot;

    /// <summary>The root a process sees: "/" when it is this process's, else /proc/PID/root.</summary>
    public static string RootOf(int pid)
    {
        var root = $"/proc/{pid}/root";
        return FileIdentity.Of(root) is { } theirs && theirs == FileIdentity.Of("/") ? "/" : root;
    }

    /// <summary>A path of a process's, as /proc shows it to us, made relative to the process's root:
    /// a chroot in our mount namespace shows as its directory ("/srv/root/usr/bin/curl"), another
    /// mount namespace's files as the process sees them already.</summary>
    public static string InRoot(int pid, string root, string seen)
    {
        if (root == "/")
        {
            return seen;
        }

        try
        {
            var rootSeen = new FileInfo($"/proc/{pid}/root").LinkTarget?.TrimEnd('/');
            return rootSeen is { Length: > 0 } && seen.StartsWith(rootSeen + "/", StringComparison.Ordinal) ? seen[rootSeen.Length..] : seen;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return seen;
        }
    }

    /// <summary>A process's LD_LIBRARY_PATH, from its environment.</summary>
    public static IReadOnlyList<string> LibraryPathOf(int pid)
    {
        try
        {
            var environ = File.ReadAllText($"/proc/{pid}/environ");
            foreach (var entry in environ.Split('\0'))
            {
                if (entry.StartsWith("LD_LIBRARY_PATH=", StringComparison.Ordinal))
                {
                    return entry["LD_LIBRARY_PATH=".Length..].Split(':', StringSplitOptions.RemoveEmptyEntries);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // gone, or not ours to read
        }

        return [];
    }
}
