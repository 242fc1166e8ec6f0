using System.Buffers.Binary;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using TlsScope.Engine.Kernel;
using TlsScope.Engine.Model;
using TlsScope.Sources.Tls.Events;
using TlsScope.Engine.Reading;
using TlsScope.Sources.Tls.Keys.Layout;

namespace TlsScope.Sources.Tls.Decoding;

/// <summary>
/// Turns raw ring-buffer records into model events: reads the C struct in place, resolves the
/// library name, process and addresses (cached), and feeds the call assembler.
/// </summary>
public sealed unsafe class EventDecoder(CallAssembler assembler, Func<uint, string> libraryName, IKeyMaterialSink? keys = null)
{
    private static readonly int ChunkSize = sizeof(ChunkHeader);
    private readonly Dictionary<uint, ProcessInfo> processes = [];
    private readonly Dictionary<ulong, ConnectionAddress> addresses = [];

    /// <summary>Decodes every length-prefixed record of a batch. Payloads handed on point into
    /// the batch: they are valid until the batch is released.</summary>
    public void DecodeBatch(byte[] buffer, int length)
    {
        var at = 0;
        while (at + 4 <= length)
        {
            var len = BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(at));
            Decode(new ReadOnlyMemory<byte>(buffer, at + 4, len));
            at += 4 + len;
        }
    }

    public void Decode(ReadOnlyMemory<byte> memory)
    {
        var record = memory.Span;
        if (record.Length < sizeof(EventHead))
            return;
        var kind = MemoryMarshal.Read<EventHead>(record).Kind;
        if (kind == EventKind.Data && record.Length >= ChunkSize)
        {
            ref readonly var h = ref MemoryMarshal.AsRef<ChunkHeader>(record);
            var payload = memory.Slice(ChunkSize, (int)Math.Min(h.Len, (uint)(record.Length - ChunkSize)));
            assembler.OnRecord(in h, payload, Process(in h), Address(in h), libraryName(h.Library));
        }
        else if (kind == EventKind.Keys && record.Length >= sizeof(KeysRecord))
        {
            if (keys is not null)
                keys.OnKeyMaterial(KeyMaterialOf(in MemoryMarshal.AsRef<KeysRecord>(record)));
        }
        else if (kind == EventKind.Close && record.Length >= sizeof(ConnCloseRecord))
        {
            var c = MemoryMarshal.Read<ConnCloseRecord>(record);
            addresses.Remove(c.Head.ConnId);
            assembler.OnClose(in c);
        }
    }

    private KeyMaterial KeyMaterialOf(in KeysRecord k)
    {
        var slots = new byte[KernelKeyLayout.Slots][];
        fixed (byte* all = k.Slots)
            for (var i = 0; i < slots.Length; i++)
                slots[i] = new ReadOnlySpan<byte>(all + i * KernelKeyLayout.SlotSize, KernelKeyLayout.SlotSize).ToArray();
        fixed (byte* comm = k.Comm)
        {
            var process = Process(k.Pid, k.Tid, k.Uid, comm);
            return new KeyMaterial(assembler.Clock.ToUnixNs(k.Head.TimeNs), k.Head.ConnId, process, k.Library,
                libraryName(k.Library), k.Ssl, k.ReadMask, slots, DuringHandshake: ((uint)k.Head.Flags & 1) != 0);
        }
    }

    private ProcessInfo Process(in ChunkHeader h)
    {
        fixed (byte* comm = h.Comm)
            return Process(h.Pid, h.Tid, h.Uid, comm);
    }

    private ProcessInfo Process(uint pid, uint tid, uint uid, byte* comm)
    {
        var name = KernelComm.Bytes(comm);
        if (processes.TryGetValue(tid, out var p) && p.Pid == (int)pid && p.Uid == uid && KernelComm.Same(p.Comm, name))
            return p;
        p = new ProcessInfo((int)pid, (int)tid, uid, KernelComm.Decode(name));
        if (processes.Count > 65536)
            processes.Clear();
        processes[tid] = p;
        return p;
    }

    private ConnectionAddress Address(in ChunkHeader h)
    {
        if (h.Addr.Family == 0)
            return ConnectionAddress.Unknown;
        var inferred = (h.Flags & ChunkFlags.FdInferred) != 0;
        if (addresses.TryGetValue(h.Head.ConnId, out var a) && a.IsKnown && a.Local!.Port == h.Addr.LocalPort
            && a.Remote!.Port == h.Addr.RemotePort && a.Inferred == inferred)
            return a;
        a = ToAddress(in h.Addr) with { Inferred = inferred };
        if (addresses.Count > 65536)
            addresses.Clear();
        addresses[h.Head.ConnId] = a;
        return a;
    }

    /// <summary>A dual-stack socket's IPv4 peer shows as IPv4, as users know it.</summary>
    private static IPAddress Plain(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;

    public static ConnectionAddress ToAddress(in SockAddr s)
    {
        const int AfInet = 2, AfInet6 = 10;
        if (s.Family != AfInet && s.Family != AfInet6)
            return ConnectionAddress.Unknown;
        var n = s.Family == AfInet ? 4 : 16;
        fixed (byte* l = s.LocalAddr)
        fixed (byte* r = s.RemoteAddr)
        {
            var local = Plain(new IPAddress(new ReadOnlySpan<byte>(l, n)));
            var remote = Plain(new IPAddress(new ReadOnlySpan<byte>(r, n)));
            return new ConnectionAddress(new IPEndPoint(local, s.LocalPort), new IPEndPoint(remote, s.RemotePort));
        }
    }
}
