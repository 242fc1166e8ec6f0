using System.Buffers;
using System.Net;
using System.Text.Encodings.Web;
using System.Text.Json;
using TlsScope.Engine.Model;
using TlsScope.Outputs.Text;

namespace TlsScope.Outputs.Json;

/// <summary>
/// NDJSON output: one object per event, each on its own '\n'-terminated line.
/// <list type="bullet">
/// <item>data: type, time, pid, tid, uid, comm, library, direction, fd, local, remote, conn, len,
/// truncated, data (base64 of exactly the captured bytes), then offset, dropped (only when
/// truncated), start.</item>
/// <item>gap: type, time, conn, direction, pid, comm, offset, len, reason.</item>
/// <item>close: type, time, conn, pid, read_bytes, write_bytes.</item>
/// </list>
/// Times are RFC 3339 UTC with nanoseconds; local/remote are "ip:port" ("[ip]:port" for IPv6)
/// or null when unknown; fd is -1 when unknown. Not thread-safe.
/// </summary>
public sealed partial class JsonSink : ICaptureSink
{
    private const int FlushThreshold = 64 * 1024;

    /// <summary>Beyond this, the reused buffer is given back after a big chunk instead of kept.</summary>
    private const int MaxRetainedBuffer = 4 * 1024 * 1024;

    private static readonly JsonEncodedText TypeName = JsonEncodedText.Encode("type");
    private static readonly JsonEncodedText TimeName = JsonEncodedText.Encode("time");
    private static readonly JsonEncodedText PidName = JsonEncodedText.Encode("pid");
    private static readonly JsonEncodedText TidName = JsonEncodedText.Encode("tid");
    private static readonly JsonEncodedText UidName = JsonEncodedText.Encode("uid");
    private static readonly JsonEncodedText CommName = JsonEncodedText.Encode("comm");
    private static readonly JsonEncodedText CgroupName = JsonEncodedText.Encode("cgroup");
    private static readonly JsonEncodedText ContainerName = JsonEncodedText.Encode("container");
    private static readonly JsonEncodedText LibraryName = JsonEncodedText.Encode("library");
    private static readonly JsonEncodedText DirectionName = JsonEncodedText.Encode("direction");
    private static readonly JsonEncodedText FdName = JsonEncodedText.Encode("fd");
    private static readonly JsonEncodedText LocalName = JsonEncodedText.Encode("local");
    private static readonly JsonEncodedText RemoteName = JsonEncodedText.Encode("remote");
    private static readonly JsonEncodedText ConnName = JsonEncodedText.Encode("conn");
    private static readonly JsonEncodedText LenName = JsonEncodedText.Encode("len");
    private static readonly JsonEncodedText TruncatedName = JsonEncodedText.Encode("truncated");
    private static readonly JsonEncodedText DataName = JsonEncodedText.Encode("data");
    private static readonly JsonEncodedText OffsetName = JsonEncodedText.Encode("offset");
    private static readonly JsonEncodedText DroppedName = JsonEncodedText.Encode("dropped");
    private static readonly JsonEncodedText StartName = JsonEncodedText.Encode("start");
    private static readonly JsonEncodedText InferredName = JsonEncodedText.Encode("inferred");
    private static readonly JsonEncodedText ReasonName = JsonEncodedText.Encode("reason");
    private static readonly JsonEncodedText ReadBytesName = JsonEncodedText.Encode("read_bytes");
    private static readonly JsonEncodedText WriteBytesName = JsonEncodedText.Encode("write_bytes");

    private static readonly JsonEncodedText DataType = JsonEncodedText.Encode("data");
    private static readonly JsonEncodedText GapType = JsonEncodedText.Encode("gap");
    private static readonly JsonEncodedText CloseType = JsonEncodedText.Encode("close");
    private static readonly JsonEncodedText ReadValue = JsonEncodedText.Encode("read");
    private static readonly JsonEncodedText WriteValue = JsonEncodedText.Encode("write");

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private ArrayBufferWriter<byte> _buffer = new(2 * FlushThreshold);
    private readonly Utf8JsonWriter _json;

    /// <summary>Strings written before, already escaped (header fields, URLs, methods).</summary>
    private readonly JsonTokenCache _tokens;

    /// <summary>Header arrays assembled as raw JSON.</summary>
    private readonly JsonFieldArrays _fieldArrays;
    private bool _disposed;

    /// <param name="stream">Where the lines go; the sink buffers 64 KiB before writing to it.</param>
    /// <param name="leaveOpen">Do not dispose <paramref name="stream"/> with the sink.</param>
    public JsonSink(Stream stream, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        _leaveOpen = leaveOpen;
        // Output is NDJSON for tools, never embedded in HTML: keep non-ASCII comm and paths readable.
        var encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
        _json = new Utf8JsonWriter(_buffer, new JsonWriterOptions { Encoder = encoder, Indented = false });
        _tokens = new JsonTokenCache(encoder);
        _fieldArrays = new JsonFieldArrays(_tokens);
    }

    public void OnData(DataChunk chunk)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        ObjectDisposedException.ThrowIf(_disposed, this);
        Span<byte> scratch = stackalloc byte[Utf8Line.MaxEndpointBytes];

