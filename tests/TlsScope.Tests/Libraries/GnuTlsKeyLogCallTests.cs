using TlsScope.Bpf.Elf;
using TlsScope.Sources.Tls.GnuTls;
using TlsScope.Tests.Elf;
using TlsScope.Tests.Tools;

namespace TlsScope.Tests.Libraries;

/// <summary>
/// KeyLogCall on Debian's stripped libgnutls.so.30: the internal key log call is found, and the
/// client random's offset equals what a C program learns from gnutls_session_get_random on a
/// live session (the oracle). Files without it say why.
/// </summary>
public sealed class GnuTlsKeyLogCallTests : IDisposable
{
    private const string LibGnutls = "/usr/lib/x86_64-linux-gnu/libgnutls.so.30";
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private ulong OracleRandomOffset()
    {
        var source = _temp.File("random.c");
        File.WriteAllText(source, """
            #include <dlfcn.h>
            #include <stdio.h>
            typedef struct { unsigned char *data; unsigned size; } datum;
            int main(int argc, char **argv)
            {
                void *h = dlopen(argv[1], RTLD_NOW);
                int (*init)(void **, unsigned) = (int (*)(void **, unsigned))dlsym(h, "gnutls_init");
                void (*get)(void *, datum *, datum *) = (void (*)(void *, datum *, datum *))dlsym(h, "gnutls_session_get_random");
                void *session;
                if (init(&session, 1) != 0)
                    return 1;
                datum client, server;
                get(session, &client, &server);
                printf("%lx %u\n", (unsigned long)(client.data - (unsigned char *)session), client.size);
                return 0;
            }
            """);
        var program = _temp.File("random");
        ExternalProgram.Run("gcc", "-o", program, source, "-ldl");
        var parts = ExternalProgram.Run(program, LibGnutls).Trim().Split(' ');
        Assert.Equal("32", parts[1]);
        return Convert.ToUInt64(parts[0], 16);
    }

    [Fact]
    public void DebianGnutls_TheKeyLogCallIsFound_AndTheRandomOffsetIsTheLiveOne()
    {
        var elf = ElfSymbols.Open(LibGnutls);

        var found = KeyLogCall.Find(LibGnutls, elf);

        Assert.Null(found.Reason);
        Assert.Equal(OracleRandomOffset(), found.RandomOffset);
        var fn = found.Function!.Value;
        Assert.DoesNotContain(elf.Functions, f => f.Address == fn.Address); // internal, not exported
        Assert.True(elf.TryGetFunction("gnutls_session_set_keylog_function", out var set));
        Assert.InRange(fn.Address, set.Address - 0x10000, set.Address + 0x10000); // lib/kx.c, next to its setter

        var symbols = KeyLogCall.AddTo(LibGnutls, elf);
        Assert.True(symbols.TryGetFunction(KeyLogCall.Name, out _));
        Assert.Null(KeyLogCall.For(symbols)!.Reason);
    }

    [Fact]
    public void OtherLibraries_SayWhy()
    {
        var openssl = ElfSymbols.Open(ElfTool.LibSsl);

        Assert.Equal("no gnutls_session_set_keylog_function (GnuTLS before 3.6.13)", KeyLogCall.Find(ElfTool.LibSsl, openssl).Reason);
        Assert.Same(openssl, KeyLogCall.AddTo(ElfTool.LibSsl, openssl)); // not looked at: no gnutls_record_recv
    }
}
