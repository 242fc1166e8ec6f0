using TlsScope.Flows;
using TlsScope.Engine.Model;

namespace TlsScope.Outputs.Text;

/// <summary>
/// HTTP in the text output: a request is printed when it completes, its response with the
/// exchange (which brings the timing). Each block starts with a header line naming the
/// connection, the exchange's number on it (#1, #2, ...) and the HTTP/2 stream, so interleaved
/// streams stay readable:
/// <code>
/// 15:04:05.123456 curl[1234/1234] 127.0.0.1:43210 -> 127.0.0.1:8443 conn=7 #1 HTTP/2 stream=1 request
/// > GET https://localhost:8443/a
/// > user-agent: curl/7.88.1
///
/// 15:04:05.125000 curl[1234/1234] 127.0.0.1:43210 -> 127.0.0.1:8443 conn=7 #1 HTTP/2 stream=1 response ttfb=1.234ms total=1.877ms
/// &lt; 200
/// &lt; content-type: text/plain
///
/// hello
/// </code>
/// Bodies are shown decoded, up to the body limit, as text or as a hex dump.
/// </summary>
public sealed partial class TextSink : IHttpSink
{
    public void OnRequest(HttpFlow flow, long sequence, HttpMessage request)
    {
        ArgumentNullException.ThrowIfNull(request);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var line = BlockHeader(flow, sequence, request, "request"u8);
        EndLine(ref line);
        line = new Utf8Line(LineBuffer(64 + Utf8Line.MaxBytes(request.Method) + Utf8Line.MaxBytes(request.Url)));
        line.Ascii("> "u8);
        line.Text(request.Method);
        line.Byte((byte)' ');
        line.Text(request.Url);
        line.Byte((byte)' ');
        line.Text(request.Version);
        line.Byte((byte)'\n');
        Append(_line.AsSpan(0, line.Position));
        WriteMessageRest(request, "> "u8);
    }

    public void OnResponse(HttpFlow flow, long sequence, HttpMessage response)
    {
        // Printed with its exchange, which knows the timing.
    }

    public void OnExchange(HttpExchange exchange)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (exchange.Response is not { } response)
        {
            var request = exchange.Request!;
            var missing = BlockHeader(exchange.Flow, exchange.Sequence, request, "no response (connection ended or closed first)"u8);
            EndLine(ref missing);
            Append("\n"u8);
            return;
        }

        var line = BlockHeader(exchange.Flow, exchange.Sequence, response, "response"u8);
        if (exchange.TimeToFirstByteNs is { } ttfb)
        {
            line.Ascii(" ttfb="u8);
            WriteMilliseconds(ref line, ttfb);
        }

        if (exchange.TotalNs is { } total)
        {
            line.Ascii(" total="u8);
            WriteMilliseconds(ref line, total);
        }

        if (exchange.Request is null)
        {
            line.Ascii(" (request not captured)"u8);
        }

        EndLine(ref line);
        line = new Utf8Line(LineBuffer(64 + Utf8Line.MaxBytes(response.Reason)));
        line.Ascii("< "u8);
        line.Text(response.Version);
        line.Byte((byte)' ');
        line.Number(response.Status);
        if (!string.IsNullOrEmpty(response.Reason))
        {
            line.Byte((byte)' ');
            line.Text(response.Reason);
        }

