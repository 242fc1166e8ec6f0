using System.Buffers;

namespace TlsScope.Protocols;

/// <summary>
/// A message body being collected, in an array rented from <see cref="ArrayPool{T}.Shared"/>
/// (a body per message was half of what parsing allocated). <see cref="Detach"/> hands the array
/// to the message; whoever delivers the message returns it (see <see cref="BodyLease"/>).
/// </summary>
internal struct BodyBuffer
{
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
            _array = ArrayPool<byte>.Shared.Rent(capacity);
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

    /// <summary>Hands the body over: its bytes and the rented array behind them (null when empty).</summary>
    public BodyLease Detach()
    {
        var lease = _length == 0 ? default : new BodyLease(_array!, _length);
        if (_length == 0 && _array is not null)
        {
            ArrayPool<byte>.Shared.Return(_array);
        }

        _array = null;
        _length = 0;
        return lease;
    }

    /// <summary>Drops what was collected, giving the array back.</summary>
    public void Reset()
    {
        if (_array is not null)
        {
            ArrayPool<byte>.Shared.Return(_array);
        }

        _array = null;
        _length = 0;
    }

    private void Grow(int needed)
    {
        // Doubling: a body of unknown length (chunked, close-delimited) is copied O(log n) times.
        long doubled = 2L * (_array?.Length ?? 128);
        var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(Math.Max(needed, doubled), Array.MaxLength));
        if (_array is not null)
        {
            _array.AsSpan(0, _length).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_array);
        }

        _array = bigger;
    }
}

/// <summary>
/// A body in an array rented from <see cref="ArrayPool{T}.Shared"/>: <see cref="Bytes"/> until
/// <see cref="Return"/> gives the array back. Whoever holds the lease returns it once, after the
/// last reader is done; a lease never returned is only garbage, never an error.
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

    /// <summary>True when there is an array to give back.</summary>
    public bool IsRented => _array is not null;

    /// <summary>Gives the array back to the pool; the bytes must not be read after this.</summary>
    public void Return()
    {
        if (_array is not null)
        {
            ArrayPool<byte>.Shared.Return(_array);
        }
    }
}
