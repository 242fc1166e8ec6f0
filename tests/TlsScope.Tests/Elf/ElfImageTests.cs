using System.Globalization;
using TlsScope.Bpf.Elf;

namespace TlsScope.Tests.Elf;

/// <summary>ElfImage's sections, segments and reads by address against readelf, and
/// ElfSymbols.WithFunctions.</summary>
public sealed class ElfImageTests
{
    [Fact]
    public void Sections_MatchReadelf()
    {
        using var image = ElfImage.Open(ElfTool.LibSsl);
        var expected = new List<(string Name, ulong Address, ulong Offset, ulong Size)>();
        foreach (var line in ElfTool.Run("readelf", "-SW", ElfTool.LibSsl).Split('\n'))
        {
            // "  [13] .text             PROGBITS        0000000000023000 023000 0a7c52 00  AX  0   0 16"
            var close = line.IndexOf(']', StringComparison.Ordinal);
            if (!line.TrimStart().StartsWith('[') || close < 0 || line.Contains("[ 0]", StringComparison.Ordinal))
            {
                continue;
            }

            var fields = line[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 5 || fields[0] == "Name")
            {
                continue;
            }

            expected.Add((fields[0], Hex(fields[2]), Hex(fields[3]), Hex(fields[4])));
        }

        Assert.Equal(expected, image.Sections.Skip(1).Select(s => (s.Name, s.Address, s.Offset, s.Size)));
        Assert.Equal(".text", image.FindSection(".text")?.Name);
    }

    [Fact]
    public void LoadSegments_MatchReadelf_AndReadsGoThroughThem()
    {
        using var image = ElfImage.Open(ElfTool.LibSsl);

        Assert.Equal(ElfTool.ReadelfLoads(ElfTool.LibSsl).Select(l => (l.Offset, l.VirtualAddress, l.FileSize, l.Executable)),
            image.LoadSegments.Select(l => (l.Offset, l.VirtualAddress, l.FileSize, l.IsExecutable)));

        var text = image.FindSection(".text")!.Value;
        Assert.True(image.TryMapToFile(text.Address + 16, out var offset));
        Assert.Equal(ElfTool.ExpectedFileOffset(ElfTool.LibSsl, text.Address + 16), offset);
        Assert.Equal(ElfTool.FileBytes(ElfTool.LibSsl, offset, 32), image.ReadAt(text.Address + 16, 32));
        Assert.False(image.TryReadAt(ulong.MaxValue - 8, new byte[4]));
        Assert.Throws<ElfFormatException>(() => image.ReadAt(ulong.MaxValue - 8, 4));
    }

    [Fact]
    public void WithFunctions_AddsNewNames_AndKeepsExistingOnes()
    {
        var symbols = ElfSymbols.Open(ElfTool.LibSsl);
        Assert.True(symbols.TryGetFunction("SSL_read", out var read));

        var merged = symbols.WithFunctions(
        [
            new ElfFunction("SSL_read", 1, 2, 3),
            new ElfFunction("go.extra", 0x1000, 16, 0x1000),
            new ElfFunction("go.extra", 0x2000, 16, 0x2000),
        ]);

        Assert.Equal(symbols.FunctionCount + 1, merged.FunctionCount);
        Assert.True(merged.TryGetFunction("SSL_read", out var kept));
        Assert.Equal(read, kept);
        Assert.True(merged.TryGetFunction("go.extra", out var extra));
        Assert.Equal(0x1000UL, extra.Address);
        Assert.Equal(symbols.BuildId, merged.BuildId);
        Assert.False(symbols.TryGetFunction("go.extra", out _));
    }

    private static ulong Hex(string text) => ulong.Parse(text, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
}
