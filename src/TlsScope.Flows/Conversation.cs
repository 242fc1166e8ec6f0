using TlsScope.Engine.Model;


namespace TlsScope.Flows;

/// <summary>
/// The HTTP state of one connection: both directions' parsers and the pairing of requests with
/// responses. Fed in stream order per direction; <see cref="End"/> delivers whatever is unfinished.
/// </summary>
internal abstract class Conversation
{
    protected Conversation(HttpFlow flow, IHttpSink sink, FlowOptions options)
    {
        Flow = flow;
        Sink = sink;
        Options = options;
    }

    public HttpFlow Flow { get; }

    /// <summary>True once the connection stopped carrying HTTP (WebSocket, CONNECT tunnel): later chunks are raw.</summary>
    public bool Upgraded { get; protected set; }

    protected IHttpSink Sink { get; }

    protected FlowOptions Options { get; }

    /// <summary>Feeds one chunk; <paramref name="clientToServer"/> says which way its bytes went.</summary>
    /// <param name="chunk">The chunk (its data valid only during the call).</param>
    /// <param name="clientToServer">True for the request direction.</param>
    /// <param name="raw">Receives, as chunks, the bytes that follow an upgrade inside this chunk.</param>
    public abstract void Feed(DataChunk chunk, bool clientToServer, Action<DataChunk> raw);

    public abstract void Gap(bool clientToServer, long length);

    public abstract void End();

    /// <summary>When the chunk's bytes were in flight: a write's start (bytes handed over), a read's return (bytes available).</summary>
    protected static long ClockOf(DataChunk chunk) =>
        chunk.Direction == Direction.Write ? chunk.StartUnixNs : chunk.TimeUnixNs;

    /// <summary>Delivers an exchange, the last event of its messages: their pooled bodies go back after it.</summary>
    protected void Emit(long sequence, HttpMessage? request, HttpMessage? response)
    {
        try
        {
            Sink.OnExchange(new HttpExchange { Flow = Flow, Sequence = sequence, Request = request, Response = response });
        }
        finally
        {
            request?.ReturnBody();
            response?.ReturnBody();
        }
    }
}
