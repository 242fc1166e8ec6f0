using System.Net;
using System.Text;
using TlsScope.Engine.Model;

namespace TlsScope.Tests.Output;

/// <summary>Builds events for the sink tests.</summary>
internal static class Chunks
{
    /// <summary>2026-11-22T15:04:05.123456789Z.</summary>
    public const long KnownTimeNs = 1_795_359_845_123_456_789;

    public static readonly ProcessInfo Curl = new(1234, 1235, 1000, "curl");

    public static readonly ConnectionAddress Loopback = new(
        new IPEndPoint(IPAddress.Loopback, 43210),
        new IPEndPoint(IPAddress.Loopback, 8443));

    public static DataChunk Data(
        byte[] data,
        Direction direction = Direction.Write,
        ConnectionAddress? address = null,
        int fd = 5,
        ulong connection = 7,
        bool truncated = false,
        long dropped = 0,
        ProcessInfo? process = null,
        string library = "/usr/lib/x86_64-linux-gnu/libssl.so.3",
        long offset = 0) =>
        new(
            TimeUnixNs: KnownTimeNs,
            StartUnixNs: KnownTimeNs - 1_000,
            Connection: connection,
            Direction: direction,
            Process: process ?? Curl,
            Fd: fd,
            Address: address ?? Loopback,
            Library: library,
            StreamOffset: offset,
            Data: data,
            Truncated: truncated,
            DroppedBytes: dropped);

    public static DataChunk Text(string text, Direction direction = Direction.Write) =>
        Data(Encoding.UTF8.GetBytes(text), direction);
}
