using System.Runtime.InteropServices;
using System.Text;
using TlsScope.Engine.Model;
using TlsScope.Engine.Processes;
using TlsScope.Engine.Reading;
using TlsScope.Sources.Sql.Kernel;

namespace TlsScope.Sources.Sql;

/// <summary>
/// Kernel records -> <see cref="SqlQueryEvent"/>s: a statement's text records (one thread's, in
/// order) are gathered by thread until its query record arrives. Text of another call on the
/// same thread (a statement whose end was never seen) is dropped. One thread (the reader).
/// </summary>
/// <param name="serverName">The server kind of a binary index (the attach cookie).</param>
public sealed unsafe class SqlRecordDecoder(Func<uint, string> serverName, Func<ulong, long> toUnixNs, CgroupNames? cgroups = null)
{
    private const int MaxPending = 16384;

    private readonly TaskDecoder _tasks = new(cgroups);
    private readonly Dictionary<uint, (ulong CallId, MemoryStream Text)> _text = [];

    /// <summary>Statements whose text arrived only in part.</summary>
    public long TextIncomplete { get; private set; }

    public SqlQueryEvent? Decode(ReadOnlySpan<byte> record)
    {
        if (record.Length < sizeof(SqlTextHeader))
        {
            return null;
        }

        var kind = MemoryMarshal.Read<uint>(record);
        if (kind == SqlEventKind.Text)
        {
            AddText(record);
            return null;
        }

        return kind == SqlEventKind.Query && record.Length >= sizeof(SqlQueryRecord) ? Query(MemoryMarshal.AsRef<SqlQueryRecord>(record)) : null;
    }

    private void AddText(ReadOnlySpan<byte> record)
    {
        ref readonly var h = ref MemoryMarshal.AsRef<SqlTextHeader>(record);
        var data = record[sizeof(SqlTextHeader)..];
        data = data[..(int)Math.Min(h.Len, (uint)data.Length)];
        var tid = h.Head.Task.Tid;
        if (!_text.TryGetValue(tid, out var pending) || pending.CallId != h.CallId)
        {
            if (_text.Count >= MaxPending)
            {
                _text.Clear();
            }

            pending = (h.CallId, new MemoryStream());
            _text[tid] = pending;
        }

        if (pending.Text.Length == h.Offset)
        {
            pending.Text.Write(data);
        }
    }

    private SqlQueryEvent Query(in SqlQueryRecord q)
    {
        var text = "";
        if (_text.Remove(q.Head.Task.Tid, out var pending) && pending.CallId == q.StartNs)
        {
            text = Encoding.UTF8.GetString(pending.Text.GetBuffer(), 0, (int)pending.Text.Length);
            if (pending.Text.Length < q.TextLen)
            {
                TextIncomplete++;
            }
        }
        else if (q.TextLen > 0)
        {
            TextIncomplete++;
        }

        var error = (q.Flags & SqlQueryFlags.HasError) != 0;
        var server = serverName(q.Server);
        var postgres = server == "postgresql";
        var command = postgres ? (q.Command == 0 && !error ? "prepare" : "query")
            : q.Command switch { 3 => "query", 22 => "prepare", 23 => "execute", _ => q.Command.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        fixed (byte* state = q.SqlState, user = q.User, host = q.Host, db = q.Db, app = q.App, message = q.Message)
        {
            return new SqlQueryEvent(
                toUnixNs(q.Head.TimeNs),
                toUnixNs(q.StartNs),
                _tasks.Decode(in q.Head.Task),
                server,
                command,
                CString(user, SqlQueryRecord.NameMax),
                CString(db, SqlQueryRecord.NameMax),
                CString(host, SqlQueryRecord.NameMax),
                text,
                q.TextLen,
                error && !postgres ? (int)q.Error : null,
                error ? CString(state, 5) : null,
                error ? CString(message, SqlQueryRecord.MessageMax) : null,
                (q.Flags & SqlQueryFlags.HasRows) != 0 ? (long)q.Rows : null,
                CString(app, SqlQueryRecord.AppMax));
        }
    }

    /// <summary>A NUL-terminated string of at most <paramref name="max"/> bytes; null when empty.</summary>
    private static string? CString(byte* p, int max)
    {
        var span = new ReadOnlySpan<byte>(p, max);
        var end = span.IndexOf((byte)0);
        span = end < 0 ? span : span[..end];
        return span.IsEmpty ? null : Encoding.UTF8.GetString(span);
    }
}
