using System.Diagnostics;
using System.Text.Json;
using TlsScope.Bpf;
using TlsScope.Bpf.Elf;
using TlsScope.Engine.Files;
using TlsScope.Sources.Tls.Probes;

namespace TlsScope.Sources.Tls.Discovery;

/// <summary>
/// The TLS-capable files of the machine, found before they run: executables in the PATH
/// directories, libraries in the usual library directories, both under /opt. Each file's verdict
/// is cached by (device, inode, size, modification time) in /var/cache/tlsscope/index.json
/// (a <see cref="PrivateDirectory"/>: a verdict decides what is never held), so a later start only
/// looks at what changed. It runs after TlsScope is ready, on a thread of its own, and never
/// delays the probes of what is known already.
/// </summary>
public sealed class ExecutableIndex(IReadOnlyList<LibraryFamily> families, string cacheDirectory = ExecutableIndex.DefaultCache)
{
    public const string DefaultCache = "/var/cache/tlsscope";
    private const int CacheFormat = 3; // 3: the NSS family (files judged none before are judged again)
    private const int OptDepth = 5;

    private static readonly string[] StandardPath = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];
    private static readonly string[] LibraryDirectories = ["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/local/lib", "/usr/lib64", "/usr/lib"];

    private const string CacheName = "index.json";

    /// <summary>What the last <see cref="Scan"/> did, for -v and the benchmarks.</summary>
    public sealed record Account(int Files, int FromCache, int Capable, TimeSpan Took);

    /// <summary>Every candidate file with its verdict: the family it belongs to, or null.</summary>
    public (List<(string Path, FileIdentity Id, LibraryFamily? Family)> Files, Account Account) Scan(Func<bool> stop)
    {
        var clock = Stopwatch.StartNew();
        var cache = Load();
        var fresh = new Dictionary<string, string?>();
        var files = new List<(string, FileIdentity, LibraryFamily?)>();
        var fromCache = 0;
        foreach (var (path, isLibrary) in Candidates())
        {
            if (stop())
            {
                break;
            }

            if (Key(path) is not { } key || FileIdentity.Of(path) is not { } id)
            {
                continue;
            }

            if (!cache.TryGetValue(key, out var verdict))
            {
                verdict = Examine(path, isLibrary)?.Name;
            }
            else
            {
                fromCache++;
            }

            fresh[key] = verdict;
            files.Add((path, id, verdict is null ? null : families.FirstOrDefault(f => f.Name == verdict)));
        }

        Save(fresh);
        return (files, new Account(files.Count, fromCache, files.Count(f => f.Item3 is not null), clock.Elapsed));
    }

    /// <summary>The family a file belongs to: a string-table screen first, symbols only then.</summary>
    private LibraryFamily? Examine(string path, bool isLibrary)
    {
        if (isLibrary && !families.Any(f => f.MayBe(Path.GetFileName(path))))
        {
            return null; // a library is named as its family names it; thousands are not opened
        }

        try
        {
            var names = families.SelectMany(f => f.ScreenNames).Distinct().ToList();
            if (!ElfSymbols.MayDefine(path, names) && (isLibrary || !families.Any(f => f.MayBeExecutable?.Invoke(path) == true)))
            {
                return null;
            }

            return LibraryFamily.Match(path, ElfSymbols.Open(path), families)?.Family;
        }
        catch (Exception e) when (e is ElfFormatException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static IEnumerable<(string Path, bool IsLibrary)> Candidates()
    {
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var dir in StandardPath.Concat(path).Where(d => d.StartsWith('/')).Distinct())
        {
            foreach (var file in Files(dir, depth: 0))
            {
                if (seen.Add(file) && IsExecutable(file))
                {
                    yield return (file, false);
                }
            }
        }

        foreach (var dir in LibraryDirectories)
        {
            foreach (var file in Files(dir, depth: 0))
            {
                if (seen.Add(file) && Path.GetFileName(file).Contains(".so", StringComparison.Ordinal))
                {
                    yield return (file, true);
                }
            }
        }

        foreach (var file in Files("/opt", OptDepth))
        {
            if (!seen.Add(file))
            {
                continue;
            }

            if (Path.GetFileName(file).Contains(".so", StringComparison.Ordinal))
            {
                yield return (file, true);
            }
            else if (IsExecutable(file))
            {
                yield return (file, false);
            }
        }
    }

    /// <summary>Regular files (symbolic links resolved to theirs) of a directory, and of its
    /// subdirectories down to <paramref name="depth"/>.</summary>
    private static IEnumerable<string> Files(string dir, int depth)
    {
        IEnumerable<string> entries;
        try
        {
            entries = Directory.EnumerateFileSystemEntries(dir).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            yield break;
        }

        foreach (var entry in entries)
        {
            var info = new FileInfo(entry);
            if (info.Attributes.HasFlag(FileAttributes.Directory))
            {
                if (depth > 0 && info.LinkTarget is null)
                {
                    foreach (var inner in Files(entry, depth - 1))
                    {
                        yield return inner;
                    }
                }

                continue;
            }

            yield return info.LinkTarget is null ? entry : FinalTarget(info) ?? entry;
        }
    }

    /// <summary>Where a symlink ends; null for a loop or a link too deep (ELOOP) or unreadable.</summary>
    private static string? FinalTarget(FileInfo link)
    {
        try
        {
            return link.ResolveLinkTarget(returnFinalTarget: true)?.FullName;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static bool IsExecutable(string file)
    {
        try
        {
            return File.Exists(file) && (File.GetUnixFileMode(file) & UnixFileMode.UserExecute) != 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>"path|dev|inode|size|mtime": a file that changed in any way is examined again.</summary>
    private static string? Key(string path)
    {
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists || FileIdentity.Of(path) is not { } id)
            {
                return null;
            }

            return $"{path}|{id}|{info.Length}|{info.LastWriteTimeUtc.Ticks}";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private Dictionary<string, string?> Load()
    {
        try
        {
            if (PrivateDirectory.Read(cacheDirectory, CacheName) is not { } text)
            {
                return [];
            }

            using var doc = JsonDocument.Parse(text);
            // Verdicts name families: a build that knows other families judges every file anew.
            if (doc.RootElement.GetProperty("format").GetInt32() != CacheFormat
                || doc.RootElement.GetProperty("families").GetString() != FamilyNames)
            {
                return [];
            }

            return doc.RootElement.GetProperty("files").EnumerateObject()
                .ToDictionary(p => p.Name, p => p.Value.ValueKind == JsonValueKind.Null ? null : p.Value.GetString());
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or ArgumentException)
        {
            return [];
        }
    }

    /// <summary>Written whole and renamed into place; a failure only costs the next start its speed.</summary>
    private void Save(Dictionary<string, string?> files) =>
        PrivateDirectory.Write(cacheDirectory, CacheName, JsonSerializer.Serialize(new { format = CacheFormat, families = FamilyNames, files }));

    private string FamilyNames => string.Join(",", families.Select(f => f.Name));
}
