using System.Buffers.Binary;
using TlsScope.Bpf.Elf;

namespace TlsScope.Tests.Elf;

/// <summary>Files that are not usable ELF objects fail with one clear ElfFormatException, never a crash.</summary>
public sealed class ElfFormatErrorTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static byte[] LibSslBytes() => File.ReadAllBytes(ElfTool.RealPath(ElfTool.LibSsl));

    private static ElfFormatException AssertFails(string path, string expectedReason)
    {
        var error = Assert.Throws<ElfFormatException>(() => ElfSymbols.Open(path));
        Assert.StartsWith(path + ": ", error.Message, StringComparison.Ordinal);
        Assert.Contains(expectedReason, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        Assert.DoesNotContain('\r', error.Message);
        // Lower-case, apart from the acronyms.
        var reason = error.Message[(path.Length + 2)..];
        Assert.Equal(reason.ToLowerInvariant(), reason.Replace("ELF", "elf", StringComparison.Ordinal));
        Assert.Equal(path, error.FilePath);
        return error;
    }

    [Fact]
    public void TextFile_IsNotAnElfFile()
    {
        var path = _temp.File("notes.txt");
        File.WriteAllText(path, "this is plain text, not a program\nsecond line\n");

        var error = AssertFails(path, "not an ELF file");
        Assert.Equal($"{path}: not an ELF file", error.Message);
    }

    [Fact]
    public void EmptyFile_IsNotAnElfFile()
    {
        var path = _temp.File("empty");
        File.WriteAllBytes(path, []);

        AssertFails(path, "not an ELF file");
    }

    [Fact]
    public void First100BytesOfLibSsl_IsTruncated()
    {
        var path = _temp.File("libssl-head.so");
        File.WriteAllBytes(path, LibSslBytes()[..100]);

        AssertFails(path, "truncated");
    }

    [Theory]
    [InlineData(4)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(63)]
    [InlineData(64)]
    [InlineData(120)]
    [InlineData(4096)]
    [InlineData(300_000)]
    [InlineData(-1)] // all but the last byte: the section headers at the end are cut
    public void LibSslCutShort_IsTruncated(int length)
    {
        var bytes = LibSslBytes();
        var path = _temp.File("libssl-cut.so");
        File.WriteAllBytes(path, bytes[..(length < 0 ? bytes.Length + length : length)]);

        AssertFails(path, "truncated ELF file");
    }

    [Theory]
    [InlineData(4, 1, 1, "not a 64-bit ELF file")]                       // EI_CLASS = ELFCLASS32
    [InlineData(5, 2, 1, "not a little-endian ELF file")]                 // EI_DATA = ELFDATA2MSB
    [InlineData(18, 183, 2, "not an x86-64 ELF file (machine 183)")]      // e_machine = EM_AARCH64
    [InlineData(16, 1, 2, "not an executable or shared object")]         // e_type = ET_REL
    [InlineData(16, 4, 2, "not an executable or shared object")]         // e_type = ET_CORE
    public void LibSslWithAlteredHeader_IsRejected(int offset, int value, int width, string reason)
    {
        var bytes = LibSslBytes();
        if (width == 1)
        {
            bytes[offset] = (byte)value;
        }
        else
        {
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(offset), (ushort)value);
        }

        var path = _temp.File("libssl-altered.so");
        File.WriteAllBytes(path, bytes);

        AssertFails(path, reason);
    }

    [Fact]
    public void SectionHeadersPointingPastTheEnd_AreTruncation()
    {
        var bytes = LibSslBytes();
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(40), ulong.MaxValue - 10); // e_shoff
        var path = _temp.File("libssl-shoff.so");
        File.WriteAllBytes(path, bytes);

        AssertFails(path, "truncated ELF file (section headers");
    }

    [Fact]
    public void PathWithANewline_StillGivesAOneLineMessage()
    {
        var path = _temp.File("two\nlines");
        File.WriteAllText(path, "text");

        var error = Assert.Throws<ElfFormatException>(() => ElfSymbols.Open(path));
        Assert.DoesNotContain('\n', error.Message);
        Assert.EndsWith(": not an ELF file", error.Message, StringComparison.Ordinal);
        Assert.Equal(path, error.FilePath);
    }

    [Fact]
    public void MissingFile_ThrowsFileNotFound()
    {
        Assert.Throws<FileNotFoundException>(() => ElfSymbols.Open(_temp.File("does-not-exist.so")));
    }

    [Fact]
    public void NullArguments_AreRejected()
    {
        var elf = ElfSymbols.Open(ElfTool.RealPath(ElfTool.LibSsl));

        Assert.Throws<ArgumentNullException>(() => ElfSymbols.Open(null!));
        Assert.Throws<ArgumentException>(() => ElfSymbols.Open(""));
        Assert.Throws<ArgumentNullException>(() => elf.TryGetFunction(null!, out _));
        Assert.Throws<ArgumentNullException>(() => elf.HasFunctions(null!));
        Assert.True(elf.HasFunctions()); // no names: vacuously true
    }
}
