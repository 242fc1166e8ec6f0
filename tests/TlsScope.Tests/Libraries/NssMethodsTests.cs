using TlsScope.Bpf.Elf;
using TlsScope.Sources.Tls.Nss;
using TlsScope.Tests.Elf;
using TlsScope.Tests.Tools;

namespace TlsScope.Tests.Libraries;

/// <summary>
/// NSS's SSL layer methods read from Debian's libssl3.so, checked against a C program that asks
/// the same library with dladdr (the oracle), and the parsing and checks of the helper's answer.
/// </summary>
public sealed class NssMethodsTests : IDisposable
{
    private const string LibSsl3 = "/usr/lib/x86_64-linux-gnu/libssl3.so";
    private static readonly Func<string> Original = NssMethods.CacheDirectory;
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>"slot offset" for each PRIOMethods slot, from dladdr in a C program.</summary>
    private Dictionary<int, ulong> OracleSlots()
    {
        var source = _temp.File("slots.c");
        File.WriteAllText(source, """
            #define _GNU_SOURCE
            #include <dlfcn.h>
            #include <stdio.h>
            int main(int argc, char **argv)
            {
                void *h = dlopen(argv[1], RTLD_NOW);
                void *(*newsock)(void) = (void *(*)(void))dlsym(h, "PR_NewTCPSocket");
                void *(*import)(void *, void *) = (void *(*)(void *, void *))dlsym(h, "SSL_ImportFD");
                void **methods = *(void ***)import(0, newsock());
                for (int slot = 1; slot <= 18; slot++) {
                    Dl_info info;
                    if (methods[slot] && dladdr(methods[slot], &info))
                        printf("%d %lx\n", slot, (unsigned long)((char *)methods[slot] - (char *)info.dli_fbase));
                }
                return 0;
            }
            """);
        var program = _temp.File("slots");
        ExternalProgram.Run("gcc", "-o", program, source, "-ldl");
        return ExternalProgram.Run(program, LibSsl3).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ')).ToDictionary(p => int.Parse(p[0]), p => Convert.ToUInt64(p[1], 16));
    }

    [Fact]
    public void TheHelper_ReadsWhatDladdrSees()
    {
        var oracle = OracleSlots();

        var read = NssMethodsHelper.Read(LibSsl3);

        Assert.Equal(5, read.Count);
        foreach (var (name, address) in read)
        {
            var slot = NssMethodsHelper.Slots.Single(s => s.Name == name).Slot;
            Assert.Equal(oracle[slot], address);
        }
    }

    [Fact]
    public void FoundMethods_AreFunctionsOfTheLibrary_UnderTheirProbeNames()
    {
        var original = NssMethods.Ask;
        NssMethods.CacheDirectory = () => _temp.File("cache");
        try
        {
            var asked = 0;
            NssMethods.Ask = path => { asked++; return string.Join('\n', NssMethodsHelper.Read(path).Select(m => $"{m.Name} 0x{m.Address:x}")); };
            var elf = ElfSymbols.Open(LibSsl3);

            var symbols = NssMethods.AddTo(LibSsl3, elf)!;
            var again = NssMethods.AddTo(LibSsl3, elf)!;

            foreach (var name in new[] { NssMethods.Read, NssMethods.Write, NssMethods.Recv, NssMethods.Send, NssMethods.Close })
            {
                Assert.True(symbols.TryGetFunction(name, out var fn), name);
                Assert.True(again.TryGetFunction(name, out var cached), name);
                Assert.Equal(fn, cached);
            }

            Assert.Equal(1, asked); // the second answer came from the cache
            Assert.Null(NssMethods.AddTo(ElfTool.LibSsl, ElfSymbols.Open(ElfTool.LibSsl))); // OpenSSL's is not NSS's
        }
        finally
        {
            NssMethods.Ask = original;
            NssMethods.CacheDirectory = Original;
        }
    }

    [Theory]
    [InlineData("read 0x34140\nwrite 0x341e0\nrecv 0x34280\nsend 0x34330", "the helper named too few methods")]
    [InlineData("read 34140", "unexpected helper output 'read 34140'")]
    [InlineData("close 0x10\nread 0x34140\nwrite 0x341e0\nrecv 0x34280\nsend 0x34330", "close at 0x10 is not in the library's code")]
    [InlineData("close 0x34140\nread 0x34140\nwrite 0x341e0\nrecv 0x34280\nsend 0x34330", "two methods at one address")]
    public void WrongAnswers_AreRefusedWithAReason(string answer, string reason)
    {
        var original = NssMethods.Ask;
        var cache = _temp.File("cache-" + Guid.NewGuid().ToString("n"));
        NssMethods.CacheDirectory = () => cache;
        try
        {
            NssMethods.Ask = _ => answer;
            var elf = ElfSymbols.Open(LibSsl3);

            var symbols = NssMethods.AddTo(LibSsl3, elf)!;

            Assert.False(symbols.TryGetFunction(NssMethods.Read, out _));
            Assert.Equal("NSS's SSL layer methods not found: " + reason, NssMethods.Explain(LibSsl3));
        }
        finally
        {
            NssMethods.Ask = original;
            NssMethods.CacheDirectory = Original;
        }
    }

    [Fact]
    public void TheReasonsKeptAreBounded()
    {
        var trusted = NssMethods.Trusted;
        try
        {
            NssMethods.Trusted = _ => "it is writable by others";
            var elf = ElfSymbols.Open(LibSsl3);
            string Copy(int i) => $"/nonexistent/copy{i}/libssl3.so";
            for (var i = 0; i < 300; i++)
            {
                NssMethods.AddTo(Copy(i), elf);
            }

            Assert.Null(NssMethods.Explain(Copy(0))); // forgotten when the table was full
            Assert.NotNull(NssMethods.Explain(Copy(299)));
            Assert.InRange(Enumerable.Range(0, 300).Count(i => NssMethods.Explain(Copy(i)) is not null), 300 - 256, 256); // other tests' entries count too
        }
        finally
        {
            NssMethods.Trusted = trusted;
        }
    }

    [Fact]
    public void AnUntrustedFile_IsNotLoaded_ButMayUseACachedAnswerOfItsBuild()
    {
        var (ask, trusted) = (NssMethods.Ask, NssMethods.Trusted);
        var cache = _temp.File("cache-untrusted");
        NssMethods.CacheDirectory = () => cache;
        try
        {
            var asked = 0;
            NssMethods.Ask = path => { asked++; return string.Join('\n', NssMethodsHelper.Read(path).Select(m => $"{m.Name} 0x{m.Address:x}")); };
            NssMethods.Trusted = _ => "it is writable by others";
            var elf = ElfSymbols.Open(LibSsl3);

            Assert.False(NssMethods.AddTo(LibSsl3, elf)!.TryGetFunction(NssMethods.Read, out _));
            Assert.Equal("NSS's SSL layer methods not found: not loaded to ask it: it is writable by others", NssMethods.Explain(LibSsl3));
            Assert.Equal(0, asked);

            NssMethods.Trusted = _ => null; // the trusted copy of the same build is asked once
            Assert.True(NssMethods.AddTo(LibSsl3, elf)!.TryGetFunction(NssMethods.Read, out _));
            NssMethods.Trusted = _ => "it is writable by others";
            Assert.True(NssMethods.AddTo(LibSsl3, elf)!.TryGetFunction(NssMethods.Read, out _));
            Assert.Equal(1, asked);
        }
        finally
        {
            (NssMethods.Ask, NssMethods.Trusted) = (ask, trusted);
            NssMethods.CacheDirectory = Original;
        }
    }
}
