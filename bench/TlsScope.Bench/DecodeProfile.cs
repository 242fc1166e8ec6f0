using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using TlsScope.Engine.Kernel;
using TlsScope.Engine.Model;
using TlsScope.Engine.Reading;
using TlsScope.Sources.Tls.Decoding;
using TlsScope.Sources.Tls.Events;

namespace TlsScope.Bench;

/// <summary>
/// Where the decoder thread's time per record goes, without the kernel: one thread decodes the
/// same in-memory batch of records (laid out as RecordBatcher lays them out) over and over, and
/// the work is peeled off layer by layer:
///   decode    EventDecoder.DecodeBatch: header read, process/address/library lookups, then all below
///   assemble  CallAssembler.OnRecord with the lookups already done, then all below
///   emit      only what Emit does per call: the counters and a new DataChunk to the sink
///   chunk     only the new DataChunk to the sink
/// </summary>
internal static class DecodeProfile
{
    public static int Run(Options o)
    {
        var payload = (int)o.Long("payload", 64);
        var seconds = o.Long("seconds", 3);
        Sys.PinCurrentThread((int)o.Long("cpu", Environment.ProcessorCount > 1 ? 1 : -1));
        var (batch, length, count) = BuildBatch(payload);
        Console.WriteLine($"decoder profile: {payload} B payload, batches of {count} records, {seconds} s per layer, one thread");

        var library = "/usr/lib/x86_64-linux-gnu/libssl.so.3";
        var process = new ProcessInfo(4242, 4242, 0, "bench-producer");
        var address = new ConnectionAddress(new IPEndPoint(IPAddress.Loopback, 443), new IPEndPoint(IPAddress.Loopback, 40000));
        var clock = new ClockOffset();
        var headers = new ChunkHeader[count];
        var payloads = new ReadOnlyMemory<byte>[count];
        for (int i = 0, at = 0; i < count; i++)
        {
            var len = BinaryPrimitives.ReadInt32LittleEndian(batch.AsSpan(at));
            headers[i] = MemoryMarshal.Read<ChunkHeader>(batch.AsSpan(at + 4));
            payloads[i] = new ReadOnlyMemory<byte>(batch, at + 4 + Marshal.SizeOf<ChunkHeader>(), payload);
            at += 4 + len;
        }

        var results = new List<(string Layer, double Ns, double Bytes)>();
        {
            var sink = new CountingSink();
            var decoder = new EventDecoder(new CallAssembler(sink, clock, new CaptureCounters()), _ => library);
            results.Add(Measure("decode (EventDecoder.DecodeBatch)", count, seconds, () => decoder.DecodeBatch(batch, length)));
        }
        {
            var sink = new CountingSink();
            var assembler = new CallAssembler(sink, clock, new CaptureCounters());
            results.Add(Measure("assemble (CallAssembler.OnRecord)", count, seconds, () =>
            {
                for (var i = 0; i < headers.Length; i++)
                {
                    assembler.OnRecord(in headers[i], payloads[i], process, address, library);
                }
            }));
        }
        {
            var sink = new CountingSink();
            var counters = new CaptureCounters();
            results.Add(Measure("emit (counters + new DataChunk + sink)", count, seconds, () =>
            {
                for (var i = 0; i < headers.Length; i++)
                {
                    ref readonly var h = ref headers[i];
                    var data = payloads[i];
                    counters.Calls++;
                    counters.Bytes += data.Length;
                    var lib = counters.For(library);
                    lib.Calls++;
                    lib.Bytes += data.Length;
                    sink.OnData(new DataChunk(clock.ToUnixNs(h.Head.TimeNs), clock.ToUnixNs(h.StartNs), h.ConnId,
                        (Direction)(h.Direction & 1), process, h.Fd, address, library, (long)h.StreamOffset, data, false, 0));
                }
            }));
        }

        {
            var sink = new CountingSink();
            results.Add(Measure("new DataChunk + sink only", count, seconds, () =>
            {
                for (var i = 0; i < headers.Length; i++)
                {
                    ref readonly var h = ref headers[i];
                    sink.OnData(new DataChunk(clock.ToUnixNs(h.Head.TimeNs), clock.ToUnixNs(h.StartNs), h.ConnId,
                        (Direction)(h.Direction & 1), process, h.Fd, address, library, (long)h.StreamOffset, payloads[i], false, 0));
                }
            }));
        }

        Console.WriteLine();
        Console.WriteLine("| layer | ns/record | allocated B/record | this layer alone, ns |");
        Console.WriteLine("|---|---:|---:|---:|");
        for (var i = 0; i < results.Count; i++)
        {
            var own = results[i].Ns - (i + 1 < results.Count ? results[i + 1].Ns : 0);
            Console.WriteLine($"| {results[i].Layer} | {results[i].Ns:0.0} | {results[i].Bytes:0} | {own:0.0} |");
        }
        return 0;
    }

