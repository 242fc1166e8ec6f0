namespace TlsScope.Outputs.Pcapng;

/// <summary>How <see cref="PcapngSink"/> filters packets and holds TLS connections.</summary>
public sealed record PcapngSinkOptions
{
    /// <summary>Applied to every packet before anything else; null keeps all. The caller owns it.</summary>
    public PacketFilter? Filter { get; init; }

    /// <summary>How long a connection's packets wait for its keys after the ClientHello.</summary>
    public TimeSpan HoldTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>All held connections together hold at most this (the one nearest its deadline goes out first).</summary>
    public long MaxHeldBytes { get; init; } = 64 * 1024 * 1024;

    /// <summary>How long an ended connection still waits for its keys (they may be on their way).</summary>
    public TimeSpan EndGrace { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Waits are counted on the key path's clock once it reports one (<c>KeysThrough</c>): a
    /// connection is late only when the keys have been read up to its deadline. This bounds how
    /// far past its deadline, on the wall clock, a connection waits for a key path that is behind.
    /// </summary>
    public TimeSpan MaxKeyLag { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A connection holding more than this is written out without waiting further.</summary>
    public long MaxHeldBytesPerConnection { get; init; } = 8 * 1024 * 1024;

    /// <summary>The clock hold timeouts are measured on (tests inject their own).</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>Describes packet owners in comments; null for a shared one reading /proc.</summary>
    public ProcessDescriber? Describer { get; init; }
}
