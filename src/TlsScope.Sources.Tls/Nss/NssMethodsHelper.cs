using System.Globalization;
using System.Runtime.InteropServices;
using TlsScope.Bpf.Elf;

namespace TlsScope.Sources.Tls.Nss;

/// <summary>
/// The body of <c>tlsscope __nss-methods LIBSSL3</c>, run in a child process (as nobody when the
/// tool runs as root) because it loads the library: it pushes NSS's SSL layer on a fresh NSPR
/// socket (<c>SSL_ImportFD</c>), reads the layer's method table (NSPR's frozen PRIOMethods ABI) and
/// prints each probed method as "name 0xADDRESS", the address as in the file (symbol values'
/// terms). These functions are static in libssl3, so no symbol names them; the library builds the
/// table at run time, which is why it is asked rather than disassembled.
/// </summary>
public static unsafe class NssMethodsHelper
{
    public const string Command = "__nss-methods";

    /// <summary>PRIOMethods slots (8 bytes each after file_type): close 1, read 2, write 3, recv 17, send 18.</summary>
    public static readonly IReadOnlyList<(string Name, int Slot)> Slots = [("close", 1), ("read", 2), ("write", 3), ("recv", 17), ("send", 18)];

    /// <summary>PR_DESC_LAYERED: the file_type of a layer's table.</summary>
    private const int DescLayered = 4;

    public static int Run(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length != 1 || args[0].Length == 0)
        {
            Console.Error.WriteLine($"tlsscope: usage: tlsscope {Command} LIBSSL3");
            return 2;
        }

        try
        {
            foreach (var (name, address) in Read(Path.GetFullPath(args[0])))
            {
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name} 0x{address:x}"));
            }

            return 0;
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException
            or DllNotFoundException or EntryPointNotFoundException or BadImageFormatException or ElfFormatException)
        {
            Console.Error.WriteLine($"tlsscope: reading the SSL layer of {args[0]} failed: {e.Message.Split('\n')[0]}");
            return 1;
        }
    }

    /// <summary>Loads the library into this process and reads its SSL layer's methods.</summary>
    public static List<(string Name, ulong Address)> Read(string path)
    {
        var elf = ElfSymbols.Open(path);
        if (!elf.TryGetFunction("SSL_ImportFD", out var import))
        {
            throw new InvalidOperationException("no SSL_ImportFD: not NSS's libssl3");
        }

        var handle = NativeLibrary.Load(path);
        var importFd = (delegate* unmanaged<nint, nint, nint>)NativeLibrary.GetExport(handle, "SSL_ImportFD");
        var newTcpSocket = (delegate* unmanaged<nint>)NativeLibrary.GetExport(handle, "PR_NewTCPSocket"); // libnspr4, a dependency
        var close = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(handle, "PR_Close");
        var loadBias = (ulong)(nint)importFd - import.Address;

        var socket = newTcpSocket();
        if (socket == 0)
        {
            throw new InvalidOperationException("PR_NewTCPSocket failed");
        }

        var layered = importFd(0, socket);
        if (layered == 0)
        {
            close(socket);
            throw new InvalidOperationException("SSL_ImportFD failed");
        }

        var methods = *(nint**)layered;
        if (*(int*)methods != DescLayered)
        {
            throw new InvalidOperationException($"the SSL layer's file_type is {*(int*)methods}, not PR_DESC_LAYERED");
        }

        var found = Slots.Select(s => (s.Name, (ulong)methods[s.Slot] - loadBias)).ToList();
        close(layered);
        return found;
    }
}
