using TlsScope.Sources.Tls.Decoding;
using TlsScope.Sources.Tls.Events;


namespace TlsScope.Sources.Tls;

/// <summary>The end-of-capture account: what was captured, and every byte that was not.</summary>
public sealed record CaptureSummary(CaptureCounters Seen, KernelStats Kernel, int LibraryCount)
{
    /// <summary>True when bytes were transferred but not captured (other than --max-payload).</summary>
    public bool AnyLoss => Kernel.AnyLoss || Seen.Gaps > 0;

    public IEnumerable<string> Lines()
    {
        yield return $"tlsscope: {Seen.Calls} chunks, {Seen.Bytes} bytes, {Seen.Connections} connections, {LibraryCount} libraries attached";
        var lost = Kernel.LostBytes + Kernel.UnreadableBytes + Kernel.BusyDrops;
        yield return $"tlsscope: lost {Kernel.LostRecords} records ({lost} bytes: {Kernel.LostBytes} ring buffer full, {Kernel.UnreadableBytes} unreadable, {Kernel.BusyDrops} busy), {Seen.Gaps} gaps ({Seen.GapBytes} bytes) in streams";
        yield return $"tlsscope: truncated {Seen.TruncatedCalls} chunks ({Kernel.TruncatedBytes} bytes dropped by --max-payload)";
        foreach (var (name, lib) in Seen.Libraries.OrderByDescending(l => l.Value.Bytes))
        {
            yield return $"tlsscope:   {name}: {lib.Calls} chunks, {lib.Bytes} bytes";
        }
    }
}
