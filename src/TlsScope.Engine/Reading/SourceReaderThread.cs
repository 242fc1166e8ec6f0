using TlsScope.Bpf;
using TlsScope.Engine.Model;

namespace TlsScope.Engine.Reading;

/// <summary>
/// The reader thread of a source whose events are few and must show at once (shell commands, SQL
/// statements): it polls the source's ring until stopped, then drains it, and writes the outputs'
/// buffers after each poll that delivered anything, so a live view and a killed run see every
/// event. The ring's callbacks run on this thread and call <see cref="Delivered"/>.
/// </summary>
public sealed class SourceReaderThread(string name, RingBuffer ring, int pollMilliseconds, ICaptureSink outputs, Action<Exception> failed)
{
    private Thread? _running;
    private volatile bool _stopping;
    private long _delivered, _flushed;

    /// <summary>Runs on this thread after the final drain (e.g. to end what is still open).</summary>
    public Action? Drained { get; init; }

    /// <summary>Why the thread ended early, once <see cref="Stop"/> returned; null when it did not.</summary>
    public Exception? Error { get; private set; }

    /// <summary>One event went to the outputs (called from the ring's callbacks).</summary>
    public void Delivered() => _delivered++;

    public void Start()
    {
        _running = new Thread(Run) { Name = name, IsBackground = true };
        _running.Start();
    }

    /// <summary>Ends the polling, waits for the final drain.</summary>
    public void Stop()
    {
        _stopping = true;
        _running?.Join();
        _running = null;
    }

    private void Run()
    {
        try
        {
            while (!_stopping)
            {
                ring.Poll(pollMilliseconds);
                FlushIfDelivered();
            }

            ring.Consume();
            Drained?.Invoke();
            FlushIfDelivered();
        }
        catch (Exception e)
        {
            Error = e;
            failed(e);
        }
    }

    private void FlushIfDelivered()
    {
        if (_delivered != _flushed)
        {
            _flushed = _delivered;
            outputs.Flush();
        }
    }
}
