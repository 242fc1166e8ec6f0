using System.Runtime.InteropServices;

namespace TlsScope.Bpf.Native;

/// <summary>
/// The thin P/Invoke layer over libbpf.so.1 (1.1+). libbpf 1.x returns NULL or a negative
/// errno and sets errno; SetLastError captures it. Nothing here is used outside this assembly.
/// </summary>
internal static unsafe partial class LibBpf
{
    private const string Lib = "libbpf.so.1";

    [LibraryImport(Lib, EntryPoint = "libbpf_set_print")]
    internal static partial nint SetPrint(delegate* unmanaged<int, byte*, nint, int> fn);

    [LibraryImport(Lib, EntryPoint = "libbpf_num_possible_cpus")]
    internal static partial int NumPossibleCpus();

    [LibraryImport(Lib, EntryPoint = "libbpf_probe_bpf_map_type")]
    internal static partial int ProbeMapType(int mapType, nint opts);

    [LibraryImport(Lib, EntryPoint = "libbpf_probe_bpf_helper")]
    internal static partial int ProbeHelper(int progType, int helperId, nint opts);

    [LibraryImport(Lib, EntryPoint = "bpf_object__open_mem", SetLastError = true)]
    internal static partial nint ObjectOpenMem(byte* buf, nuint size, nint opts);

    [LibraryImport(Lib, EntryPoint = "bpf_object__load", SetLastError = true)]
    internal static partial int ObjectLoad(nint obj);

    [LibraryImport(Lib, EntryPoint = "bpf_object__close")]
    internal static partial void ObjectClose(nint obj);

    [LibraryImport(Lib, EntryPoint = "bpf_object__find_program_by_name", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint FindProgram(nint obj, string name);

    [LibraryImport(Lib, EntryPoint = "bpf_object__find_map_by_name", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint FindMap(nint obj, string name);

    [LibraryImport(Lib, EntryPoint = "bpf_program__set_autoload")]
    internal static partial int ProgramSetAutoload(nint prog, [MarshalAs(UnmanagedType.U1)] bool autoload);

    [LibraryImport(Lib, EntryPoint = "bpf_program__fd")]
    internal static partial int ProgramFd(nint prog);

    [LibraryImport(Lib, EntryPoint = "bpf_map__set_max_entries")]
    internal static partial int MapSetMaxEntries(nint map, uint maxEntries);

    [LibraryImport(Lib, EntryPoint = "bpf_map__initial_value")]
    internal static partial byte* MapInitialValue(nint map, out nuint size);

    [LibraryImport(Lib, EntryPoint = "bpf_map__fd")]
    internal static partial int MapFd(nint map);

    [LibraryImport(Lib, EntryPoint = "bpf_map__value_size")]
    internal static partial uint MapValueSize(nint map);

    [LibraryImport(Lib, EntryPoint = "bpf_map_lookup_elem", SetLastError = true)]
    internal static partial int MapLookupElem(int fd, void* key, void* value);

    [LibraryImport(Lib, EntryPoint = "bpf_map_delete_elem", SetLastError = true)]
    internal static partial int MapDeleteElem(int fd, void* key);

    [LibraryImport(Lib, EntryPoint = "bpf_map__reuse_fd")]
    internal static partial int MapReuseFd(nint map, int fd);

    [LibraryImport(Lib, EntryPoint = "bpf_object__next_program")]
    internal static partial nint NextProgram(nint obj, nint prev);

    [LibraryImport(Lib, EntryPoint = "bpf_object__next_map")]
    internal static partial nint NextMap(nint obj, nint prev);

    [LibraryImport(Lib, EntryPoint = "bpf_program__name")]
    internal static partial byte* ProgramName(nint prog);

    [LibraryImport(Lib, EntryPoint = "bpf_map__name")]
    internal static partial byte* MapName(nint map);

    [LibraryImport(Lib, EntryPoint = "bpf_program__attach_raw_tracepoint", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial nint AttachRawTracepoint(nint prog, string name);

    [LibraryImport(Lib, EntryPoint = "bpf_map_update_elem", SetLastError = true)]
    internal static partial int MapUpdateElem(int fd, void* key, void* value, ulong flags);

    [LibraryImport(Lib, EntryPoint = "bpf_tc_hook_create")]
    internal static partial int TcHookCreate(TcHook* hook);

    [LibraryImport(Lib, EntryPoint = "bpf_tc_hook_destroy")]
    internal static partial int TcHookDestroy(TcHook* hook);

    [LibraryImport(Lib, EntryPoint = "bpf_tc_attach")]
    internal static partial int TcAttach(TcHook* hook, TcOpts* opts);

    [LibraryImport(Lib, EntryPoint = "bpf_tc_detach")]
    internal static partial int TcDetach(TcHook* hook, TcOpts* opts);

    [LibraryImport(Lib, EntryPoint = "bpf_tc_query")]
    internal static partial int TcQuery(TcHook* hook, TcOpts* opts);

    /// <summary>struct bpf_tc_hook (libbpf 1.x).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct TcHook
    {
        public nuint Size;
        public int IfIndex;
        public int AttachPoint; // BPF_TC_INGRESS 1, BPF_TC_EGRESS 2
        public uint Parent;
        private readonly uint _pad;
    }

    /// <summary>struct bpf_tc_opts (libbpf 1.x).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct TcOpts
    {
        public nuint Size;
        public int ProgFd;
        public uint Flags;
        public uint ProgId;
        public uint Handle;
        public uint Priority;
        private readonly uint _pad;
    }

    [LibraryImport(Lib, EntryPoint = "bpf_program__attach_uprobe_opts", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial nint AttachUprobe(nint prog, int pid, string binaryPath, nuint funcOffset, UprobeOpts* opts);

    [LibraryImport(Lib, EntryPoint = "bpf_program__attach_tracepoint", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial nint AttachTracepoint(nint prog, string category, string name);

    [LibraryImport(Lib, EntryPoint = "bpf_link__destroy")]
    internal static partial int LinkDestroy(nint link);

    [LibraryImport(Lib, EntryPoint = "ring_buffer__new", SetLastError = true)]
    internal static partial nint RingBufferNew(int mapFd, delegate* unmanaged<nint, byte*, nuint, int> sampleCb, nint ctx, nint opts);

    [LibraryImport(Lib, EntryPoint = "ring_buffer__poll", SetLastError = true)]
    internal static partial int RingBufferPoll(nint rb, int timeoutMs);

    [LibraryImport(Lib, EntryPoint = "ring_buffer__consume", SetLastError = true)]
    internal static partial int RingBufferConsume(nint rb);

    [LibraryImport(Lib, EntryPoint = "ring_buffer__free")]
    internal static partial void RingBufferFree(nint rb);

    /// <summary>struct bpf_uprobe_opts as of libbpf 1.1 (sz = 40).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct UprobeOpts
    {
        public nuint Size;
        public nuint RefCtrOffset;
        public ulong BpfCookie;
        public byte RetProbe;
        public nint FuncName;
    }

    internal const int BPF_MAP_TYPE_RINGBUF = 27;
    internal const int BPF_PROG_TYPE_KPROBE = 2;
    internal const int BPF_FUNC_loop = 181;
    internal const int BPF_FUNC_get_attach_cookie = 174;
}
