using System.Text.Json;
using TlsScope.Flows;
using TlsScope.Engine.Model;
using TlsScope.Outputs.Text;

namespace TlsScope.Outputs.Json;

/// <summary>
/// The HTTP events of the NDJSON output.
/// <list type="bullet">
/// <item>http_request / http_response: type, time (last byte), conn, seq, pid, tid, uid, comm,
/// library, fd, local, remote, side, version, stream (HTTP/2), method and url (requests), status
/// and reason (responses), headers ([name, value] in wire order), trailers (when any), body
/// (base64, decoded), body_size, body_wire_size, body_encoding (the Content-Encoding removed),
/// body_truncated, header_size, wire_size, complete, note, grpc ([{compressed, len}]),
/// upgraded_to, start (first byte).</item>
/// <item>http_exchange: type, time (end), conn, seq, pid, tid, uid, comm, library, fd, local, remote, side, version,
/// stream, method, url, status, start, ttfb_ms, total_ms, send_ms, receive_ms, request_size,
/// response_size (wire bytes), request_body_size, response_body_size (decoded), complete. It
/// carries no headers or bodies: join it with its request and response on (conn, seq).</item>
/// <item>websocket: type, time (last byte), conn, seq (of the upgrade exchange), pid, tid, uid, comm,
/// library, fd, local, remote, side, from ("client"/"server"), opcode ("text", "binary", "close", "ping",
/// "pong", "continuation"), fin, compressed, len (announced payload length), data (base64,
/// unmasked), truncated, lost, close_code and close_reason (close frames).</item>
/// </list>
/// </summary>
public sealed partial class JsonSink : IHttpSink
{
    public void OnRequest(HttpFlow flow, long sequence, HttpMessage request) => WriteMessage(flow, sequence, request);

    public void OnResponse(HttpFlow flow, long sequence, HttpMessage response) => WriteMessage(flow, sequence, response);

    public void OnExchange(HttpExchange exchange)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        ObjectDisposedException.ThrowIf(_disposed, this);
        Span<byte> scratch = stackalloc byte[Utf8Line.MaxEndpointBytes];
        var flow = exchange.Flow;
        var (request, response) = (exchange.Request, exchange.Response);

        WriteFlowHeader("http_exchange", exchange.EndNs, flow, exchange.Sequence, exchange.Process, scratch);
        _json.WriteString("version", exchange.Version);
        if (exchange.Stream is { } stream)
        {
            _json.WriteNumber("stream", stream);
        }

        _json.WriteString("method", request?.Method);
        _json.WriteString("url", request?.Url);
        if (response is null)
        {
            _json.WriteNull("status");
        }
        else
        {
            _json.WriteNumber("status", response.Status);
        }

