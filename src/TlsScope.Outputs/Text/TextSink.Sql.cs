using TlsScope.Engine.Model;

namespace TlsScope.Outputs.Text;

/// <summary>
/// One line per SQL statement:
/// <code>15:04:05.123456 mariadbd[812/901] mariadb root@localhost db=t query 0.412ms rows=3: INSERT INTO a VALUES (1),(2),(3)</code>
/// with <c>error=1054 42S22 'message'</c> (PostgreSQL: <c>error=42703</c>) instead of rows when it failed. Line breaks inside the
/// statement are shown as '?', like every control character from a traced process.
/// </summary>
public sealed partial class TextSink : IReceive<SqlQueryEvent>
{
    public void Receive(SqlQueryEvent q)
    {
        ArgumentNullException.ThrowIfNull(q);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var line = new Utf8Line(LineBuffer(256 + Utf8Line.MaxBytes(q.Process.Comm) + Utf8Line.MaxBytes(q.User) + Utf8Line.MaxBytes(q.Client)
            + Utf8Line.MaxBytes(q.Database) + Utf8Line.MaxBytes(q.Application) + Utf8Line.MaxBytes(q.Message) + Utf8Line.MaxBytes(q.Query)));
        WriteTime(ref line, q.TimeUnixNs);
        line.Byte((byte)' ');
        line.Text(q.Process.Comm);
        line.Byte((byte)'[');
        line.Number(q.Process.Pid);
        line.Byte((byte)'/');
        line.Number(q.Process.Tid);
        line.Ascii("] "u8);
        WriteContainer(ref line, q.Process);
        line.Text(q.Server);
        line.Byte((byte)' ');
        line.Text(q.User ?? "?");
        line.Byte((byte)'@');
        line.Text(q.Client ?? "?");
        line.Ascii(" db="u8);
        line.Text(q.Database ?? "-");
        if (q.Application is { } app)
        {
            line.Ascii(" app="u8);
            line.Text(app);
        }

        line.Byte((byte)' ');
        line.Text(q.Command);
        line.Byte((byte)' ');
        line.Text(q.DurationMs.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture));
        line.Ascii("ms"u8);
        if (q.Error is not null || q.SqlState is not null)
        {
            line.Ascii(" error="u8);
            if (q.Error is { } error)
            {
                line.Number(error);
                line.Byte((byte)' ');
            }

            line.Text(q.SqlState ?? "?");
            if (q.Message is { } message)
            {
                line.Ascii(" '"u8);
                line.Text(message);
                line.Byte((byte)'\'');
            }
        }
        else if (q.Rows is { } rows)
        {
            line.Ascii(" rows="u8);
            line.Number(rows);
        }

        if (q.MissingBytes > 0)
        {
            line.Ascii(" missing="u8);
            line.Number(q.MissingBytes);
        }

        line.Ascii(": "u8);
        line.Text(q.Query);
        EndLine(ref line);
        Append("\n"u8);
    }
}
