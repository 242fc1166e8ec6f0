using System.Text;
using TlsScope.Bpf.Elf;

namespace TlsScope.Sources.Tls.Go.Binary;

/// <summary>
/// A Go executable or shared object seen through what the Go linker always leaves in it, stripped
/// or not: the build info (toolchain version) and the pclntab (every Go function's name and
/// address range). Built once by <see cref="TryOpen"/>; immutable and thread-safe after that.
/// </summary>
public sealed class GoBinary
{
    private readonly ElfSegment[] _loads;
    private readonly Lazy<Dictionary<string, int>> _byName;

    private GoBinary(string path, bool isSharedObject, GoBuildInfo? buildInfo, Pclntab pclntab, ElfSegment[] loads)
    {
        Path = path;
        IsSharedObject = isSharedObject;
        BuildInfo = buildInfo;
        Pclntab = pclntab;
        _loads = loads;
        _byName = new Lazy<Dictionary<string, int>>(IndexNames);
    }

    /// <summary>
    /// Reads the build info and pclntab of <paramref name="path"/>. Null when it is not an ELF file
    /// or has neither a pclntab section nor Go build info (not a Go binary).
    /// </summary>
    /// <exception cref="ElfFormatException">An ELF file that is not x86-64, or whose ELF or Go structures are damaged.</exception>
    public static GoBinary? TryOpen(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!HasElfMagic(path))
        {
            return null;
        }

        using var image = ElfImage.Open(path);
        var buildInfo = GoBuildInfo.Read(image);
        // Without build info (before Go 1.13, or damaged) only a named section makes it Go:
        // scanning the read-only data of every C program would be wasted work.
        var pclntab = PclntabLocator.Locate(image, scan: buildInfo is not null);
        if (pclntab is null)
        {
            return buildInfo is null ? null : throw new ElfFormatException(path, $"Go build info ({buildInfo.Version}) but no pclntab");
        }

        return new GoBinary(path, image.IsSharedObject, buildInfo, pclntab, [.. image.LoadSegments]);
    }

    /// <summary>
    /// A cheap screen for scanning many files: an ELF file with a <c>.go.buildinfo</c> or
    /// <c>.gopclntab</c> section, or (without section headers) the build info magic in a
    /// writable segment. False for anything unreadable or not ELF x86-64.
    /// </summary>
    public static bool MayBe(string path)
    {
        try
        {
            if (!HasElfMagic(path))
            {
                return false;
            }

            using var image = ElfImage.Open(path);
            if (image.Sections.Any(s => s.Name is ".go.buildinfo" || s.Name.EndsWith(".gopclntab", StringComparison.Ordinal)))
            {
                return true;
            }
            return image.Sections.Count == 0 && GoBuildInfo.Find(image, out _) is not null;
        }
        catch (Exception e) when (e is ElfFormatException or IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    public string Path { get; }

    /// <summary>True for ET_DYN: PIE executables and shared objects.</summary>
    public bool IsSharedObject { get; }

    /// <summary>The build info, or null when the binary carries none (Go before 1.13).</summary>
    public GoBuildInfo? BuildInfo { get; }

    /// <summary>The toolchain's version; null when unknown (no build info, or a development toolchain).</summary>
    public GoVersion? Version => BuildInfo?.ParsedVersion;

    public Pclntab Pclntab { get; }

    /// <summary>
    /// Whether Go functions take arguments in registers (ABIInternal, Go 1.17+ on amd64). Without
    /// a version, the pclntab format decides (1.18+ layouts are register-based; older is assumed not).
    /// </summary>
    public bool RegisterAbi => Version is { } v ? v.IsAtLeast(1, 17) : Pclntab.Header.HasTextRelativeEntries;

    /// <summary>runtime.text: the base of 1.18+ pclntab entries (which may differ from <c>.text</c>
    /// with external linking), else the first function's entry.</summary>
    public ulong TextStart => Pclntab.TextStart != 0 ? Pclntab.TextStart : (Pclntab.Count > 0 ? Pclntab.Entry(0) : 0);

    public int FunctionCount => Pclntab.Count;

    /// <summary>Every function with a file offset, in address order; size is up to the next function's entry.</summary>
    public IEnumerable<ElfFunction> Functions
    {
        get
        {
            for (var i = 0; i < Pclntab.Count; i++)
            {
                if (TryMake(i, null, out var function))
                {
                    yield return function;
                }
            }
        }
    }

    /// <summary>The functions as a list, for <see cref="ElfSymbols.WithFunctions"/>.</summary>
    public IReadOnlyList<ElfFunction> ToElfFunctions() => [.. Functions];

    /// <summary>Finds a function by its full Go name, e.g. "crypto/tls.(*Conn).Read".</summary>
    public bool TryGetFunction(string name, out ElfFunction function)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (_byName.Value.TryGetValue(name, out var index))
        {
            return TryMake(index, name, out function);
        }
        function = default;
        return false;
    }

    /// <summary>The functions of these names that the binary has (the first of a name, as
    /// <see cref="TryGetFunction"/>): one pass over the name table, no index of every name built,
    /// for a few lookups on the path an exec waits on.</summary>
    public List<ElfFunction> FindFunctions(IReadOnlyList<string> names)
    {
        var wanted = names.Select(n => (Name: n, Bytes: Encoding.UTF8.GetBytes(n))).ToList();
        var found = new List<ElfFunction>();
        for (var i = 0; i < Pclntab.Count && wanted.Count > 0; i++)
        {
            var bytes = Pclntab.NameBytes(i);
            var match = -1;
            for (var w = 0; w < wanted.Count && match < 0; w++)
            {
                match = bytes.SequenceEqual(wanted[w].Bytes) ? w : -1;
            }

            if (match >= 0)
            {
                if (TryMake(i, wanted[match].Name, out var fn))
                {
                    found.Add(fn);
                }

                wanted.RemoveAt(match);
            }
        }

        return found;
    }

    private bool TryMake(int index, string? name, out ElfFunction function)
    {
        var entry = Pclntab.Entry(index);
        foreach (var load in _loads)
        {
            if (load.ContainsInFile(entry) && load.IsExecutable)
            {
                function = new ElfFunction(name ?? Pclntab.Name(index), entry, Pclntab.End(index) - entry, entry - load.VirtualAddress + load.Offset);
                return true;
            }
        }
        function = default;
        return false;
    }

    private Dictionary<string, int> IndexNames()
    {
        var names = new Dictionary<string, int>(Pclntab.Count, StringComparer.Ordinal);
        for (var i = 0; i < Pclntab.Count; i++)
        {
            names.TryAdd(Encoding.UTF8.GetString(Pclntab.NameBytes(i)), i); // the first of duplicates
        }
        return names;
    }

    private static bool HasElfMagic(string path)
    {
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        Span<byte> magic = stackalloc byte[4];
        return RandomAccess.Read(file, magic, 0) == 4 && magic.SequenceEqual("\u007fELF"u8);
    }

    public override string ToString() => $"{Path} ({BuildInfo?.Version ?? "Go"}, {Pclntab.Count} functions)";
}