        WriteTime(StartName, exchange.StartNs, scratch);
        WriteMilliseconds("ttfb_ms", exchange.TimeToFirstByteNs);
        WriteMilliseconds("total_ms", exchange.TotalNs);
        WriteMilliseconds("send_ms", exchange.SendNs);
        WriteMilliseconds("receive_ms", exchange.ReceiveNs);
        WriteOptionalNumber("request_size", request?.WireBytes);
        WriteOptionalNumber("response_size", response?.WireBytes);
        WriteOptionalNumber("request_body_size", request?.Body.Length);
        WriteOptionalNumber("response_body_size", response?.Body.Length);
        _json.WriteBoolean("complete", exchange.Complete);
        _json.WriteEndObject();
        EndLine();
    }

    public void OnWebSocket(WebSocketEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        ObjectDisposedException.ThrowIf(_disposed, this);
        Span<byte> scratch = stackalloc byte[Utf8Line.MaxEndpointBytes];
        var frame = e.Frame;

        WriteFlowHeader("websocket", frame.LastByteClock, e.Flow, e.Sequence, e.Process, scratch);
        _json.WriteString("from", e.FromClient ? "client" : "server");
        _json.WriteString("opcode", frame.OpcodeName);
        _json.WriteBoolean("fin", frame.Fin);
        _json.WriteBoolean("compressed", frame.Compressed);
        _json.WriteNumber(LenName, frame.PayloadLength);
        _json.WriteBase64String(DataName, frame.Payload);
        _json.WriteBoolean(TruncatedName, frame.PayloadTruncated);
        _json.WriteBoolean("lost", frame.PayloadLost);
        if (frame.CloseCode is { } code)
        {
            _json.WriteNumber("close_code", code);
            _json.WriteString("close_reason", frame.CloseReason);
        }

        _json.WriteEndObject();
        EndLine();
    }

    private void WriteMessage(HttpFlow flow, long sequence, HttpMessage m)
    {
        ArgumentNullException.ThrowIfNull(flow);
        ArgumentNullException.ThrowIfNull(m);
        ObjectDisposedException.ThrowIf(_disposed, this);
        Span<byte> scratch = stackalloc byte[Utf8Line.MaxEndpointBytes];

        WriteFlowHeader(m.IsRequest ? "http_request" : "http_response", m.LastByteNs, flow, sequence, m.Process, scratch);
        _json.WriteString("version", m.Version);
        if (m.Stream is { } stream)
        {
            _json.WriteNumber("stream", stream);
        }

        if (m.IsRequest)
        {
            _json.WriteString("method", m.Method);
            _json.WriteString("url", m.Url);
        }
        else
        {
            _json.WriteNumber("status", m.Status);
            if (m.Reason is not null)
            {
                _json.WriteString("reason", m.Reason);
            }
        }

        WriteFields("headers", m.Headers);
        if (m.Trailers.Count > 0)
        {
            WriteFields("trailers", m.Trailers);
        }

        _json.WriteBase64String("body", m.Body.Span);
        _json.WriteNumber("body_size", m.Body.Length);
        _json.WriteNumber("body_wire_size", m.BodyWireBytes);
        if (m.BodyDecoded is not null)
        {
            _json.WriteString("body_encoding", m.BodyDecoded);
        }

        _json.WriteBoolean("body_truncated", m.BodyTruncated);
        _json.WriteNumber("header_size", m.HeaderBytes);
        _json.WriteNumber("wire_size", m.WireBytes);
        _json.WriteBoolean("complete", m.Complete);
        if (m.Note is not null)
        {
            _json.WriteString("note", m.Note);
        }

        if (m.Grpc is { } grpc)
        {
            _json.WriteStartArray("grpc");
            foreach (var (compressed, length) in grpc)
            {
                _json.WriteStartObject();
                _json.WriteBoolean("compressed", compressed);
                _json.WriteNumber(LenName, length);
                _json.WriteEndObject();
            }

            _json.WriteEndArray();
        }

        if (m.UpgradedTo is not null)
        {
            _json.WriteString("upgraded_to", m.UpgradedTo);
        }

        WriteTime(StartName, m.FirstByteNs, scratch);
        _json.WriteEndObject();
        EndLine();
    }

    /// <summary>Opens every HTTP record alike: type, time, conn, seq, pid, tid, uid, comm, library, fd, local, remote, side.</summary>
    private void WriteFlowHeader(string type, long timeNs, HttpFlow flow, long sequence, ProcessInfo process, Span<byte> scratch)
    {
        _json.WriteStartObject();
        _json.WriteString(TypeName, type);
        WriteTime(TimeName, timeNs, scratch);
        _json.WriteNumber(ConnName, flow.Connection);
        _json.WriteNumber("seq", sequence);
        _json.WriteNumber(PidName, process.Pid);
        _json.WriteNumber(TidName, process.Tid);
        _json.WriteNumber(UidName, process.Uid);
        _json.WriteString(CommName, process.Comm);
        WriteCgroup(process);
        _json.WriteString(LibraryName, flow.Library);
        _json.WriteNumber(FdName, flow.Fd < 0 ? -1 : flow.Fd);

        WriteEndpoint(LocalName, flow.Address.Local, scratch);
        WriteEndpoint(RemoteName, flow.Address.Remote, scratch);
        _json.WriteString("side", flow.SideName);
    }

    private void WriteFields(string name, IReadOnlyList<(string Name, string Value)> fields)
    {
        _json.WriteStartArray(name);
        foreach (var (n, v) in fields)
        {
            _json.WriteStartArray();
            _json.WriteStringValue(n);
            _json.WriteStringValue(v);
            _json.WriteEndArray();
        }

        _json.WriteEndArray();
    }

    private void WriteMilliseconds(string name, long? ns)
    {
        if (ns is { } value)
        {
            // Microsecond resolution: enough for loopback latencies, short enough to read.
            _json.WriteNumber(name, Math.Round(value / 1e6, 3));
        }
        else
        {
            _json.WriteNull(name);
        }
    }

    private void WriteOptionalNumber(string name, long? value)
    {
        if (value is { } v)
        {
            _json.WriteNumber(name, v);
        }
        else
        {
            _json.WriteNull(name);
        }
    }
}
