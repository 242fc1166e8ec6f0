using System.Text.RegularExpressions;
using TlsScope.Bpf.Elf;

namespace TlsScope.Tests.Elf;

/// <summary>ElfSymbols against the real TLS libraries and programs installed on this machine.</summary>
public sealed class ElfSymbolsSystemTests
{
    private static readonly string[] TlsFunctions = ["SSL_read", "SSL_write", "SSL_read_ex", "SSL_write_ex", "SSL_free"];

    private static string LibSsl()
    {
        Assert.True(File.Exists(ElfTool.LibSsl), $"{ElfTool.LibSsl} is required for these tests");
        return ElfTool.RealPath(ElfTool.LibSsl);
    }

    [Fact]
    public void LibSsl_DefinesTheTlsFunctions_AndIsASharedObject()
    {
        var path = LibSsl();
        var elf = ElfSymbols.Open(path);

        Assert.Equal(path, elf.Path);
        Assert.True(elf.IsSharedObject);
        Assert.True(elf.HasFunctions(TlsFunctions));
        foreach (var name in TlsFunctions)
        {
            Assert.True(elf.TryGetFunction(name, out var function), name);
            Assert.Equal(name, function.Name);
            Assert.True(function.Size > 0, $"{name} has size 0");
        }
        Assert.False(elf.TryGetFunction("SSL_no_such_function", out _));
        // Data objects are not functions.
        var readelf = ElfTool.ReadelfSymbols(path, dynamicOnly: true);
        var dataObject = readelf.First(s => s.Type == "OBJECT" && s.SectionIndex != "UND");
        Assert.False(elf.TryGetFunction(dataObject.Name, out _), dataObject.Name);
    }

    [Fact]
    public void LibSsl_BuildId_MatchesReadelf()
    {
        var path = LibSsl();
        var elf = ElfSymbols.Open(path);

        Assert.NotNull(elf.BuildId);
        Assert.Matches("^[0-9a-f]{40}$", elf.BuildId);
        Assert.Equal(ElfTool.ReadelfBuildId(path), elf.BuildId);
    }

