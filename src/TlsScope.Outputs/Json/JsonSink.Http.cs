using System.Buffers.Text;
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
    /// <summary>The HTTP records' property names, encoded once (a string name is validated and
    /// transcoded on every write).</summary>
    private static class N
    {
        public static readonly JsonEncodedText Body = JsonEncodedText.Encode("body");
        public static readonly JsonEncodedText BodyEncoding = JsonEncodedText.Encode("body_encoding");
        public static readonly JsonEncodedText BodySize = JsonEncodedText.Encode("body_size");
        public static readonly JsonEncodedText BodyTruncated = JsonEncodedText.Encode("body_truncated");
        public static readonly JsonEncodedText BodyWireSize = JsonEncodedText.Encode("body_wire_size");
        public static readonly JsonEncodedText CloseCode = JsonEncodedText.Encode("close_code");
        public static readonly JsonEncodedText CloseReason = JsonEncodedText.Encode("close_reason");
        public static readonly JsonEncodedText Complete = JsonEncodedText.Encode("complete");
        public static readonly JsonEncodedText Compressed = JsonEncodedText.Encode("compressed");
        public static readonly JsonEncodedText Fin = JsonEncodedText.Encode("fin");
        public static readonly JsonEncodedText From = JsonEncodedText.Encode("from");
        public static readonly JsonEncodedText Grpc = JsonEncodedText.Encode("grpc");
        public static readonly JsonEncodedText HeaderSize = JsonEncodedText.Encode("header_size");
        public static readonly JsonEncodedText Headers = JsonEncodedText.Encode("headers");
        public static readonly JsonEncodedText Lost = JsonEncodedText.Encode("lost");
        public static readonly JsonEncodedText Method = JsonEncodedText.Encode("method");
        public static readonly JsonEncodedText Note = JsonEncodedText.Encode("note");
        public static readonly JsonEncodedText Opcode = JsonEncodedText.Encode("opcode");
        public static readonly JsonEncodedText Reason = JsonEncodedText.Encode("reason");
        public static readonly JsonEncodedText ReceiveMs = JsonEncodedText.Encode("receive_ms");
        public static readonly JsonEncodedText RequestBodySize = JsonEncodedText.Encode("request_body_size");
        public static readonly JsonEncodedText RequestSize = JsonEncodedText.Encode("request_size");
        public static readonly JsonEncodedText ResponseBodySize = JsonEncodedText.Encode("response_body_size");
        public static readonly JsonEncodedText ResponseSize = JsonEncodedText.Encode("response_size");
        public static readonly JsonEncodedText SendMs = JsonEncodedText.Encode("send_ms");
        public static readonly JsonEncodedText Seq = JsonEncodedText.Encode("seq");
        public static readonly JsonEncodedText Side = JsonEncodedText.Encode("side");
        public static readonly JsonEncodedText Status = JsonEncodedText.Encode("status");
        public static readonly JsonEncodedText Stream = JsonEncodedText.Encode("stream");
        public static readonly JsonEncodedText TotalMs = JsonEncodedText.Encode("total_ms");
        public static readonly JsonEncodedText Trailers = JsonEncodedText.Encode("trailers");
        public static readonly JsonEncodedText TtfbMs = JsonEncodedText.Encode("ttfb_ms");
        public static readonly JsonEncodedText UpgradedTo = JsonEncodedText.Encode("upgraded_to");
        public static readonly JsonEncodedText Url = JsonEncodedText.Encode("url");
        public static readonly JsonEncodedText Version = JsonEncodedText.Encode("version");
        public static readonly JsonEncodedText WireSize = JsonEncodedText.Encode("wire_size");
    }

    /// <summary>The HTTP records' fixed values.</summary>
    private static class T
    {
        public static readonly JsonEncodedText Client = JsonEncodedText.Encode("client");
        public static readonly JsonEncodedText HttpExchange = JsonEncodedText.Encode("http_exchange");
        public static readonly JsonEncodedText HttpRequest = JsonEncodedText.Encode("http_request");
        public static readonly JsonEncodedText HttpResponse = JsonEncodedText.Encode("http_response");
        public static readonly JsonEncodedText Server = JsonEncodedText.Encode("server");
        public static readonly JsonEncodedText Websocket = JsonEncodedText.Encode("websocket");
    }

    public void OnRequest(HttpFlow flow, long sequence, HttpMessage request) => WriteMessage(flow, sequence, request);

    public void OnResponse(HttpFlow flow, long sequence, HttpMessage response) => WriteMessage(flow, sequence, response);

    public void OnExchange(HttpExchange exchange)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        ObjectDisposedException.ThrowIf(_disposed, this);
        Span<byte> scratch = stackalloc byte[Utf8Line.MaxEndpointBytes];
        var flow = exchange.Flow;
        var (request, response) = (exchange.Request, exchange.Response);

        WriteFlowHeader(T.HttpExchange, exchange.EndNs, flow, exchange.Sequence, exchange.Process, scratch);
        WriteRepeatedString(N.Version, exchange.Version);
        if (exchange.Stream is { } stream)
        {
            _json.WriteNumber(N.Stream, stream);
        }

        WriteRepeatedString(N.Method, request?.Method);
        WriteRepeatedString(N.Url, request?.Url);
        if (response is null)
        {
            _json.WriteNull(N.Status);
        }
        else
        {
            _json.WriteNumber(N.Status, response.Status);
        }

        WriteTime(StartName, exchange.StartNs, scratch);
        WriteMilliseconds(N.TtfbMs, exchange.TimeToFirstByteNs);
        WriteMilliseconds(N.TotalMs, exchange.TotalNs);
        WriteMilliseconds(N.SendMs, exchange.SendNs);
        WriteMilliseconds(N.ReceiveMs, exchange.ReceiveNs);
        WriteOptionalNumber(N.RequestSize, request?.WireBytes);
        WriteOptionalNumber(N.ResponseSize, response?.WireBytes);
        WriteOptionalNumber(N.RequestBodySize, request?.Body.Length);
        WriteOptionalNumber(N.ResponseBodySize, response?.Body.Length);
        _json.WriteBoolean(N.Complete, exchange.Complete);
        _json.WriteEndObject();
        EndLine();
    }

    public void OnWebSocket(WebSocketEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        ObjectDisposedException.ThrowIf(_disposed, this);
        Span<byte> scratch = stackalloc byte[Utf8Line.MaxEndpointBytes];
        var frame = e.Frame;

        WriteFlowHeader(T.Websocket, frame.LastByteClock, e.Flow, e.Sequence, e.Process, scratch);
        _json.WriteString(N.From, e.FromClient ? T.Client : T.Server);
        _json.WriteString(N.Opcode, frame.OpcodeName);
        _json.WriteBoolean(N.Fin, frame.Fin);
        _json.WriteBoolean(N.Compressed, frame.Compressed);
        _json.WriteNumber(LenName, frame.PayloadLength);
        _json.WriteBase64String(DataName, frame.Payload);
        _json.WriteBoolean(TruncatedName, frame.PayloadTruncated);
        _json.WriteBoolean(N.Lost, frame.PayloadLost);
        if (frame.CloseCode is { } code)
        {
            _json.WriteNumber(N.CloseCode, code);
            _json.WriteString(N.CloseReason, frame.CloseReason);
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

        WriteFlowHeader(m.IsRequest ? T.HttpRequest : T.HttpResponse, m.LastByteNs, flow, sequence, m.Process, scratch);
        WriteRepeatedString(N.Version, m.Version);
        if (m.Stream is { } stream)
        {
            _json.WriteNumber(N.Stream, stream);
        }

        if (m.IsRequest)
        {
            WriteRepeatedString(N.Method, m.Method);
            WriteRepeatedString(N.Url, m.Url);
        }
        else
        {
            _json.WriteNumber(N.Status, m.Status);
            if (m.Reason is not null)
            {
                WriteRepeatedString(N.Reason, m.Reason);
            }
        }

        WriteFields(N.Headers, m.Headers);
        if (m.Trailers.Count > 0)
        {
            WriteFields(N.Trailers, m.Trailers);
        }

        _json.WriteBase64String(N.Body, m.Body.Span);
        _json.WriteNumber(N.BodySize, m.Body.Length);
        _json.WriteNumber(N.BodyWireSize, m.BodyWireBytes);
        if (m.BodyDecoded is not null)
        {
            _json.WriteString(N.BodyEncoding, m.BodyDecoded);
        }

        _json.WriteBoolean(N.BodyTruncated, m.BodyTruncated);
        _json.WriteNumber(N.HeaderSize, m.HeaderBytes);
        _json.WriteNumber(N.WireSize, m.WireBytes);
        _json.WriteBoolean(N.Complete, m.Complete);
        if (m.Note is not null)
        {
            _json.WriteString(N.Note, m.Note);
        }

        if (m.Grpc is { } grpc)
        {
            _json.WriteStartArray(N.Grpc);
            foreach (var (compressed, length) in grpc)
            {
                _json.WriteStartObject();
                _json.WriteBoolean(N.Compressed, compressed);
                _json.WriteNumber(LenName, length);
                _json.WriteEndObject();
            }

            _json.WriteEndArray();
        }

        if (m.UpgradedTo is not null)
        {
            _json.WriteString(N.UpgradedTo, m.UpgradedTo);
        }

        WriteTime(StartName, m.FirstByteNs, scratch);
        _json.WriteEndObject();
        EndLine();
    }

    /// <summary>Opens every HTTP record alike: type, time, conn, seq, pid, tid, uid, comm, library, fd, local, remote, side.</summary>
    private void WriteFlowHeader(JsonEncodedText type, long timeNs, HttpFlow flow, long sequence, ProcessInfo process, Span<byte> scratch)
    {
        _json.WriteStartObject();
        _json.WriteString(TypeName, type);

        // ,"time":"...","conn":N,"seq":N by hand, as the writer would write them (digits and the
        // time's ASCII need no escaping), straight after the writer's pending bytes; the writer
        // goes on after them (it already owes a comma before its next property).
        _json.Flush();
        var line = _buffer.GetSpan(MaxFlowHeadBytes);
        int at = Append(line, ",\"time\":\""u8, 0);
        at += Rfc3339.FormatUnixNs(timeNs, line[at..]);
        at = Append(line, "\",\"conn\":"u8, at);
        Utf8Formatter.TryFormat(flow.Connection, line[at..], out int written);
        at = Append(line, ",\"seq\":"u8, at + written);
        Utf8Formatter.TryFormat(sequence, line[at..], out written);
        _buffer.Advance(at + written);
        WriteFlowFields(flow, process, scratch);
    }

    /// <summary>,"time":"(30)","conn":(20),"seq":(20).</summary>
    private const int MaxFlowHeadBytes = 9 + Rfc3339.Length + 9 + 20 + 7 + 20;

    private static int Append(Span<byte> line, ReadOnlySpan<byte> text, int at)
    {
        text.CopyTo(line[at..]);
        return at + text.Length;
    }

    private void WriteFields(JsonEncodedText name, IReadOnlyList<(string Name, string Value)> fields)
    {
        if (_fieldArrays.TryEncode(fields, out var array))
        {
            _json.WritePropertyName(name);
            _json.WriteRawValue(array, skipInputValidation: true);
            return;
        }

        _json.WriteStartArray(name);
        for (int i = 0; i < fields.Count; i++)
        {
            _json.WriteStartArray();
            _json.WriteStringValue(fields[i].Name); // already seen by the token cache
            _json.WriteStringValue(fields[i].Value);
            _json.WriteEndArray();
        }

        _json.WriteEndArray();
    }

    /// <summary>A string the sink may have written before (a URL, a method, a reason), from the token cache when it has.</summary>
    private void WriteRepeatedString(JsonEncodedText name, string? value)
    {
        if (value is not null && _tokens.TryGet(value, out var encoded))
        {
            _json.WriteString(name, encoded);
        }
        else
        {
            _json.WriteString(name, value);
        }
    }

    private void WriteMilliseconds(JsonEncodedText name, long? ns)
    {
        if (ns is { } value)
        {
            // Microsecond resolution: enough for loopback latencies, short enough to read.
            Span<byte> text = stackalloc byte[Milliseconds.MaxBytes];
            if (Milliseconds.TryFormat(value, text, out int written))
            {
                _json.WritePropertyName(name);
                _json.WriteRawValue(text[..written], skipInputValidation: true);
            }
            else
            {
                _json.WriteNumber(name, Math.Round(value / 1e6, 3));
            }
        }
        else
        {
            _json.WriteNull(name);
        }
    }

    private void WriteOptionalNumber(JsonEncodedText name, long? value)
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
