using TlsScope.Protocols.Http2;
using TlsScope.Engine.Model;

namespace TlsScope.Flows;

/// <summary>
/// HTTP/2: one <see cref="Http2Connection"/> for the connection's whole life (HPACK tables persist
/// across requests). The connection pairs messages by stream and numbers streams as they start;
/// this class only turns its messages into sink events.
/// </summary>
internal sealed class Http2Conversation : Conversation
{
    private readonly Http2Connection _connection;

    // The views already sent as request/response events, so the exchange carries the same objects.
    private readonly Dictionary<Http2Message, HttpMessage> _views = new(ReferenceEqualityComparer.Instance);

    public Http2Conversation(HttpFlow flow, IHttpSink sink, FlowOptions options)
        : base(flow, sink, options)
    {
        _connection = new Http2Connection(options.MaxBodyBytes);
        _connection.RequestCompleted += OnMessage;
        _connection.ResponseCompleted += OnMessage;
        _connection.StreamClosed += (request, response) =>
            Emit((request ?? response)!.Sequence, Take(request), Take(response));
    }

    public override void Feed(DataChunk chunk, bool clientToServer, Action<DataChunk> raw)
    {
        _connection.Clock = ClockOf(chunk);
        _connection.Feed(clientToServer ? Http2Role.ClientToServer : Http2Role.ServerToClient, chunk.Data.Span);
        if (_connection.ClientToServer.Failed || _connection.ServerToClient.Failed)
        {
            // Not HTTP/2 after all (no client preface, or framing broke): show this chunk and the rest raw.
            Upgraded = true;
            raw(chunk);
        }
    }

    public override void Gap(bool clientToServer, long length) =>
        _connection.Gap(clientToServer ? Http2Role.ClientToServer : Http2Role.ServerToClient, length);

    public override void End() => _connection.End();

    private void OnMessage(Http2Message parsed)
    {
        var view = MessageBuilder.FromHttp2(parsed, Flow, Options);
        _views[parsed] = view;
        if (view.IsRequest)
        {
            Sink.OnRequest(Flow, parsed.Sequence, view);
        }
        else
        {
            Sink.OnResponse(Flow, parsed.Sequence, view);
        }
    }

    private HttpMessage? Take(Http2Message? parsed) =>
        parsed is not null && _views.Remove(parsed, out var view) ? view : null;
}
