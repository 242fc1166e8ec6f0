namespace TlsScope.Engine.Model;

/// <summary>
/// A consumer of the capture: text, NDJSON, and later HAR, key log, pcapng. One session feeds
/// any number of sinks. Calls come from one thread, in stream order per connection.
/// </summary>
public interface ICaptureSink : IDisposable
{
    /// <summary>chunk.Data points into a reused buffer: it is valid only during this call, so a
    /// sink that keeps bytes copies them.</summary>
    void OnData(DataChunk chunk);

    void OnGap(StreamGap gap);

    void OnClose(ConnectionClosed closed);

    /// <summary>Called when the reader has drained what was available; write out buffers.</summary>
    void Flush();
}

/// <summary>A sink that writes the bytes themselves (the plaintext pcapng): it receives every
/// chunk, gap and close, whatever HTTP parsing makes of the connection for the other sinks.</summary>
public interface IEveryChunkSink : ICaptureSink;
