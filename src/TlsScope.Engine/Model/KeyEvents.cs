namespace TlsScope.Engine.Model;

/// <summary>
/// The raw bytes the kernel read at a library's key layout, once per handshake (and, when the
/// layout has handshake-phase slots, once more while the handshake runs:
/// <see cref="DuringHandshake"/>). What each slot means is the layout's business
/// (TlsScope.Keys), not the capture's.
/// </summary>
public sealed record KeyMaterial(
    long TimeUnixNs,
    ulong Connection,
    ProcessInfo Process,
    uint LibraryIndex,
    string Library,
    ulong Ssl,
    uint ReadMask,
    byte[][] Slots,
    bool DuringHandshake = false);

/// <summary>One secret a program logged itself (Go's writeKeyLog, called for every secret of every
/// handshake): the parts of one NSS key log line.</summary>
public sealed record LoggedSecret(
    long TimeUnixNs,
    ProcessInfo Process,
    string Library,
    string Label,
    byte[] ClientRandom,
    byte[] Secret);

/// <summary>One handshake's secrets as NSS key log lines ("LABEL client_random secret", hex,
/// no newline), in the order a library's own key log callback writes them.</summary>
public sealed record TlsKeySet(
    long TimeUnixNs,
    ulong Connection,
    ProcessInfo Process,
    string Library,
    byte[] ClientRandom,
    IReadOnlyList<string> Lines);

/// <summary>A consumer of key material (the key log file, the pcapng writer's secrets).</summary>
public interface IKeySink
{
    /// <summary>Called once per handshake, from the decoding thread.</summary>
    void OnKeys(TlsKeySet keys);

    /// <summary>Whether this sink wants <see cref="KeysThrough"/>; the key source sends marks
    /// (and wakes its decoder for them when idle) only when some sink does.</summary>
    bool FollowsKeyProgress => false;

    /// <summary>
    /// Every key set whose records were committed to the kernel's ring by
    /// <paramref name="drainedAt"/> has been passed to <see cref="OnKeys"/>: the key path's
    /// progress, from the same thread. A sink waiting for keys measures its waits on this clock,
    /// so a starved key path makes no one late. Called without the fan-out's writer lock: an
    /// implementation locks for itself.
    /// </summary>
    void KeysThrough(DateTimeOffset drainedAt)
    {
    }
}

/// <summary>Receives the raw key records of a capture; the key decoder turns them into
/// <see cref="TlsKeySet"/>s.</summary>
public interface IKeyMaterialSink
{
    void OnKeyMaterial(KeyMaterial material);

    void OnLoggedSecret(LoggedSecret secret);
}
