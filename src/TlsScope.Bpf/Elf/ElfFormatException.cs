namespace TlsScope.Bpf.Elf;

/// <summary>
/// A file that cannot be read as a 64-bit little-endian x86-64 ELF executable or shared object.
/// The message is one line: "<c>{path}: {reason}</c>".
/// </summary>
public sealed class ElfFormatException : Exception
{
    public ElfFormatException(string path, string reason)
        : base($"{OneLine(path)}: {reason}")
    {
        FilePath = path;
        Reason = reason;
    }

    /// <summary>The file that was being read.</summary>
    public string FilePath { get; }

    /// <summary>What is wrong with it, without the path.</summary>
    public string Reason { get; }

    // A path may legally contain control characters; keep the message on one line anyway.
    private static string OneLine(string text) =>
        text.AsSpan().IndexOfAnyInRange('\0', '\u001f') < 0
            ? text
            : string.Create(text.Length, text, static (dest, src) =>
            {
                for (var i = 0; i < src.Length; i++)
                {
                    dest[i] = char.IsControl(src[i]) ? '?' : src[i];
                }
            });
}
