using TlsScope.Engine.Model;


namespace TlsScope.Tests.Decoding;

/// <summary>
/// Records every event in arrival order. DataChunk.Data is only valid during OnData (it points
/// into the batch or a reused buffer), so each chunk is stored with a copy of its bytes.
/// </summary>
internal sealed class RecordingSink : ICaptureSink
{
    public List<object> Events { get; } = [];

    public IEnumerable<DataChunk> Data => Events.OfType<DataChunk>();

    public IEnumerable<StreamGap> Gaps => Events.OfType<StreamGap>();

    public IEnumerable<ConnectionClosed> Closes => Events.OfType<ConnectionClosed>();

    public int Flushes { get; private set; }

    public bool Disposed { get; private set; }

    public void OnData(DataChunk chunk) => Events.Add(chunk with { Data = chunk.Data.ToArray() });

    public void OnGap(StreamGap gap) => Events.Add(gap);

    public void OnClose(ConnectionClosed closed) => Events.Add(closed);

    public void Flush() => Flushes++;

    public void Dispose() => Disposed = true;

    /// <summary>"data 7W 0+5", "gap 7R 10+20", "close 7": a compact trace (connection,
    /// direction, stream offset + length) of what arrived, in order.</summary>
    public List<string> Trace() => Events.Select(e => e switch
    {
        DataChunk d => $"data {d.Connection}{Letter(d.Direction)} {d.StreamOffset}+{d.Length}",
        StreamGap g => $"gap {g.Connection}{Letter(g.Direction)} {g.StreamOffset}+{g.Length}",
        ConnectionClosed c => $"close {c.Connection}",
        _ => e.ToString()!,
    }).ToList();

    private static char Letter(Direction d) => d == Direction.Read ? 'R' : 'W';
}
