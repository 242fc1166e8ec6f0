using System.Buffers.Binary;
using System.Net;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using TlsScope.Engine.Kernel;
using TlsScope.Engine.Model;
using TlsScope.Engine.Reading;
using TlsScope.Sources.Tls.Decoding;
using TlsScope.Sources.Tls.Events;

namespace TlsScope.Tests.Decoding;

/// <summary>
/// Builds ring-buffer records exactly as the kernel lays them out (the C# mirrors written
/// with MemoryMarshal.Write, payload after the header) and batches them in the
/// RecordBatcher's format: each record prefixed by its int32 length.
/// </summary>
internal static unsafe class KernelRecords
{
    public const ushort AfInet = 2, AfInet6 = 10;
    public const uint Pid = 4242, Tid = 4243, Uid = 1000;
    public const int Fd = 5;

    /// <summary>A CLOCK_MONOTONIC-like stamp; tests that care about wall time pass their own.</summary>
    public const ulong BaseTimeNs = 5_000_000_000;

    public static readonly int HeaderSize = Unsafe.SizeOf<ChunkHeader>();

    /// <summary>A data record header with plausible defaults: curl, IPv4 127.0.0.1:50000 -> 127.0.0.1:443.</summary>
    public static ChunkHeader Header(
        ulong conn,
        Direction direction,
        long offset,
        int len,
        ChunkFlags flags = ChunkFlags.First | ChunkFlags.Last,
        uint callLen = 0,
        uint dropped = 0,
        uint library = 0,
        ulong timeNs = BaseTimeNs,
        string comm = "curl")
    {
        var h = new ChunkHeader
        {
            Head = new EventHead { Kind = EventKind.Data, Flags = (uint)flags, TimeNs = timeNs, Task = Task() },
            ConnId = conn,
            StartNs = timeNs - 1_000,
            StreamOffset = (ulong)offset,
            Fd = Fd,
            Len = (uint)len,
            CallLen = callLen == 0 ? (uint)len : callLen,
            Dropped = dropped,
            Library = library,
            Direction = (uint)direction,
            Addr = Ipv4(IPAddress.Loopback, 50000, IPAddress.Loopback, 443),
        };
        SetComm(ref h.Head.Task, Encoding.UTF8.GetBytes(comm));
        return h;
    }

    /// <summary>The test process's task: <see cref="Pid"/>, <see cref="Tid"/>, <see cref="Uid"/>, cgroup 1.</summary>
    public static KernelTask Task(string comm = "curl")
    {
        var t = new KernelTask { Pid = Pid, Tid = Tid, Uid = Uid, CgroupId = 1 };
        SetComm(ref t, Encoding.UTF8.GetBytes(comm));
        return t;
    }

    /// <summary>Writes up to 16 bytes of comm; shorter names are NUL-terminated (the rest is zero).</summary>
    public static void SetComm(ref KernelTask t, ReadOnlySpan<byte> comm)
    {
        for (var i = 0; i < KernelConfig.CommLength; i++)
        {
            t.Comm[i] = i < comm.Length ? comm[i] : (byte)0;
        }
    }

    public static SockAddr Ipv4(IPAddress local, ushort localPort, IPAddress remote, ushort remotePort) =>
        Addr(AfInet, local, localPort, remote, remotePort);

    public static SockAddr Ipv6(IPAddress local, ushort localPort, IPAddress remote, ushort remotePort) =>
        Addr(AfInet6, local, localPort, remote, remotePort);

    /// <summary>Addresses in network order (IPv4 in the first 4 bytes), ports in host order.</summary>
    public static SockAddr Addr(ushort family, IPAddress local, ushort localPort, IPAddress remote, ushort remotePort)
    {
        var s = new SockAddr { Family = family, LocalPort = localPort, RemotePort = remotePort };
        var l = local.GetAddressBytes();
        var r = remote.GetAddressBytes();
        for (var i = 0; i < l.Length; i++)
        {
            s.LocalAddr[i] = l[i];
        }

        for (var i = 0; i < r.Length; i++)
        {
            s.RemoteAddr[i] = r[i];
        }

        return s;
    }

