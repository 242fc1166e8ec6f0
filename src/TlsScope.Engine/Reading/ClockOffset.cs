using System.Diagnostics;

namespace TlsScope.Engine.Reading;

/// <summary>Converts the kernel's CLOCK_MONOTONIC stamps (bpf_ktime_get_ns) to Unix time. On
/// Linux, Stopwatch reads the same clock in nanoseconds.</summary>
public sealed class ClockOffset
{
    private readonly long _offsetNs;

    public ClockOffset()
    {
        var unixNs = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
        var monoNs = (long)(Stopwatch.GetTimestamp() * (1_000_000_000.0 / Stopwatch.Frequency));
        _offsetNs = unixNs - monoNs;
    }

    public long ToUnixNs(ulong monotonicNs) => (long)monotonicNs + _offsetNs;
}
