namespace TlsScope.Flows;

/// <summary>
/// A consumer of HTTP events. Calls come from the capture's one thread. For each exchange,
/// <see cref="OnRequest"/> and <see cref="OnResponse"/> come as each side completes (either may be
/// missing), then <see cref="OnExchange"/> once both are known or the connection ended.
/// A message's <see cref="HttpMessage.Body"/> is valid until <see cref="OnExchange"/> returns (its
/// pooled array is reused then): a sink that keeps messages longer keeps <see cref="HttpMessage.Keep"/>.
/// </summary>
public interface IHttpSink
{
    void OnRequest(HttpFlow flow, long sequence, HttpMessage request);

    void OnResponse(HttpFlow flow, long sequence, HttpMessage response);

    void OnExchange(HttpExchange exchange);

    /// <summary>A frame of a connection that switched to WebSocket (after its 101 exchange).</summary>
    void OnWebSocket(WebSocketEvent frame);
}
