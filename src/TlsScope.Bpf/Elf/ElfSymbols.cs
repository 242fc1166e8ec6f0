namespace TlsScope.Bpf.Elf;

/// <summary>
/// The defined function symbols of one x86-64 ELF executable or shared object, each with the file
/// offset a uprobe is attached at. Built once by <see cref="Open"/>; immutable and thread-safe after that.
/// </summary>
public sealed class ElfSymbols
{
    private readonly FunctionTable _functions;
    private readonly Dictionary<string, ElfFunction> _extra; // names the symbol tables lack, from WithFunctions

    internal ElfSymbols(string path, string? buildId, bool isSharedObject, FunctionTable functions)
        : this(path, buildId, isSharedObject, functions, new Dictionary<string, ElfFunction>(StringComparer.Ordinal))
    {
    }

    private ElfSymbols(string path, string? buildId, bool isSharedObject, FunctionTable functions, Dictionary<string, ElfFunction> extra)
    {
        Path = path;
        BuildId = buildId;
        IsSharedObject = isSharedObject;
        _functions = functions;
        _extra = extra;
    }

    /// <summary>
    /// Reads the ELF header, program headers, section headers, symbol tables and build-id note of
    /// <paramref name="path"/>. Other bytes of the file (code, data, debug info) are not read.
    /// </summary>
    /// <exception cref="ElfFormatException">Not an ELF file, truncated, not 64-bit little-endian,
    /// not x86-64, or not an executable/shared object.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="UnauthorizedAccessException">The file cannot be opened for reading.</exception>
    public static ElfSymbols Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return new ElfFileReader(path, file).Read();
    }

    /// <summary>Whether the file's string tables hold any of <paramref name="names"/>: a screen
    /// far cheaper than <see cref="Open"/>, for looking at many files.</summary>
    /// <exception cref="ElfFormatException">Not an x86-64 ELF executable or shared object, or damaged.</exception>
    public static bool MayDefine(string path, IReadOnlyList<string> names)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return new ElfFileReader(path, file).HasAnyName(names);
    }

    /// <summary>The path given to <see cref="Open"/>.</summary>
    public string Path { get; }

    /// <summary>The NT_GNU_BUILD_ID note as lower-case hex, or null if the file has none.</summary>
    public string? BuildId { get; }

    /// <summary>True for ET_DYN: shared libraries and position-independent executables.</summary>
    public bool IsSharedObject { get; }

    /// <summary>
    /// Defined STT_FUNC and STT_GNU_IFUNC symbols from .dynsym and .symtab, one per name, with any
    /// symbol version ("@VER", "@@VER") removed from the name. When a name occurs more than once, the
    /// default version beats a non-default one, a global or weak symbol beats a local one, and .dynsym
    /// beats .symtab. Symbols whose address lies in no PT_LOAD segment's file image are left out,
    /// since there is no file offset to probe. For an STT_GNU_IFUNC symbol the address is that of its
    /// resolver, not of the implementation it picks at run time. Each enumeration creates the name strings anew.
    /// </summary>
    public IEnumerable<ElfFunction> Functions => _functions.Enumerate().Concat(_extra.Values);

    /// <summary>How many functions <see cref="Functions"/> yields.</summary>
    public int FunctionCount => _functions.Count + _extra.Count;

    /// <summary>Finds a defined function by its unversioned name, e.g. "SSL_read".</summary>
    public bool TryGetFunction(string name, out ElfFunction function)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _functions.TryGet(name, out function) || _extra.TryGetValue(name, out function);
    }

    /// <summary>
    /// A copy whose functions are these plus <paramref name="extra"/> (e.g. Go functions read from
    /// a pclntab, for a binary stripped of its symbol tables). Where a name is already defined, the
    /// existing function wins; among duplicate extras, the first.
    /// </summary>
    public ElfSymbols WithFunctions(IEnumerable<ElfFunction> extra)
    {
        ArgumentNullException.ThrowIfNull(extra);
        // The symbol tables are shared, not copied: a copy of node's would cost tens of milliseconds.
        var merged = new Dictionary<string, ElfFunction>(_extra, StringComparer.Ordinal);
        foreach (var f in extra)
        {
            if (!_functions.TryGet(f.Name, out _))
            {
                merged.TryAdd(f.Name, f);
            }
        }

        return new ElfSymbols(Path, BuildId, IsSharedObject, _functions, merged);
    }

    /// <summary>True if every one of <paramref name="names"/> is a defined function (vacuously true for none).</summary>
    public bool HasFunctions(params string[] names)
    {
        ArgumentNullException.ThrowIfNull(names);
        foreach (var name in names)
        {
            if (!TryGetFunction(name, out _))
            {
                return false;
            }
        }
        return true;
    }

    public override string ToString() => $"{Path} ({FunctionCount} functions)";
}
