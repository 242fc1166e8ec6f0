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
public sealed unsafe class EventDecoder(CallAssembler assembler, Func<uint, string> libraryName, IKeyMaterialSink? keys = null, TaskDecoder? tasks = null)
{
    private static readonly int ChunkSize = sizeof(ChunkHeader);
    private readonly TaskDecoder _tasks = tasks ?? new TaskDecoder();
    private readonly Dictionary<ulong, ConnectionAddress> _addresses = [];

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
        {
            return;
        }

        var kind = MemoryMarshal.Read<EventHead>(record).Kind;
        if (kind == EventKind.Data && record.Length >= ChunkSize)
        {
            ref readonly var h = ref MemoryMarshal.AsRef<ChunkHeader>(record);
            var payload = memory.Slice(ChunkSize, (int)Math.Min(h.Len, (uint)(record.Length - ChunkSize)));
            assembler.OnRecord(in h, payload, _tasks.Decode(in h.Head.Task), Address(in h), libraryName(h.Library));
        }
        else if (kind == EventKind.Keys && record.Length >= sizeof(KeysRecord))
        {
            if (keys is not null)
            {
                keys.OnKeyMaterial(KeyMaterialOf(in MemoryMarshal.AsRef<KeysRecord>(record)));
            }
        }
        else if (kind == EventKind.KeyLine && record.Length >= sizeof(KeyLineRecord))
        {
            keys?.OnLoggedSecret(LoggedSecretOf(in MemoryMarshal.AsRef<KeyLineRecord>(record)));
        }
        else if (kind == EventKind.Close && record.Length >= sizeof(ConnCloseRecord))
        {
            var c = MemoryMarshal.Read<ConnCloseRecord>(record);
            _addresses.Remove(c.ConnId);
            assembler.OnClose(in c);
        }
    }

    private KeyMaterial KeyMaterialOf(in KeysRecord k)
    {
        var slots = new byte[KernelKeyLayout.Slots][];
        fixed (byte* all = k.Slots)
        {
            for (var i = 0; i < slots.Length; i++)
            {
                slots[i] = new ReadOnlySpan<byte>(all + i * KernelKeyLayout.SlotSize, KernelKeyLayout.SlotSize).ToArray();
            }
        }

        return new KeyMaterial(assembler.Clock.ToUnixNs(k.Head.TimeNs), k.ConnId, _tasks.Decode(in k.Head.Task), k.Library,
            libraryName(k.Library), k.Ssl, k.ReadMask, slots, DuringHandshake: ((uint)k.Head.Flags & 1) != 0);
    }

    private LoggedSecret LoggedSecretOf(in KeyLineRecord k)
    {
        fixed (byte* label = k.Label, random = k.Random, secret = k.Secret)
        {
            return new LoggedSecret(assembler.Clock.ToUnixNs(k.Head.TimeNs), _tasks.Decode(in k.Head.Task), libraryName(k.Library),
                Encoding.ASCII.GetString(label, (int)Math.Min(k.LabelLen, KeyLineRecord.LabelMax)),
                new ReadOnlySpan<byte>(random, (int)Math.Min(k.RandomLen, KeyLineRecord.RandomLength)).ToArray(),
                new ReadOnlySpan<byte>(secret, (int)Math.Min(k.SecretLen, KeyLineRecord.SecretMax)).ToArray());
        }
    }

    private ConnectionAddress Address(in ChunkHeader h)
    {
        if (h.Addr.Family == 0)
        {
            return ConnectionAddress.Unknown;
        }

        var inferred = (h.Flags & ChunkFlags.FdInferred) != 0;
        if (_addresses.TryGetValue(h.ConnId, out var a) && a.IsKnown && a.Local!.Port == h.Addr.LocalPort
            && a.Remote!.Port == h.Addr.RemotePort && a.Inferred == inferred)
        {
            return a;
        }

        a = ToAddress(in h.Addr) with { Inferred = inferred };
        if (_addresses.Count > 65536)
        {
            _addresses.Clear();
        }

        _addresses[h.ConnId] = a;
        return a;
    }

    /// <summary>A dual-stack socket's IPv4 peer shows as IPv4, as users know it.</summary>
    private static IPAddress Plain(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;

    public static ConnectionAddress ToAddress(in SockAddr s)
    {
        const int AfInet = 2, AfInet6 = 10;
        if (s.Family != AfInet && s.Family != AfInet6)
        {
            return ConnectionAddress.Unknown;
        }

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
