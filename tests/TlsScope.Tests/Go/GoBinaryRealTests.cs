using TlsScope.Bpf.Elf;
using TlsScope.Sources.Tls.Go.Binary;
using TlsScope.Tests.Elf;

namespace TlsScope.Tests.Go;

/// <summary>
/// GoBinary against real Go binaries: the toolchain matrix (Go 1.15–1.26, each variant; missing
/// binaries fail), and a development set built here with the go on PATH ("dev"; skipped without
/// go). Independent answers: <c>go version</c>, and the ELF .symtab of the unstripped variants.
/// </summary>
public sealed class GoBinaryRealTests
{
    // Go pads functions to at most 64 bytes on amd64; pclntab sizes run to the next entry.
    private const ulong MaxPadding = 64;

    public static IEnumerable<object[]> AllCases() =>
        GoTestBinaries.MatrixCases().Concat(GoTestBinaries.Variants.Append("external-pie").Select(v => new object[] { "dev", v }));

    public static IEnumerable<object[]> UnstrippedCases() =>
        AllCases().Where(c => !((string)c[1]).Contains("stripped", StringComparison.Ordinal));

    public static IEnumerable<object[]> Versions() => GoTestBinaries.MatrixVersions().Append(["dev"]);

    [Theory]
    [MemberData(nameof(AllCases))]
    public void BuildInfoVersion_IsWhatGoVersionSays(string version, string variant)
    {
        if (PathOf(version, variant) is not { } path)
        {
            return;
        }

        // "<path>: go1.19.8"
        var expected = ElfTool.Run(GoTestBinaries.GoCommand(version == "dev" ? GoTestBinaries.DevelopmentToolchain : version), "version", path).Trim();
        expected = expected[(expected.LastIndexOf(": ", StringComparison.Ordinal) + 2)..];

        var go = GoBinary.TryOpen(path);

        Assert.NotNull(go);
        Assert.Equal(expected, go.BuildInfo?.Version);
        Assert.True(GoBinary.MayBe(path));
        Assert.Equal(go.Version!.Value.IsAtLeast(1, 17), go.RegisterAbi);
        if (version != "dev")
        {
            Assert.StartsWith($"go{version}", expected, StringComparison.Ordinal);
        }
    }

    [Theory]
    [MemberData(nameof(AllCases))]
    public void TlsFunctions_HaveRetsAndNoTailJumps(string version, string variant)
    {
        if (PathOf(version, variant) is not { } path)
        {
            return;
        }

        var go = GoBinary.TryOpen(path)!;
        foreach (var name in GoTestBinaries.TlsFunctions)
        {
            Assert.True(go.TryGetFunction(name, out var function), $"{name} not in {path}");
            Assert.Equal(name, function.Name);
            var sites = ReturnSites.Find(path, function);
            Assert.True(sites.IsComplete, $"{name}: {sites.Problem}");
            Assert.NotEmpty(sites.Offsets);
            foreach (var offset in sites.Offsets)
            {
                Assert.Equal(0xc3, ElfTool.FileBytes(path, function.FileOffset + offset, 1)[0]);
            }
        }
    }

    /// <summary>Every pclntab function that .symtab also names has the same entry, and a size from
    /// the symbol's size up to the next function's (alignment padding). For externally linked
    /// binaries this is the check that textStart, not .text's address, is the base. The pclntab
    /// gives an ABI wrapper its function's name; .symtab calls it "name.abi0".</summary>
    [Theory]
    [MemberData(nameof(UnstrippedCases))]
    public void Functions_MatchTheSymbolTable(string version, string variant)
    {
        if (PathOf(version, variant) is not { } path)
        {
            return;
        }

        var symbols = ElfSymbols.Open(path);
        var go = GoBinary.TryOpen(path)!;
        var matched = 0;
        foreach (var function in go.Functions)
        {
            if (!symbols.TryGetFunction(function.Name, out var symbol))
            {
                continue;
            }

            if (symbol.Address != function.Address && symbols.TryGetFunction(function.Name + ".abi0", out var wrapper))
            {
                symbol = wrapper;
            }

            matched++;
            Assert.True(symbol.Address == function.Address, $"{function.Name}: symtab 0x{symbol.Address:x}, pclntab 0x{function.Address:x}");
            Assert.Equal(symbol.FileOffset, function.FileOffset);
            Assert.True(symbol.Size <= function.Size && function.Size - symbol.Size < MaxPadding,
                $"{function.Name}: symtab size {symbol.Size}, pclntab size {function.Size}");
        }
        Assert.True(matched > go.FunctionCount * 9 / 10, $"only {matched} of {go.FunctionCount} pclntab functions are in .symtab");
        foreach (var name in GoTestBinaries.TlsFunctions)
        {
            Assert.True(go.TryGetFunction(name, out var function));
            Assert.True(symbols.TryGetFunction(name, out var symbol));
            Assert.Equal(symbol.Address, function.Address);
        }
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public void StrippedVariant_GivesTheSameFunctions(string version)
    {
        foreach (var (full, stripped) in GoTestBinaries.StrippedPairs)
        {
            if (PathOf(version, full) is not { } fullPath || PathOf(version, stripped) is not { } strippedPath)
            {
                return;
            }

            Assert.Equal(GoBinary.TryOpen(fullPath)!.ToElfFunctions(), GoBinary.TryOpen(strippedPath)!.ToElfFunctions());
        }
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public void ExternalLinking_TextStartIsNotTheTextSection(string version)
    {
        if (PathOf(version, "external") is not { } path)
        {
            return;
        }

        using var image = ElfImage.Open(path);
        var go = GoBinary.TryOpen(path)!;

        Assert.NotEqual(image.FindSection(".text")!.Value.Address, go.TextStart);
        Assert.True(image.FindSection(".text")!.Value.Contains(go.TextStart));
    }

    [Fact]
    public void NonGoFiles_AreNotGo()
    {
        Assert.False(GoBinary.MayBe(ElfTool.LibSsl));
        Assert.Null(GoBinary.TryOpen(ElfTool.LibSsl));
        var script = Path.GetTempFileName();
        try
        {
            File.WriteAllText(script, "#!/bin/sh\n");
            Assert.False(GoBinary.MayBe(script));
            Assert.Null(GoBinary.TryOpen(script));
        }
        finally
        {
            File.Delete(script);
        }
    }

    [Fact]
    public void MergedIntoElfSymbols_StrippedBinaryGainsGoFunctions()
    {
        if (PathOf("1.26", "pie-stripped") is not { } path)
        {
            return;
        }

        var symbols = ElfSymbols.Open(path);
        Assert.False(symbols.TryGetFunction(GoTestBinaries.ConnRead, out _));
        var go = GoBinary.TryOpen(path)!;

        var merged = symbols.WithFunctions(go.ToElfFunctions());

        Assert.True(merged.TryGetFunction(GoTestBinaries.ConnRead, out var read));
        Assert.True(go.TryGetFunction(GoTestBinaries.ConnRead, out var expected));
        Assert.Equal(expected, read);
    }

    private static string? PathOf(string version, string variant) =>
        version == "dev" ? GoTestBinaries.Development(variant) : GoTestBinaries.Matrix(version, variant);
}
