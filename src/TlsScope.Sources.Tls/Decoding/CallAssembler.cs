using System.Buffers;
using TlsScope.Engine.Model;
using TlsScope.Engine.Reading;
using TlsScope.Sources.Tls.Events;

namespace TlsScope.Sources.Tls.Decoding;

/// <summary>
/// Stitches the kernel's records back into whole calls, per connection and direction, and
/// turns every jump in a stream's offset into an explicit <see cref="StreamGap"/>: bytes that
/// were transferred but not captured are never silently missing.
/// </summary>
public sealed class CallAssembler(ICaptureSink sink, ClockOffset clock, CaptureCounters counters)
{
    /// <summary>Turns the kernel's monotonic times into Unix times, for every record kind.</summary>
    public ClockOffset Clock => clock;

    public const string KernelLossReason = "not captured: ring buffer full or memory unreadable";

    private sealed class Stream
    {
        public long Expected;             // next stream offset we expect
        public ProcessInfo? Process;
        public Pending? Call;             // a call split over several records, not yet complete
    }

    private sealed class Pending
    {
        public required ChunkHeader Header;
        public required ProcessInfo Process;
        public required ConnectionAddress Address;
        public required string Library;
        public readonly ArrayBufferWriter<byte> Data = new();
        public long StartOffset;
        public long NextOffset;
    }

    private readonly Dictionary<(ulong Conn, uint Dir), Stream> _streams = [];
    private readonly HashSet<ulong> _openConnections = [];

    public void OnRecord(in ChunkHeader h, ReadOnlyMemory<byte> payload, ProcessInfo process, ConnectionAddress address, string library)
    {
        counters.Records++;
        var key = (h.ConnId, h.Direction & 1);
        if (!_streams.TryGetValue(key, out var s))
        {
            _streams[key] = s = new Stream();
            if (_openConnections.Add(h.ConnId))
            {
                counters.Connections++;
            }
        }
        s.Process = process;
        var offset = (long)h.StreamOffset;
        var first = (h.Flags & ChunkFlags.First) != 0;
        var last = (h.Flags & ChunkFlags.Last) != 0;

        if (s.Call is { } open && (first || offset != open.NextOffset))
        {
            FlushPartial(key, s); // the rest of that call was lost
        }

        if (offset > s.Expected)
        {
            Gap(key, s, s.Expected, offset - s.Expected, clock.ToUnixNs(h.Head.TimeNs));
        }

        if (first && last)
        {
            Emit(in h, process, address, library, offset, payload);
            s.Expected = Math.Max(s.Expected, offset + payload.Length + h.Dropped); // never backwards
            return;
        }
        var call = s.Call ??= new Pending { Header = h, Process = process, Address = address, Library = library, StartOffset = offset };
        call.Data.Write(payload.Span);
        call.NextOffset = offset + payload.Length;
        s.Expected = Math.Max(s.Expected, call.NextOffset);
        if (last)
        {
            call.Header.Dropped = h.Dropped;
            call.Header.Head.Flags |= (uint)(h.Flags & ChunkFlags.Truncated);
            Emit(in call.Header, call.Process, call.Address, call.Library, call.StartOffset, call.Data.WrittenMemory);
            s.Expected += h.Dropped;
            s.Call = null;
        }
    }

    public void OnClose(in ConnCloseRecord c)
    {
        var time = clock.ToUnixNs(c.Head.TimeNs);
        var process = Known((c.ConnId, 0u)) ?? Known((c.ConnId, 1u));
        EndStream((c.ConnId, 0u), (long)c.ReadBytes, time, process);
        EndStream((c.ConnId, 1u), (long)c.WriteBytes, time, process);
        _openConnections.Remove(c.ConnId);
        sink.OnClose(new ConnectionClosed(time, c.ConnId, (int)c.Head.Task.Pid, (long)c.ReadBytes, (long)c.WriteBytes));
    }

    /// <summary>At the end of a capture: emit what is left of calls still being assembled.</summary>
    public void FlushAll()
    {
        foreach (var (key, s) in _streams)
        {
            if (s.Call is not null)
            {
                FlushPartial(key, s);
            }
        }
    }

    private ProcessInfo? Known((ulong, uint) key) => _streams.TryGetValue(key, out var s) ? s.Process : null;

    /// <summary>A stream ends at the kernel's final count: whatever it says beyond what we saw (a
    /// direction never seen at all included) was lost.</summary>
    private void EndStream((ulong, uint) key, long finalOffset, long time, ProcessInfo? process)
    {
        if (!_streams.Remove(key, out var s))
        {
            s = new Stream { Process = process };
        }

        if (s.Call is not null)
        {
            FlushPartial(key, s);
        }

        if (finalOffset > s.Expected)
        {
            Gap(key, s, s.Expected, finalOffset - s.Expected, time);
        }
    }

    private void FlushPartial((ulong, uint) key, Stream s)
    {
        var call = s.Call!;
        s.Call = null;
        Emit(in call.Header, call.Process, call.Address, call.Library, call.StartOffset, call.Data.WrittenMemory);
        // The call's missing records show as a gap when the next offset (or the close) arrives.
        s.Expected = call.NextOffset;
    }

    private void Emit(in ChunkHeader h, ProcessInfo process, ConnectionAddress address, string library, long offset, ReadOnlyMemory<byte> data)
    {
        counters.Calls++;
        counters.Bytes += data.Length;
        var lib = counters.For(library);
        lib.Calls++;
        lib.Bytes += data.Length;
        var truncated = (h.Flags & ChunkFlags.Truncated) != 0;
        if (truncated)
        {
            counters.TruncatedCalls++;
        }

        sink.OnData(new DataChunk(
            clock.ToUnixNs(h.Head.TimeNs), clock.ToUnixNs(h.StartNs), h.ConnId, (Direction)(h.Direction & 1),
            process, h.Fd, address, library, offset, data, truncated, truncated ? h.Dropped : 0));
    }

    private void Gap((ulong Conn, uint Dir) key, Stream s, long offset, long length, long time)
    {
        counters.Gaps++;
        counters.GapBytes += length;
        sink.OnGap(new StreamGap(time, key.Conn, (Direction)key.Dir, s.Process, offset, length, KernelLossReason));
    }
}
