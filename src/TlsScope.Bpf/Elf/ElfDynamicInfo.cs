namespace TlsScope.Bpf.Elf;

/// <summary>What the dynamic loader reads of an ELF file: its interpreter (PT_INTERP; none for a
/// static executable), the libraries it needs (DT_NEEDED, in order) and where to look for them
/// (DT_RUNPATH, or the older DT_RPATH; colon-separated lists, $ORIGIN not expanded).</summary>
public sealed record ElfDynamicInfo(string? Interpreter, IReadOnlyList<string> Needed, IReadOnlyList<string> RunPath, IReadOnlyList<string> RPath)
{
    /// <summary>Reads <paramref name="path"/>'s program headers and dynamic section only.</summary>
    /// <exception cref="ElfFormatException">Not an x86-64 ELF executable or shared object, or damaged.</exception>
    public static ElfDynamicInfo Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return new ElfFileReader(path, file).ReadDynamic();
    }
}
