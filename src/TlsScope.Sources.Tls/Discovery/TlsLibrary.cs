using TlsScope.Bpf;
using TlsScope.Bpf.Elf;
using TlsScope.Sources.Tls.Probes;

namespace TlsScope.Sources.Tls.Discovery;

/// <summary>A binary (shared library or executable) with TLS functions to probe. Id is the
/// attach cookie the kernel stamps on each record.</summary>
public sealed record TlsLibrary(int Id, string Path, FileIdentity Identity, LibraryFamily Family, ElfSymbols Symbols)
{
    public string Name => System.IO.Path.GetFileName(Path);
}
