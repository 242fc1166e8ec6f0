using System.Runtime.InteropServices;

namespace TlsScope.Outputs.Pcapng;

/// <summary>
/// A tcpdump (pcap-filter) expression, compiled by libpcap once per link type and run on
/// packets in memory. Thread-safe.
/// </summary>
public sealed unsafe class PacketFilter : IDisposable
{
    private const int SnapLength = 262144;

    private readonly Dictionary<int, nint> _programs = []; // link type -> BpfProgram*, 0 when it does not compile
    private readonly Lock _lock = new();
    private bool _disposed;

    private PacketFilter(string expression)
    {
        Expression = expression;
    }

    public string Expression { get; }

    /// <summary>
    /// Compiles <paramref name="expression"/> for each of <paramref name="linkTypes"/> (Ethernet
    /// when none is given), so that a bad expression is reported before capturing. Other link
    /// types are compiled when first seen; one the expression does not fit (say "ether host"
    /// on raw IP) matches no packet.
    /// </summary>
    /// <exception cref="PacketFilterException">The expression does not compile, or libpcap is missing.</exception>
    public static PacketFilter Compile(string expression, params int[] linkTypes)
    {
        ArgumentNullException.ThrowIfNull(expression);
        var filter = new PacketFilter(expression);
        try
        {
            foreach (int linkType in linkTypes.Length == 0 ? [LinkType.Ethernet] : linkTypes)
            {
                filter._programs[linkType] = filter.CompileFor(linkType);
            }

            return filter;
        }
        catch
        {
            filter.Dispose();
            throw;
        }
    }

    /// <summary>Whether the packet (starting at its link-layer header) passes the filter.</summary>
    public bool Matches(int linkType, ReadOnlySpan<byte> packet, int originalLength)
    {
        nint program = ProgramFor(linkType);
        if (program == 0)
        {
            return false;
        }

        var header = new LibPcap.PacketHeader
        {
            CapturedLength = (uint)packet.Length,
            Length = (uint)Math.Max(originalLength, packet.Length),
        };
        fixed (byte* bytes = packet)
        {
            return LibPcap.OfflineFilter((LibPcap.BpfProgram*)program, &header, bytes) != 0;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (nint program in _programs.Values.Where(p => p != 0))
            {
                LibPcap.FreeCode((LibPcap.BpfProgram*)program);
                NativeMemory.Free((void*)program);
            }

            _programs.Clear();
        }
    }

    private nint ProgramFor(int linkType)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_programs.TryGetValue(linkType, out nint program))
            {
                try
                {
                    program = CompileFor(linkType);
                }
                catch (PacketFilterException)
                {
                    program = 0;
                }

                _programs[linkType] = program;
            }

            return program;
        }
    }

    private nint CompileFor(int linkType)
    {
        nint pcap;
        try
        {
            pcap = LibPcap.OpenDead(DataLinkType(linkType), SnapLength);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            throw new PacketFilterException(
                $"--filter needs {LibPcap.LibraryName} (install the libpcap0.8 package)", e);
        }

        if (pcap == 0)
        {
            throw Failure("cannot open libpcap");
        }

        var program = (LibPcap.BpfProgram*)NativeMemory.AllocZeroed((nuint)sizeof(LibPcap.BpfProgram));
        try
        {
            if (LibPcap.Compile(pcap, program, Expression, optimize: 1, LibPcap.NetmaskUnknown) != 0)
            {
                NativeMemory.Free(program);
                throw Failure(Marshal.PtrToStringUTF8(LibPcap.GetError(pcap)) ?? "does not compile");
            }

            return (nint)program;
        }
        finally
        {
            LibPcap.Close(pcap);
        }
    }

    // libpcap takes DLT_ values, which differ from the LINKTYPE_ values in files for raw IP.
    private static int DataLinkType(int linkType) => linkType == LinkType.RawIp ? LibPcap.DataLinkRaw : linkType;

    private PacketFilterException Failure(string reason)
    {
        return new PacketFilterException($"--filter '{OneLine(Expression)}': {OneLine(reason)}");
    }

    private static string OneLine(string text) =>
        string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
