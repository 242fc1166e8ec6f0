using System.Runtime.ExceptionServices;
using TlsScope.Capture.Model;
using TlsScope.Flows;

namespace TlsScope.Output;

/// <summary>
/// Feeds one capture to several sinks. A sink that throws an <see cref="IOException"/> (a full
/// disk, EPIPE on stdout after the pager quit) is dropped and the others carry on; the first
/// such error is kept in <see cref="FirstError"/>. Other exceptions are bugs and propagate.
/// Disposing the fanout disposes every sink, the failed ones included.
/// </summary>
public sealed class SinkFanout : ICaptureSink, IHttpSink
{
    private readonly ICaptureSink[] _sinks;
    private readonly bool[] _failed;
    private bool _disposed;

    public SinkFanout(IEnumerable<ICaptureSink> sinks)
    {
        ArgumentNullException.ThrowIfNull(sinks);
        _sinks = [.. sinks];
        foreach (ICaptureSink sink in _sinks)
        {
            ArgumentNullException.ThrowIfNull(sink, nameof(sinks));
        }

        _failed = new bool[_sinks.Length];
        ActiveCount = _sinks.Length;
    }

    public SinkFanout(params ICaptureSink[] sinks)
        : this((IEnumerable<ICaptureSink>)sinks)
    {
    }

    /// <summary>All sinks, in the order they are fed.</summary>
    public IReadOnlyList<ICaptureSink> Sinks => _sinks;

    /// <summary>The first I/O error a sink threw; null while all sinks are healthy.</summary>
    public Exception? FirstError { get; private set; }

    /// <summary>The sink that threw <see cref="FirstError"/>.</summary>
    public ICaptureSink? FirstFailedSink { get; private set; }

    /// <summary>How many sinks are still being fed; 0 means the capture has nowhere to go.</summary>
    public int ActiveCount { get; private set; }

    /// <summary>Whether <paramref name="sink"/> was dropped after an I/O error.</summary>
    public bool HasFailed(ICaptureSink sink)
    {
        int index = Array.IndexOf(_sinks, sink);
        return index >= 0 && _failed[index];
    }

    public void OnData(DataChunk chunk) => Forward(chunk, static (sink, c) => sink.OnData(c));

    public void OnGap(StreamGap gap) => Forward(gap, static (sink, g) => sink.OnGap(g));

    public void OnClose(ConnectionClosed closed) => Forward(closed, static (sink, c) => sink.OnClose(c));

    public void Flush() => Forward(0, static (sink, _) => sink.Flush());

    // HTTP events go to the sinks that take them (text, NDJSON, HAR); the others never see them.
    public void OnRequest(HttpFlow flow, long sequence, HttpMessage request) =>
        Forward((flow, sequence, request), static (sink, e) => (sink as IHttpSink)?.OnRequest(e.flow, e.sequence, e.request));

    public void OnResponse(HttpFlow flow, long sequence, HttpMessage response) =>
        Forward((flow, sequence, response), static (sink, e) => (sink as IHttpSink)?.OnResponse(e.flow, e.sequence, e.response));

    public void OnExchange(HttpExchange exchange) =>
        Forward(exchange, static (sink, e) => (sink as IHttpSink)?.OnExchange(e));

    public void OnWebSocket(WebSocketEvent frame) =>
        Forward(frame, static (sink, e) => (sink as IHttpSink)?.OnWebSocket(e));

    /// <summary>One call to every healthy sink; a sink's I/O error drops that sink only.</summary>
    private void Forward<T>(T item, Action<ICaptureSink, T> call)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        for (int i = 0; i < _sinks.Length; i++)
        {
            if (_failed[i])
            {
                continue;
            }

            try
            {
                call(_sinks[i], item);
            }
            catch (IOException e)
            {
                Fail(i, e);
            }
        }
    }

    /// <summary>Disposes every sink; an I/O error while a sink writes out its last bytes is recorded, not thrown.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        List<Exception>? errors = null;
        for (int i = 0; i < _sinks.Length; i++)
        {
            try
            {
                _sinks[i].Dispose();
            }
            catch (IOException e)
            {
                if (!_failed[i])
                {
                    Fail(i, e);
                }
            }
            catch (Exception e)
            {
                (errors ??= []).Add(e);
            }
        }

        if (errors is not null)
        {
            if (errors.Count == 1)
            {
                ExceptionDispatchInfo.Throw(errors[0]);
            }

            throw new AggregateException(errors);
        }
    }

    private void Fail(int index, IOException error)
    {
        _failed[index] = true;
        ActiveCount--;
        if (FirstError is null)
        {
            FirstError = error;
            FirstFailedSink = _sinks[index];
        }
    }
}