    [Fact]
    public void LibSsl_SslReadFileOffset_MatchesReadelf_AndPointsAtItsCode()
    {
        var path = LibSsl();
        var elf = ElfSymbols.Open(path);
        var expected = ElfTool.ReadelfSymbols(path, dynamicOnly: true).Single(s => s.Name == "SSL_read" && s.Type == "FUNC");

        Assert.True(elf.TryGetFunction("SSL_read", out var function));
        Assert.Equal(expected.Value, function.Address);
        Assert.Equal(expected.Size, function.Size.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(ElfTool.ExpectedFileOffset(path, function.Address), function.FileOffset);

        // The bytes at the offset are the ones objdump disassembles for SSL_read (found via sections).
        var code = ElfTool.FileBytes(path, function.FileOffset, 8);
        Assert.Equal(ElfTool.ObjdumpBytes(path, function.Address, 8), code);
        Assert.True(LooksLikeFunctionEntry(code), $"SSL_read starts with {Convert.ToHexString(code)}");
    }

    [Fact]
    public void LibSsl_FunctionNames_AreUnversionedAndUnique()
    {
        var elf = ElfSymbols.Open(LibSsl());
        var names = elf.Functions.Select(f => f.Name).ToList();

        Assert.Equal(elf.FunctionCount, names.Count);
        Assert.Equal(names.Count, names.Distinct(StringComparer.Ordinal).Count());
        Assert.DoesNotContain(names, n => n.Contains('@') || n.Length == 0);
        Assert.Superset(TlsFunctions.ToHashSet(), names.ToHashSet());
        Assert.All(elf.Functions, f => Assert.True(elf.TryGetFunction(f.Name, out var again) && again == f, f.Name));
    }

    [Fact]
    public void LibC_HasNoSslRead_ButHasItsOwnFunctions()
    {
        var elf = ElfSymbols.Open(ElfTool.RealPath(ElfTool.LibC));

        Assert.False(elf.TryGetFunction("SSL_read", out _));
        Assert.False(elf.HasFunctions("malloc", "SSL_read"));
        Assert.True(elf.HasFunctions("malloc", "free", "read", "write"));
    }

    [Fact]
    public void LibC_VersionedDuplicates_ResolveToTheDefaultVersion_IncludingIfuncs()
    {
        // libc defines memcpy twice: memcpy@GLIBC_2.2.5 (old, FUNC) and memcpy@@GLIBC_2.14 (default, IFUNC).
        var path = ElfTool.RealPath(ElfTool.LibC);
        var elf = ElfSymbols.Open(path);
        var memcpy = ElfTool.ReadelfSymbols(path, dynamicOnly: true)
            .Where(s => s.Name == "memcpy" && s.SectionIndex != "UND").ToList();
        var preferred = Assert.Single(memcpy, s => s.RawName.Contains("@@"));
        Assert.True(memcpy.Count > 1, "this libc has a single memcpy version; the test proves nothing");

        Assert.True(elf.TryGetFunction("memcpy", out var function));
        Assert.Equal(preferred.Value, function.Address);
        Assert.Equal(ElfTool.ExpectedFileOffset(path, function.Address), function.FileOffset);
    }

    /// <summary>node has both tables, ~185k symbols, names in both and local duplicates: every
    /// defined function name resolves to the symbol readelf's listing ranks first (default version,
    /// then global over local, then .dynsym over .symtab, then the first listed).</summary>
    [Fact]
    public void Node_EveryFunctionNameResolvesToTheSymbolItsRankPicks()
    {
        if (NodeSymbols() is not { } node)
        {
            return; // node is not installed: nothing to check (it is on the development machine)
        }

        var (path, elf) = node;

        var defined = ElfTool.ReadelfSymbols(path, dynamicOnly: false)
            .Where(s => s.Type is "FUNC" or "IFUNC" && s.SectionIndex != "UND" && s.Value != 0 && s.Name.Length > 0).ToList();
        var expected = defined
            .Select((s, order) => (Symbol: s, order, Rank: (s.RawName.Contains('@') && !s.RawName.Contains("@@") ? 4 : 0)
                | (s.Bind == "LOCAL" ? 2 : 0) | (s.Table == ".symtab" ? 1 : 0)))
            .GroupBy(s => s.Symbol.Name, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.OrderBy(s => s.Rank).ThenBy(s => s.order).First().Symbol, StringComparer.Ordinal);
        Assert.True(expected.Count > 50_000, $"{expected.Count} names: not the large table this test is about");

        Assert.Equal(expected.Count, elf.FunctionCount);
        // Every name once, where it first appears (.dynsym's order, then .symtab's new names).
        Assert.Equal(defined.Select(s => s.Name).Distinct(StringComparer.Ordinal), elf.Functions.Select(f => f.Name));
        Assert.All(elf.Functions, f => Assert.Equal((f.Name, expected[f.Name].Value), (f.Name, f.Address)));
        foreach (var (name, symbol) in expected)
        {
            Assert.True(elf.TryGetFunction(name, out var function), name);
            Assert.Equal((name, symbol.Value), (name, function.Address));
        }
    }

    [Fact]
    public void Node_ExportsSslReadAndWrite()
    {
        if (NodeSymbols() is not { } node)
        {
            return; // node is not installed: nothing to check (it is on the development machine)
        }

        var (path, elf) = node;

        Assert.True(elf.HasFunctions("SSL_read", "SSL_write"));
        Assert.Equal(ElfTool.ReadelfBuildId(path), elf.BuildId);
        var exported = ElfTool.ReadelfSymbols(path, dynamicOnly: true);
        foreach (var name in new[] { "SSL_read", "SSL_write" })
        {
            Assert.True(elf.TryGetFunction(name, out var function));
            Assert.Equal(exported.Single(s => s.Name == name && s.Type == "FUNC").Value, function.Address);
            Assert.Equal(ElfTool.ExpectedFileOffset(path, function.Address), function.FileOffset);
            Assert.Equal(ElfTool.ObjdumpBytes(path, function.Address, 8), ElfTool.FileBytes(path, function.FileOffset, 8));
            if (!elf.IsSharedObject)
            {
                Assert.NotEqual(function.Address, function.FileOffset);
            }
        }
    }

    /// <summary>Common x86-64 first instructions: endbr64, push, sub rsp, mov, xor, lea, test/cmp.</summary>
    private static bool LooksLikeFunctionEntry(byte[] code) =>
        Regex.IsMatch(Convert.ToHexString(code),
            "^(F30F1EFA|5[0-7]|415[0-7]|4883EC|4881EC|4[89C]8[9B]|31|4[18]31|4[18]8D|4[18]85|4[18]39|4[18]3B|85|39)");

    /// <summary>node's real path and symbols; null where node is not installed.</summary>
    private static (string Path, ElfSymbols Elf)? NodeSymbols()
    {
        if (!File.Exists(ElfTool.Node))
        {
            return null;
        }

        var path = ElfTool.RealPath(ElfTool.Node);
        return (path, ElfSymbols.Open(path));
    }
}