        line.Byte((byte)'\n');
        Append(_line.AsSpan(0, line.Position));
        WriteMessageRest(response, "< "u8);
    }

    /// <summary>
    /// "... conn=3 #1 websocket client->server text 5 bytes" then the payload, shown like a chunk's;
    /// close frames with their code and reason.
    /// </summary>
    public void OnWebSocket(WebSocketEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var frame = e.Frame;
        var flow = e.Flow;
        RememberComm(flow.Connection, e.Process.Comm);
        var line = new Utf8Line(LineBuffer(320 + Utf8Line.MaxBytes(e.Process.Comm) + 2 * Utf8Line.MaxEndpointBytes + Utf8Line.MaxBytes(frame.CloseReason)));
        if (_color)
        {
            line.Ascii(e.FromClient == (flow.Side == FlowSide.Client) ? ColorWrite : ColorRead);
        }

        WriteFlowPrefix(ref line, flow, e.Process, frame.LastByteClock, e.Sequence);
        line.Ascii(e.FromClient ? " websocket client->server "u8 : " websocket server->client "u8);
        line.Text(frame.OpcodeName);
        line.Byte((byte)' ');
        line.Number(frame.PayloadLength);
        line.Ascii(" bytes"u8);
        if (!frame.Fin)
        {
            line.Ascii(" (more fragments follow)"u8);
        }

        if (frame.Compressed)
        {
            line.Ascii(" (compressed)"u8);
        }

        if (frame.PayloadLost)
        {
            line.Ascii(" (bytes lost)"u8);
        }

        if (frame.CloseCode is { } code)
        {
            line.Ascii(" code="u8);
            line.Number(code);
            if (!string.IsNullOrEmpty(frame.CloseReason))
            {
                line.Ascii(" reason="u8);
                line.Text(frame.CloseReason);
            }
        }

        EndLine(ref line);
        if (frame.Opcode != Protocols.WebSocket.WebSocketOpcode.Close && frame.Payload.Length > 0)
        {
            WritePayload(frame.Payload, _bodyLimit);
        }

        Append("\n"u8);
    }

    private Utf8Line BlockHeader(HttpFlow flow, long sequence, HttpMessage m, ReadOnlySpan<byte> what)
    {
        ArgumentNullException.ThrowIfNull(flow);
        RememberComm(flow.Connection, m.Process.Comm); // names the process on the close line
        var line = new Utf8Line(LineBuffer(256 + what.Length + Utf8Line.MaxBytes(m.Process.Comm) + 2 * Utf8Line.MaxEndpointBytes));
        if (_color)
        {
            line.Ascii(m.IsRequest == (flow.Side == FlowSide.Client) ? ColorWrite : ColorRead);
        }

        WriteFlowPrefix(ref line, flow, m.Process, m.IsRequest ? m.LastByteNs : m.FirstByteNs, sequence);
        line.Byte((byte)' ');
        line.Text(m.Version);
        if (m.Stream is { } stream)
        {
            line.Ascii(" stream="u8);
            line.Number(stream);
        }

        line.Byte((byte)' ');
        line.Ascii(what);
        return line;
    }

    /// <summary>"time comm[pid/tid] local -> remote conn=N #seq": what every HTTP and WebSocket line starts with.</summary>
    private void WriteFlowPrefix(ref Utf8Line line, HttpFlow flow, ProcessInfo process, long timeNs, long sequence)
    {
        WriteTime(ref line, timeNs);
        line.Byte((byte)' ');
        line.Text(process.Comm);
        line.Byte((byte)'[');
        line.Number(process.Pid);
        line.Byte((byte)'/');
        line.Number(process.Tid);
        line.Ascii("] "u8);
        WriteContainer(ref line, process);
        line.Endpoint(flow.Address.Local);
        line.Ascii(" -> "u8);
        line.Endpoint(flow.Address.Remote);
        line.Ascii(" conn="u8);
        line.Number(flow.Connection);
        line.Ascii(" #"u8);
        line.Number(sequence);
    }

    private void WriteMessageRest(HttpMessage m, ReadOnlySpan<byte> prefix)
    {
        WriteFields(m.Headers, prefix);
        if (m.Trailers.Count > 0)
        {
            WriteFields(m.Trailers, prefix);
        }

        if (m.Note is not null)
        {
            var note = new Utf8Line(LineBuffer(16 + Utf8Line.MaxBytes(m.Note)));
            note.Ascii("[note: "u8);
            note.Text(m.Note);
            note.Ascii("]\n"u8);
            Append(_line.AsSpan(0, note.Position));
        }

        if (m.Body.Length > 0 || m.BodyWireBytes > 0)
        {
            WriteBodySummary(m);
            Append("\n"u8);
            WritePayload(m.Body.Span, _bodyLimit);
        }

        Append("\n"u8);
    }

    private void WriteFields(IReadOnlyList<(string Name, string Value)> fields, ReadOnlySpan<byte> prefix)
    {
        // Indexed, not foreach: an interface's enumerator is a boxed object per message.
        for (int i = 0; i < fields.Count; i++)
        {
            var (name, value) = fields[i];
            var line = new Utf8Line(LineBuffer(8 + Utf8Line.MaxBytes(name) + Utf8Line.MaxBytes(value)));
            line.Ascii(prefix);
            line.Text(name);
            line.Ascii(": "u8);
            line.Text(value);
            line.Byte((byte)'\n');
            Append(_line.AsSpan(0, line.Position));
        }
    }

    /// <summary>"[body 1234 bytes, gzip 456 on the wire]" and the gRPC framing, when there is any.</summary>
    private void WriteBodySummary(HttpMessage m)
    {
        var line = new Utf8Line(LineBuffer(160 + Utf8Line.MaxBytes(m.BodyDecoded) + 24 * Math.Min(m.Grpc?.Count ?? 0, 8)));
        line.Ascii("[body "u8);
        line.Number(m.Body.Length);
        line.Ascii(" bytes"u8);
        if (m.BodyDecoded is not null)
        {
            line.Ascii(", "u8);
            line.Text(m.BodyDecoded);
            line.Byte((byte)' ');
            line.Number(m.BodyWireBytes);
            line.Ascii(" on the wire"u8);
        }

        if (m.BodyTruncated)
        {
            line.Ascii(", only the first bytes kept of "u8);
            line.Number(m.BodyWireBytes);
        }

        if (m.Grpc is { } grpc)
        {
            line.Ascii(", gRPC "u8);
            line.Number(grpc.Count);
            line.Ascii(grpc.Count == 1 ? " message:"u8 : " messages:"u8);
            for (int i = 0; i < grpc.Count && i < 8; i++)
            {
                line.Byte((byte)' ');
                line.Number(grpc[i].Length);
                if (grpc[i].Compressed)
                {
                    line.Ascii("(compressed)"u8);
                }
            }

            if (grpc.Count > 8)
            {
                line.Ascii(" ..."u8);
            }
        }

        if (m.Body.Length > _bodyLimit)
        {
            line.Ascii(", first "u8);
            line.Number(_bodyLimit);
            line.Ascii(" shown"u8);
        }

        line.Byte((byte)']');
        Append(_line.AsSpan(0, line.Position));
    }

    private static void WriteMilliseconds(ref Utf8Line line, long ns)
    {
        long micros = ns / 1000;
        line.Number(micros / 1000);
        line.Byte((byte)'.');
        line.Digits(micros % 1000, 3);
        line.Ascii("ms"u8);
    }
}
