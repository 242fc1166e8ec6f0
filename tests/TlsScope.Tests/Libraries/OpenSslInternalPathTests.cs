using TlsScope.Bpf.Elf;
using TlsScope.Sources.Tls.OpenSsl;
using TlsScope.Sources.Tls.Probes;
using TlsScope.Tests.Elf;
using TlsScope.Tests.Tools;

namespace TlsScope.Tests.Libraries;

/// <summary>
/// InternalPath on real OpenSSL builds: Debian's stripped libssl.so.3, and a program linked with
/// Debian's libssl.a, whose symbol table names ssl_read_internal/ssl_write_internal (the answer
/// to check the disassembly against). BoringSSL and damaged files keep the exported functions.
/// </summary>
public sealed class OpenSslInternalPathTests : IDisposable
{
    private const string BoringSsl = "/usr/lib/x86_64-linux-gnu/android/libssl.so.0";
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>A program with OpenSSL linked in, calling what the library's own path needs kept.</summary>
    private string StaticProgram(bool withBio)
    {
        var source = _temp.File("uses.c");
        File.WriteAllText(source, $$"""
            #include <openssl/ssl.h>
            #include <stdio.h>
            int main(int argc, char **argv)
            {
                SSL *s = SSL_new(SSL_CTX_new(TLS_client_method()));
                char b[16]; size_t n;
                printf("%d %d %d %d %p\n", SSL_read(s, b, argc), SSL_write(s, b, argc),
                    SSL_read_ex(s, b, argc, &n), SSL_write_ex(s, b, argc, &n), {{(withBio ? "(void *)BIO_f_ssl()" : "(void *)0")}});
                return 0;
            }
            """);
        var output = _temp.File(withBio ? "uses-bio" : "uses");
        ExternalProgram.Run("gcc", "-O2", "-o", output, source, "-Wl,-Bstatic", "-lssl", "-lcrypto", "-Wl,-Bdynamic", "-lpthread", "-ldl");
        return output;
    }

    private static ulong SymtabAddress(string path, string name) =>
        Assert.Single(ElfTool.ReadelfSymbols(path, dynamicOnly: false), s => s.Table == ".symtab" && s.Name == name).Value;

    [Fact]
    public void StaticOpenSsl_FindsTheFunctionsItsSymbolTableNames()
    {
        var program = StaticProgram(withBio: true);

        var found = InternalPath.Find(program, ElfSymbols.Open(program));

        Assert.True(found.Found, found.Reason);
        Assert.Equal(SymtabAddress(program, "ssl_read_internal"), found.Read!.Value.Address);
        Assert.Equal(SymtabAddress(program, "ssl_write_internal"), found.Write!.Value.Address);
        Assert.False(found.WriteHasFlags); // 3.0: no SSL_write_ex2
    }

    [Fact]
    public void StaticOpenSsl_WithoutTheSslBio_KeepsTheExportedFunctions()
    {
        var program = StaticProgram(withBio: false);

        var found = InternalPath.Find(program, ElfSymbols.Open(program));

        Assert.False(found.Found);
        Assert.Equal("no BIO_f_ssl to check the candidates against", found.Reason);
    }

    [Fact]
    public void DebianLibSsl_StrippedStillFound_NeitherExportedNorInThePlt()
    {
        var elf = ElfSymbols.Open(ElfTool.LibSsl);

        var found = InternalPath.Find(ElfTool.LibSsl, elf);

        Assert.True(found.Found, found.Reason);
        Assert.NotEqual(found.Read!.Value.Address, found.Write!.Value.Address);
        var exported = elf.Functions.Select(f => f.Address).ToHashSet();
        Assert.DoesNotContain(found.Read.Value.Address, exported);
        Assert.DoesNotContain(found.Write.Value.Address, exported);
        var text = ElfTool.ReadelfSymbols(ElfTool.LibSsl, dynamicOnly: true); // readelf agrees the file has SSL_read_ex
        Assert.Contains(text, s => s.Name == "SSL_read_ex");
        // In this file virtual addresses in .text equal their file offsets.
        Assert.Equal(found.Read.Value.Address, found.Read.Value.FileOffset);
    }

    [Fact]
    public void FamilyMatch_ReplacesTheExportedProbesByTheInternalOnes()
    {
        var (family, symbols) = LibraryFamily.Match(ElfTool.LibSsl, ElfSymbols.Open(ElfTool.LibSsl), [ProbeTable.OpenSsl])!.Value;

        Assert.Same(ProbeTable.OpenSsl, family);
        Assert.True(symbols.TryGetFunction(InternalPath.Read, out _));
        Assert.True(symbols.TryGetFunction(InternalPath.Write, out _));
        Assert.False(symbols.TryGetFunction(InternalPath.WriteWithFlags, out _));
        var attached = family.Probes.Where(p => p.ReplacedBy is null || !symbols.TryGetFunction(p.ReplacedBy, out _))
            .Where(p => symbols.TryGetFunction(p.Symbol, out _)).Select(p => p.Symbol).Distinct().ToList();
        Assert.DoesNotContain("SSL_read", attached);
        Assert.DoesNotContain("SSL_write_ex", attached);
        Assert.Contains(InternalPath.Read, attached);
        Assert.StartsWith("internal read/write at 0x", InternalPath.Describe(symbols));
    }

    [Fact]
    public void BoringSsl_KeepsTheExportedFunctions_AndSaysWhy()
    {
        var elf = ElfSymbols.Open(BoringSsl);

        var symbols = InternalPath.AddTo(BoringSsl, elf);

        Assert.False(symbols.TryGetFunction(InternalPath.Read, out _));
        Assert.Equal("exported functions only: no SSL_read_ex/SSL_write_ex (BoringSSL, or OpenSSL before 1.1.1)", InternalPath.Describe(symbols));
    }

    [Fact]
    public void DamagedCode_IsAReason_NotAnException()
    {
        // The library's symbols over a copy whose code is zeros: nothing decodes to the calls.
        var copy = _temp.File("libssl-zeroed.so");
        var bytes = File.ReadAllBytes(ElfTool.LibSsl);
        var elf = ElfSymbols.Open(ElfTool.LibSsl);
        Assert.True(elf.TryGetFunction("SSL_read_ex", out var readEx));
        Array.Clear(bytes, (int)readEx.FileOffset, (int)readEx.Size);
        File.WriteAllBytes(copy, bytes);

        var found = InternalPath.Find(copy, ElfSymbols.Open(copy));

        Assert.False(found.Found);
        Assert.Equal("SSL_read_ex calls no function of the library", found.Reason);
        Assert.False(InternalPath.Find(_temp.File("missing.so"), elf).Found);
    }
}