    private static (string, double, double) Measure(string layer, int perCall, long seconds, Action run)
    {
        for (var i = 0; i < 200; i++)
        {
            run(); // tiering: reach the optimized code first
        }

        GC.Collect();
        var alloc0 = GC.GetAllocatedBytesForCurrentThread();
        var cpu0 = Sys.ThreadCpuNs(Sys.GetTid());
        var clock = Stopwatch.StartNew();
        long records = 0;
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            run();
            records += perCall;
        }
        var cpu = Sys.ThreadCpuNs(Sys.GetTid()) - cpu0; // includes gen0 GCs run on this thread
        var bytes = GC.GetAllocatedBytesForCurrentThread() - alloc0;
        var ns = (double)cpu / records;
        Console.WriteLine($"  {layer}: {ns:0.0} ns/record ({records / clock.Elapsed.TotalSeconds / 1e6:0.00} M records/s), {(double)bytes / records:0} B allocated per record");
        return (layer, ns, (double)bytes / records);
    }

    /// <summary>A 1 MiB block of length-prefixed records like the producer's: 64 connections,
    /// both directions, contiguous offsets, one record per call.</summary>
    private static (byte[] Batch, int Length, int Count) BuildBatch(int payload)
    {
        var size = Marshal.SizeOf<ChunkHeader>() + payload;
        var count = (1 << 20) / (4 + size);
        var batch = new byte[count * (4 + size)];
        var at = 0;
        for (var seq = 0; seq < count; seq++)
        {
            var h = new ChunkHeader
            {
                Head = new EventHead { Kind = EventKind.Data, Flags = (uint)(ChunkFlags.First | ChunkFlags.Last), TimeNs = (ulong)(1_000_000 + seq), Task = new KernelTask { Pid = 4242, Tid = 4242, CgroupId = 1 } },
                ConnId = (ulong)(seq % 64 + 1),
                StartNs = (ulong)seq,
                StreamOffset = (ulong)(seq / 128 * payload),
                Fd = 7,
                Len = (uint)payload,
                CallLen = (uint)payload,
                Direction = (uint)(seq / 64 % 2),
            };
            h.Addr.Family = 2;
            h.Addr.LocalPort = 443;
            h.Addr.RemotePort = 40000;
            unsafe
            {
                h.Addr.LocalAddr[0] = 127;
                h.Addr.LocalAddr[3] = 1;
                h.Addr.RemoteAddr[0] = 127;
                h.Addr.RemoteAddr[3] = 1;
                var comm = "bench-producer"u8;
                for (var i = 0; i < comm.Length; i++)
                {
                    h.Head.Task.Comm[i] = comm[i];
                }
            }
            BinaryPrimitives.WriteInt32LittleEndian(batch.AsSpan(at), size);
            MemoryMarshal.Write(batch.AsSpan(at + 4), in h);
            at += 4 + size;
        }
        return (batch, at, count);
    }
}