    /// <summary>One data record: the header, then the payload.</summary>
    public static byte[] Chunk(in ChunkHeader h, ReadOnlySpan<byte> payload)
    {
        var record = new byte[HeaderSize + payload.Length];
        MemoryMarshal.Write(record, in h);
        payload.CopyTo(record.AsSpan(HeaderSize));
        return record;
    }

    /// <summary>A data record whose header says exactly what the payload is.</summary>
    public static byte[] Chunk(
        ulong conn,
        Direction direction,
        long offset,
        ReadOnlySpan<byte> payload,
        ChunkFlags flags = ChunkFlags.First | ChunkFlags.Last,
        uint callLen = 0,
        uint dropped = 0,
        uint library = 0,
        ulong timeNs = BaseTimeNs)
    {
        var h = Header(conn, direction, offset, payload.Length, flags, callLen, dropped, library, timeNs);
        return Chunk(in h, payload);
    }

    public static byte[] Close(ulong conn, long readBytes, long writeBytes, ulong timeNs = BaseTimeNs + 1_000_000)
    {
        var c = new ConnCloseRecord
        {
            Head = new EventHead { Kind = EventKind.Close, TimeNs = timeNs, Task = Task() },
            ConnId = conn,
            ReadBytes = (ulong)readBytes,
            WriteBytes = (ulong)writeBytes,
        };
        var record = new byte[Unsafe.SizeOf<ConnCloseRecord>()];
        MemoryMarshal.Write(record, in c);
        return record;
    }

    /// <summary>
    /// Length-prefixed records in a buffer larger than the batch (like a pooled block), the
    /// spare room filled with 0xEE so that reading past the batch's length would show.
    /// </summary>
    public static (byte[] Buffer, int Length) Batch(params byte[][] records)
    {
        var length = records.Sum(r => 4 + r.Length);
        var buffer = new byte[length + 64];
        buffer.AsSpan(length).Fill(0xEE);
        var at = 0;
        foreach (var r in records)
        {
            BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(at), r.Length);
            r.CopyTo(buffer.AsSpan(at + 4));
            at += 4 + r.Length;
        }
        return (buffer, length);
    }

    /// <summary>Distinct, recognisable bytes: 'a'.. for the first part of a call, 'b'.. for the next.</summary>
    public static byte[] Bytes(int length, byte seed)
    {
        var b = new byte[length];
        for (var i = 0; i < length; i++)
        {
            b[i] = (byte)(seed + i % 7);
        }

        return b;
    }
}

/// <summary>The decoding path as the capture session wires it: decoder -> assembler -> sink.</summary>
internal sealed class DecodingPipeline
{
    public static readonly string[] LibraryNames =
        ["/usr/lib/x86_64-linux-gnu/libssl.so.3", "/usr/bin/node", "/opt/app/libssl.so.1.1"];

    public DecodingPipeline()
    {
        Assembler = new CallAssembler(Sink, Clock, Counters);
        Decoder = new EventDecoder(Assembler, LibraryName);
    }

    public RecordingSink Sink { get; } = new();

    public ClockOffset Clock { get; } = new();

    public CaptureCounters Counters { get; } = new();

    public CallAssembler Assembler { get; }

    public EventDecoder Decoder { get; }

    /// <summary>Every library index the decoder asked about, in order.</summary>
    public List<uint> LibraryLookups { get; } = [];

    private string LibraryName(uint index)
    {
        LibraryLookups.Add(index);
        return index < LibraryNames.Length ? LibraryNames[index] : $"library #{index}";
    }

    /// <summary>Feeds the records as one batch.</summary>
    public DecodingPipeline Feed(params byte[][] records)
    {
        var (buffer, length) = KernelRecords.Batch(records);
        Decoder.DecodeBatch(buffer, length);
        return this;
    }

    /// <summary>Feeds each record in its own batch (the stitching must not depend on batching).</summary>
    public DecodingPipeline FeedEach(params byte[][] records)
    {
        foreach (var r in records)
        {
            Feed(r);
        }

        return this;
    }
}
