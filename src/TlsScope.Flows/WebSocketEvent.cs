using TlsScope.Protocols.WebSocket;
using TlsScope.Engine.Model;

namespace TlsScope.Flows;

/// <summary>One WebSocket frame of a connection upgraded by exchange <paramref name="Sequence"/>.</summary>
/// <param name="FromClient">True for a frame the client sent.</param>
/// <param name="Process">The process that made the call carrying the frame's last byte.</param>
public sealed record WebSocketEvent(HttpFlow Flow, long Sequence, bool FromClient, ProcessInfo Process, WebSocketFrame Frame);
