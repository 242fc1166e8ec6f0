using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using TlsScope.Bpf;

namespace TlsScope.Engine.Reading;

/// <summary>A block of raw ring-buffer records, each prefixed by its int32 length. When
/// <paramref name="DrainedAt"/> is set, every record the ring held at that time is in this block
/// or an earlier one (a block may be empty and carry only that mark).</summary>
public readonly record struct RecordBatch(byte[] Buffer, int Length, DateTimeOffset? DrainedAt = null);

/// <summary>
/// The ring-buffer callback's only job: copy each record into a large block and hand full
/// blocks to the decoding thread, so a slow sink never stalls the kernel's producer. Queued
/// memory is bounded; past the bound the reader waits and the kernel counts what it drops.
/// </summary>
public sealed class RecordBatcher : IRingBufferConsumer
{
    private const int BlockSize = 1 << 20;
    private readonly BlockingCollection<RecordBatch> _queue = new();
    private readonly long _maxQueuedBytes;
    private long _queuedBytes;
    private byte[] _block = ArrayPool<byte>.Shared.Rent(BlockSize);
    private int _used;

    public RecordBatcher(long maxQueuedBytes = 512L << 20) => _maxQueuedBytes = maxQueuedBytes;

    public long Records { get; private set; }

    public void OnRecord(ReadOnlySpan<byte> record)
    {
        var need = 4 + record.Length;
        if (_used + need > _block.Length)
        {
            Publish(force: true);
            if (need > _block.Length)
            {
                ArrayPool<byte>.Shared.Return(_block);
                _block = ArrayPool<byte>.Shared.Rent(need);
            }
        }
        BinaryPrimitives.WriteInt32LittleEndian(_block.AsSpan(_used), record.Length);
        record.CopyTo(_block.AsSpan(_used + 4));
        _used += need;
        Records++;
    }

    /// <summary>Hands the current block to the decoder (called after each poll). While the
    /// decoder still has work queued, a block under half full keeps filling instead: blocks stay
    /// full under load, and an idle decoder gets records at once.</summary>
    public void Publish(bool force = false) => Publish(force, null);

    private void Publish(bool force, DateTimeOffset? drainedAt)
    {
        if (_used == 0 || (!force && _queue.Count > 0 && _used < _block.Length / 2))
        {
            return;
        }
        // The bound counts whole blocks held, not bytes used: that is the memory taken.
        while (Interlocked.Read(ref _queuedBytes) > _maxQueuedBytes && !_queue.IsAddingCompleted)
        {
            Thread.Sleep(1);
        }

        Interlocked.Add(ref _queuedBytes, _block.Length);
        _queue.Add(new RecordBatch(_block, _used, drainedAt));
        _block = ArrayPool<byte>.Shared.Rent(BlockSize);
        _used = 0;
    }

    /// <summary>
    /// <see cref="Publish"/> after a poll that read the ring empty, which began at
    /// <paramref name="drainedAt"/>: the block handed over carries that mark, and with nothing
    /// to hand over an empty block carries it, so the decoder can tell its consumers how far
    /// the kernel's records have been read even when none came. A block kept filling (the
    /// decoder is busy) carries no mark, nor does an empty one while batches are queued (they
    /// would pile up behind a stalled decoder): the first poll after either covers it.
    /// </summary>
    public void Publish(DateTimeOffset drainedAt)
    {
        if (_used == 0)
        {
            if (!HasQueued)
            {
                _queue.Add(new RecordBatch([], 0, drainedAt));
            }

            return;
        }

        Publish(force: false, drainedAt);
    }

    public void Complete()
    {
        Publish(force: true);
        _queue.CompleteAdding();
    }

    /// <summary>The decoder's side: batches in order until <see cref="Complete"/>.</summary>
    public IEnumerable<RecordBatch> Batches() => _queue.GetConsumingEnumerable();

    public bool HasQueued => _queue.Count > 0;

    public void Release(RecordBatch batch)
    {
        if (batch.Buffer.Length == 0)
        {
            return; // a mark alone
        }

        Interlocked.Add(ref _queuedBytes, -batch.Buffer.Length);
        ArrayPool<byte>.Shared.Return(batch.Buffer);
    }
}
