using System.Text.Json;
using TlsScope.Engine.Model;

namespace TlsScope.Outputs.Json;

/// <summary>
/// sql_query: type, time (end), start, pid, tid, uid, comm, (cgroup, container), server, command,
/// user, database, client, application (PostgreSQL's application_name), query, query_len (bytes of the whole text), missing (bytes of it not
/// captured), duration_ms, error, sqlstate, message (null on success), rows (affected rows;
/// null when the server reported none).
/// </summary>
public sealed partial class JsonSink : IReceive<SqlQueryEvent>
{
    private static readonly JsonEncodedText SqlQueryType = JsonEncodedText.Encode("sql_query");
    private static readonly JsonEncodedText ServerName = JsonEncodedText.Encode("server");
    private static readonly JsonEncodedText CommandName = JsonEncodedText.Encode("command");
    private static readonly JsonEncodedText UserName = JsonEncodedText.Encode("user");
    private static readonly JsonEncodedText DatabaseName = JsonEncodedText.Encode("database");
    private static readonly JsonEncodedText ClientName = JsonEncodedText.Encode("client");
    private static readonly JsonEncodedText ApplicationName = JsonEncodedText.Encode("application");
    private static readonly JsonEncodedText QueryName = JsonEncodedText.Encode("query");
    private static readonly JsonEncodedText QueryLenName = JsonEncodedText.Encode("query_len");
    private static readonly JsonEncodedText MissingName = JsonEncodedText.Encode("missing");
    private static readonly JsonEncodedText DurationMsName = JsonEncodedText.Encode("duration_ms");
    private static readonly JsonEncodedText ErrorName = JsonEncodedText.Encode("error");
    private static readonly JsonEncodedText SqlStateName = JsonEncodedText.Encode("sqlstate");
    private static readonly JsonEncodedText MessageName = JsonEncodedText.Encode("message");
    private static readonly JsonEncodedText RowsName = JsonEncodedText.Encode("rows");

    public void Receive(SqlQueryEvent q)
    {
        ArgumentNullException.ThrowIfNull(q);
        ObjectDisposedException.ThrowIf(_disposed, this);
        Span<byte> scratch = stackalloc byte[Rfc3339.Length];

        _json.WriteStartObject();
        _json.WriteString(TypeName, SqlQueryType);
        WriteTime(TimeName, q.TimeUnixNs, scratch);
        WriteTime(StartName, q.StartUnixNs, scratch);
        _json.WriteNumber(PidName, q.Process.Pid);
        _json.WriteNumber(TidName, q.Process.Tid);
        _json.WriteNumber(UidName, q.Process.Uid);
        _json.WriteString(CommName, q.Process.Comm);
        WriteCgroup(q.Process);
        _json.WriteString(ServerName, q.Server);
        _json.WriteString(CommandName, q.Command);
        _json.WriteString(UserName, q.User);
        _json.WriteString(DatabaseName, q.Database);
        _json.WriteString(ClientName, q.Client);
        _json.WriteString(ApplicationName, q.Application);
        _json.WriteString(QueryName, q.Query);
        _json.WriteNumber(QueryLenName, q.QueryLength);
        _json.WriteNumber(MissingName, q.MissingBytes);
        _json.WriteNumber(DurationMsName, Math.Round(q.DurationMs, 3));
        WriteNullable(ErrorName, q.Error);
        _json.WriteString(SqlStateName, q.SqlState);
        _json.WriteString(MessageName, q.Message);
        WriteNullable(RowsName, q.Rows);
        _json.WriteEndObject();
        EndLine();
    }

    private void WriteNullable(JsonEncodedText name, long? value)
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
