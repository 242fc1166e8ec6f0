using System.Runtime.InteropServices;

namespace TlsScope.Outputs.Pcapng;

/// <summary>The few libpcap calls a filter needs: compile against a dead handle, run on a
/// packet in memory.</summary>
internal static unsafe partial class LibPcap
{
    public const string LibraryName = "libpcap.so.0.8";

    /// <summary>DLT_RAW on Linux (LINKTYPE_RAW, 101, in files).</summary>
    public const int DataLinkRaw = 12;

    /// <summary>PCAP_NETMASK_UNKNOWN: "ip broadcast" is refused rather than guessed.</summary>
    public const uint NetmaskUnknown = 0xFFFFFFFF;

    /// <summary>struct bpf_program.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct BpfProgram
    {
        public uint Length;
        public nint Instructions;
    }

    /// <summary>struct pcap_pkthdr on 64-bit Linux (struct timeval is two longs).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PacketHeader
    {
        public long Seconds;
        public long Microseconds;
        public uint CapturedLength;
        public uint Length;
    }

    [LibraryImport(LibraryName, EntryPoint = "pcap_open_dead")]
    public static partial nint OpenDead(int linkType, int snapLength);

    [LibraryImport(LibraryName, EntryPoint = "pcap_compile", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Compile(nint pcap, BpfProgram* program, string expression, int optimize, uint netmask);

    [LibraryImport(LibraryName, EntryPoint = "pcap_geterr")]
    public static partial nint GetError(nint pcap);

    [LibraryImport(LibraryName, EntryPoint = "pcap_offline_filter")]
    public static partial int OfflineFilter(BpfProgram* program, PacketHeader* header, byte* packet);

    [LibraryImport(LibraryName, EntryPoint = "pcap_freecode")]
    public static partial void FreeCode(BpfProgram* program);

    [LibraryImport(LibraryName, EntryPoint = "pcap_close")]
    public static partial void Close(nint pcap);
}
