using Iced.Intel;
using TlsScope.Bpf.Elf;

namespace TlsScope.Sources.Tls.Probes;

/// <summary>x86-64 code of a library, decoded by Iced for the finders of functions that no symbol
/// names (OpenSSL's internal read/write, GnuTLS's key log call).</summary>
internal static class MachineCode
{
    /// <summary>The instructions at a virtual address, up to <paramref name="size"/> bytes or the
    /// first that does not decode; none when the range is not in the file.</summary>
    public static List<Instruction> Decode(ElfImage image, ulong at, int size)
    {
        var bytes = new byte[size];
        return image.TryReadAt(at, bytes) ? Decode(bytes, at) : [];
    }

    /// <summary>The first instruction that does work: past a CET landing pad (<c>endbr64</c>, which
    /// starts every exported function of a -fcf-protection build) and padding.</summary>
    public static Instruction FirstReal(IEnumerable<Instruction> code) =>
        code.FirstOrDefault(i => i.Mnemonic is not (Mnemonic.Endbr64 or Mnemonic.Nop));

    /// <summary>The instructions of <paramref name="bytes"/> as if at <paramref name="at"/>.</summary>
    public static List<Instruction> Decode(byte[] bytes, ulong at)
    {
        var size = bytes.Length;
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(bytes), at);
        var list = new List<Instruction>();
        while (decoder.IP < at + (ulong)size)
        {
            decoder.Decode(out var i);
            if (i.IsInvalid)
            {
                break;
            }

            list.Add(i);
        }

        return list;
    }

    /// <summary>Runs a finder over the file; a damaged or unreadable file is its reason, never an exception.</summary>
    public static T Examine<T>(string path, Func<ElfImage, T> find, Func<string, T> failed)
    {
        try
        {
            using var image = ElfImage.Open(path);
            return find(image);
        }
        catch (Exception e) when (e is ElfFormatException or IOException or UnauthorizedAccessException)
        {
            return failed(e.Message);
        }
    }
}
