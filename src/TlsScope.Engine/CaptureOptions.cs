namespace TlsScope.Engine;

/// <summary>What to capture and how. Filters end up in the kernel's .rodata.</summary>
public sealed record CaptureOptions
{
    public int? Pid { get; init; }
    public uint? Uid { get; init; }
    public string? Comm { get; init; }

    /// <summary>Bytes kept per call; 0 keeps everything.</summary>
    public uint MaxPayload { get; init; }

    /// <summary>Extra binaries to probe (--libssl).</summary>
    public IReadOnlyList<string> Libraries { get; init; } = [];

    public int RingBufferMiB { get; init; } = 32;

    public bool Verbose { get; init; }

    /// <summary>TLS secrets are read (--keylog, --pcapng): the kernel's key work is on.</summary>
    public bool Keys { get; init; }
}
