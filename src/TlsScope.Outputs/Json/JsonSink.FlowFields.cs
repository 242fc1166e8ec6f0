using System.Buffers;
using System.Text.Json;
using TlsScope.Engine.Model;
using TlsScope.Flows;
using TlsScope.Outputs.Text;

namespace TlsScope.Outputs.Json;

/// <summary>
/// The fields every HTTP record of a flow repeats (pid, tid, uid, comm, cgroup, container, library,
/// fd, local, remote, side), encoded once per connection and calling thread and copied into each
/// record: a keep-alive connection writes them three times per exchange, always the same.
/// </summary>
public sealed partial class JsonSink
{
    /// <summary>More cached connections than this, and the cache starts over (closes normally remove them).</summary>
    private const int MaxCachedFlows = 4096;

    private sealed record FlowFields(HttpFlow Flow, ProcessInfo Process, int Fd, ConnectionAddress Address, byte[] Bytes);

    private readonly Dictionary<ulong, FlowFields> _flowFields = [];
    private readonly ArrayBufferWriter<byte> _flowFieldsBuffer = new(512);
    private Utf8JsonWriter? _flowFieldsWriter;

    /// <summary>Appends ,"pid":...,"side":"..." after the fields the writer wrote last.</summary>
    private void WriteFlowFields(HttpFlow flow, ProcessInfo process, Span<byte> scratch)
    {
        if (!_flowFields.TryGetValue(flow.Connection, out var cached) || !ReferenceEquals(cached.Flow, flow) || cached.Fd != flow.Fd
            || cached.Address != flow.Address || !(ReferenceEquals(cached.Process, process) || cached.Process == process))
        {
            if (_flowFields.Count >= MaxCachedFlows)
            {
                _flowFields.Clear();
            }

            cached = new FlowFields(flow, process, flow.Fd, flow.Address, EncodeFlowFields(flow, process, scratch));
            _flowFields[flow.Connection] = cached;
        }

        // The writer's pending bytes go out first; then the fields follow them in the same buffer,
        // and the writer goes on after them (it already owes a comma before its next property).
        _json.Flush();
        _buffer.Write(cached.Bytes);
    }

    private void ForgetFlowFields(ulong connection) => _flowFields.Remove(connection);

    /// <summary>The fields as this sink's writer would write them, with their leading comma.</summary>
    private byte[] EncodeFlowFields(HttpFlow flow, ProcessInfo process, Span<byte> scratch)
    {
        _flowFieldsBuffer.ResetWrittenCount();
        var json = _flowFieldsWriter ??= new Utf8JsonWriter(_flowFieldsBuffer, _json.Options);
        json.Reset(_flowFieldsBuffer);
        json.WriteStartObject();
        json.WriteNumber(PidName, process.Pid);
        json.WriteNumber(TidName, process.Tid);
        json.WriteNumber(UidName, process.Uid);
        json.WriteString(CommName, process.Comm);
        if (process.Cgroup != 0)
        {
            json.WriteNumber(CgroupName, process.Cgroup);
        }

        if (process.Container is { } container)
        {
            json.WriteString(ContainerName, container);
        }

        json.WriteString(LibraryName, flow.Library);
        json.WriteNumber(FdName, flow.Fd < 0 ? -1 : flow.Fd);
        WriteEndpoint(json, LocalName, flow.Address.Local, scratch);
        WriteEndpoint(json, RemoteName, flow.Address.Remote, scratch);
        json.WriteString(N.Side, flow.SideName);
        json.Flush();

        // "{" becomes the comma that separates these fields from the record's "seq".
        var bytes = _flowFieldsBuffer.WrittenSpan.ToArray();
        bytes[0] = (byte)',';
        return bytes;
    }
}