        _json.WriteStartObject();
        _json.WriteString(TypeName, DataType);
        WriteTime(TimeName, chunk.TimeUnixNs, scratch);
        _json.WriteNumber(PidName, chunk.Process.Pid);
        _json.WriteNumber(TidName, chunk.Process.Tid);
        _json.WriteNumber(UidName, chunk.Process.Uid);
        _json.WriteString(CommName, chunk.Process.Comm);
        WriteCgroup(chunk.Process);
        _json.WriteString(LibraryName, chunk.Library);
        _json.WriteString(DirectionName, chunk.Direction == Direction.Write ? WriteValue : ReadValue);
        _json.WriteNumber(FdName, chunk.Fd < 0 ? -1 : chunk.Fd);
        WriteEndpoint(LocalName, chunk.Address.Local, scratch);
        WriteEndpoint(RemoteName, chunk.Address.Remote, scratch);
        _json.WriteNumber(ConnName, chunk.Connection);
        _json.WriteNumber(LenName, chunk.Length);
        _json.WriteBoolean(TruncatedName, chunk.Truncated);
        _json.WriteBase64String(DataName, chunk.Data.Span);
        _json.WriteNumber(OffsetName, chunk.StreamOffset);
        if (chunk.Truncated)
        {
            _json.WriteNumber(DroppedName, chunk.DroppedBytes);
        }

        WriteTime(StartName, chunk.StartUnixNs, scratch);
        if (chunk.Address.Inferred)
        {
            _json.WriteBoolean(InferredName, true);
        }

        _json.WriteEndObject();
        EndLine();
    }

    public void OnGap(StreamGap gap)
    {
        ArgumentNullException.ThrowIfNull(gap);
        ObjectDisposedException.ThrowIf(_disposed, this);
        Span<byte> scratch = stackalloc byte[Rfc3339.Length];

        _json.WriteStartObject();
        _json.WriteString(TypeName, GapType);
        WriteTime(TimeName, gap.TimeUnixNs, scratch);
        _json.WriteNumber(ConnName, gap.Connection);
        _json.WriteString(DirectionName, gap.Direction == Direction.Write ? WriteValue : ReadValue);
        if (gap.Process is { } process)
        {
            _json.WriteNumber(PidName, process.Pid);
            _json.WriteString(CommName, process.Comm);
        }
        else
        {
            _json.WriteNull(PidName);
            _json.WriteNull(CommName);
        }

        _json.WriteNumber(OffsetName, gap.StreamOffset);
        _json.WriteNumber(LenName, gap.Length);
        _json.WriteString(ReasonName, gap.Reason);
        _json.WriteEndObject();
        EndLine();
    }

    public void OnClose(ConnectionClosed closed)
    {
        ArgumentNullException.ThrowIfNull(closed);
        ObjectDisposedException.ThrowIf(_disposed, this);
        ForgetFlowFields(closed.Connection);
        Span<byte> scratch = stackalloc byte[Rfc3339.Length];

        _json.WriteStartObject();
        _json.WriteString(TypeName, CloseType);
        WriteTime(TimeName, closed.TimeUnixNs, scratch);
        _json.WriteNumber(ConnName, closed.Connection);
        _json.WriteNumber(PidName, closed.Pid);
        _json.WriteNumber(ReadBytesName, closed.ReadBytes);
        _json.WriteNumber(WriteBytesName, closed.WriteBytes);
        _json.WriteEndObject();
        EndLine();
    }

    public void Flush()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        WritePending();
        _stream.Flush();
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            WritePending();
            _stream.Flush();
        }
        finally
        {
            _json.Dispose();
            _flowFieldsWriter?.Dispose();
            if (!_leaveOpen)
            {
                _stream.Dispose();
            }
        }
    }

    private void WriteTime(JsonEncodedText name, long unixNs, Span<byte> scratch)
    {
        int length = Rfc3339.FormatUnixNs(unixNs, scratch);
        _json.WriteString(name, scratch[..length]);
    }

    private void WriteEndpoint(JsonEncodedText name, IPEndPoint? endpoint, Span<byte> scratch) => WriteEndpoint(_json, name, endpoint, scratch);

    private static void WriteEndpoint(Utf8JsonWriter json, JsonEncodedText name, IPEndPoint? endpoint, Span<byte> scratch)
    {
        if (endpoint is null)
        {
            json.WriteNull(name);
            return;
        }

        int length = Utf8Line.FormatEndpoint(endpoint, scratch);
        json.WriteString(name, scratch[..length]);
    }

    private void EndLine()
    {
        // Utf8JsonWriter accepts one top-level value: commit it, add the newline by hand, and
        // reset the writer for the next line (cheap; no allocation).
        _json.Flush();
        _buffer.GetSpan(1)[0] = (byte)'\n';
        _buffer.Advance(1);
        if (_buffer.WrittenCount >= FlushThreshold)
        {
            WritePending();
        }
        else
        {
            _json.Reset(_buffer);
        }
    }

    private void WritePending()
    {
        if (_buffer.WrittenCount == 0)
        {
            return;
        }

        try
        {
            _stream.Write(_buffer.WrittenSpan);
        }
        finally
        {
            // Drop the bytes even when the write fails, so a broken output does not repeat them.
            if (_buffer.Capacity > MaxRetainedBuffer)
            {
                _buffer = new ArrayBufferWriter<byte>(2 * FlushThreshold);
            }
            else
            {
                _buffer.ResetWrittenCount();
            }

            _json.Reset(_buffer);
        }
    }

    /// <summary>"cgroup" (the v2 id) and, when its path names one, "container".</summary>
    private void WriteCgroup(ProcessInfo process)
    {
        if (process.Cgroup != 0)
        {
            _json.WriteNumber(CgroupName, process.Cgroup);
        }

        if (process.Container is { } container)
        {
            _json.WriteString(ContainerName, container);
        }
    }
}
