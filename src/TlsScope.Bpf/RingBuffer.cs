using System.Runtime.InteropServices;
using TlsScope.Bpf.Native;

namespace TlsScope.Bpf;

/// <summary>Receives ring-buffer records. The span is only valid during the call.</summary>
public interface IRingBufferConsumer
{
    void OnRecord(ReadOnlySpan<byte> record);
}

/// <summary>A BPF_MAP_TYPE_RINGBUF reader over libbpf's ring_buffer. Not thread-safe: one
/// thread polls. Exceptions thrown by the consumer are kept and rethrown by Poll.</summary>
public sealed unsafe class RingBuffer : SafeHandle
{
    private readonly IRingBufferConsumer _consumer;
    private GCHandle _self;
    private Exception? _consumerError;

    private RingBuffer(IRingBufferConsumer consumer) : base(0, ownsHandle: true)
    {
        _consumer = consumer;
        _self = GCHandle.Alloc(this);
    }

    public override bool IsInvalid => handle == 0;

    public static RingBuffer Open(BpfObject obj, string mapName, IRingBufferConsumer consumer)
    {
        var rb = new RingBuffer(consumer);
        var h = LibBpf.RingBufferNew(obj.MapFd(mapName), &OnSample, GCHandle.ToIntPtr(rb._self), 0);
        if (h == 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            rb.Dispose();
            throw BpfException.FromErrno($"open ring buffer {mapName}", errno);
        }
        rb.SetHandle(h);
        return rb;
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/> for records and consumes all that are
    /// there. Returns how many were consumed (0 on timeout or signal).</summary>
    public int Poll(int timeoutMs)
    {
        var n = LibBpf.RingBufferPoll(handle, timeoutMs);
        return Check(n);
    }

    /// <summary>Consumes what is there without waiting.</summary>
    public int Consume() => Check(LibBpf.RingBufferConsume(handle));

    private int Check(int n)
    {
        if (_consumerError is { } e)
        {
            _consumerError = null;
            throw new InvalidOperationException("ring buffer consumer failed: " + e.Message, e);
        }
        if (n == -4 /* EINTR */)
        {
            return 0;
        }

        if (n < 0)
        {
            throw BpfException.FromErrno("poll ring buffer", n);
        }

        return n;
    }

    [UnmanagedCallersOnly]
    private static int OnSample(nint ctx, byte* data, nuint size)
    {
        var rb = (RingBuffer)GCHandle.FromIntPtr(ctx).Target!;
        try
        {
            rb._consumer.OnRecord(new ReadOnlySpan<byte>(data, (int)size));
            return 0;
        }
        catch (Exception e)
        {
            rb._consumerError ??= e;
            return -1; // stops this poll; Poll rethrows
        }
    }

    protected override bool ReleaseHandle()
    {
        if (handle != 0)
        {
            LibBpf.RingBufferFree(handle);
        }

        if (_self.IsAllocated)
        {
            _self.Free();
        }

        return true;
    }
}
