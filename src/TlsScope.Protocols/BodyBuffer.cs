using System.Buffers;
using System.Runtime.InteropServices;

namespace TlsScope.Protocols;

/// <summary>
/// A message body being collected, in an array rented from <see cref="ArrayPool{T}.Shared"/>
/// (a body per message was half of what parsing allocated). <see cref="Detach"/> hands the array
/// to the message; whoever delivers the message returns it (see <see cref="BodyLease"/>).
/// Bodies beyond <see cref="MaxPooledBytes"/> get arrays of their own: the shared pool keeps what
/// it is given, and a few 64 MiB uploads should not stay in a root tool's memory.
/// </summary>
internal struct BodyBuffer
{
    /// <summary>The largest array taken from (and given back to) the shared pool.</summary>
    public const int MaxPooledBytes = 1024 * 1024;

    private byte[]? _array;
    private int _length;

    /// <summary>Bytes collected so far.</summary>
    public readonly int Length => _length;

    /// <summary>What was collected so far (valid until the next change).</summary>
    public readonly ReadOnlyMemory<byte> Bytes => _array is null ? ReadOnlyMemory<byte>.Empty : _array.AsMemory(0, _length);

    /// <summary>Starts a body expected to hold <paramref name="capacity"/> bytes (more may come).</summary>
    public void Start(int capacity)
    {
        Reset();
        if (capacity > 0)
        {
            _array = NewArray(capacity);
        }
    }

    public void Append(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        int needed = checked(_length + data.Length);
        if (_array is null || needed > _array.Length)
        {
            Grow(needed);
        }

        data.CopyTo(_array.AsSpan(_length));
        _length = needed;
    }

    /// <summary>Hands the body over: its bytes and the array behind them (no array when empty).</summary>
    public BodyLease Detach()
    {
        var lease = _length == 0 ? default : new BodyLease(_array!, _length);
        if (_length == 0)
        {
            GiveBack(_array);
        }

        _array = null;
        _length = 0;
        return lease;
    }

    /// <summary>Drops what was collected, giving the array back.</summary>
    public void Reset()
    {
        GiveBack(_array);
        _array = null;
        _length = 0;
    }

    /// <summary>True when <paramref name="array"/> came from the shared pool and goes back to it.</summary>
    internal static bool IsPooled(byte[] array) => array.Length <= MaxPooledBytes;

    /// <summary>Gives a pooled array back; an array of its own is left to the GC.</summary>
    internal static void GiveBack(byte[]? array)
    {
        if (array is not null && IsPooled(array))
        {
            ArrayPool<byte>.Shared.Return(array);
        }
    }

    /// <summary>
    /// A pooled array up to <see cref="MaxPooledBytes"/> (the pool rounds up to a power of two, so
    /// every array it gives is that size or less), else one of the body's own that is larger.
    /// </summary>
    private static byte[] NewArray(int size) => size <= MaxPooledBytes
        ? ArrayPool<byte>.Shared.Rent(size)
        : GC.AllocateUninitializedArray<byte>(Math.Max(size, MaxPooledBytes + 1));

    private void Grow(int needed)
    {
        // Doubling: a body of unknown length (chunked, close-delimited) is copied O(log n) times.
        long doubled = 2L * (_array?.Length ?? 128);
        var bigger = NewArray((int)Math.Min(Math.Max(needed, doubled), Array.MaxLength));
        if (_array is not null)
        {
            _array.AsSpan(0, _length).CopyTo(bigger);
            GiveBack(_array);
        }

        _array = bigger;
    }
}

/// <summary>
/// A body in an array that may be on loan from <see cref="ArrayPool{T}.Shared"/>:
/// <see cref="Bytes"/> until <see cref="Return"/> gives the array back. Whoever holds the lease
/// returns it once, after the last reader is done; a lease never returned is only garbage,
/// never an error.
/// </summary>
public readonly struct BodyLease
{
    private readonly byte[]? _array;
    private readonly int _length;

    internal BodyLease(byte[] array, int length)
    {
        _array = array;
        _length = length;
    }

    /// <summary>The body's bytes.</summary>
    public ReadOnlyMemory<byte> Bytes => _array is null ? ReadOnlyMemory<byte>.Empty : _array.AsMemory(0, _length);

    /// <summary>True when the array is the pool's: it goes back, and whoever keeps the bytes longer copies them.</summary>
    public bool IsRented => _array is not null && BodyBuffer.IsPooled(_array);

    /// <summary>True when <paramref name="bytes"/> lie in this lease's array (a decoder that changed nothing may hand the input back).</summary>
    public bool Backs(ReadOnlyMemory<byte> bytes) =>
        _array is not null && MemoryMarshal.TryGetArray(bytes, out var segment) && ReferenceEquals(segment.Array, _array);

    /// <summary>Gives the array back to the pool; the bytes must not be read after this.</summary>
    public void Return() => BodyBuffer.GiveBack(_array);
}
