namespace TlsScope.Engine.Model;

/// <summary>One SQL statement a server ran for a client, as the server saw it.</summary>
/// <param name="Server">"mariadb", "mysql" or "postgresql".</param>
/// <param name="Command">How it arrived: "query", "prepare", "execute".</param>
/// <param name="Query">The statement's text as captured (a prepared execution: the prepared text).</param>
/// <param name="QueryLength">Bytes of the whole text; more than <paramref name="Query"/>'s when some were lost.</param>
/// <param name="Error">The server's error number (MariaDB/MySQL), null when it succeeded.</param>
/// <param name="SqlState">The SQLSTATE of the error.</param>
/// <param name="Rows">Affected rows (PostgreSQL: rows processed), when the server reported them.</param>
/// <param name="Application">The client's application name (PostgreSQL).</param>
public sealed record SqlQueryEvent(
    long TimeUnixNs,
    long StartUnixNs,
    ProcessInfo Process,
    string Server,
    string Command,
    string? User,
    string? Database,
    string? Client,
    string Query,
    long QueryLength,
    int? Error,
    string? SqlState,
    string? Message,
    long? Rows,
    string? Application = null)
{
    public double DurationMs => (TimeUnixNs - StartUnixNs) / 1e6;

    /// <summary>Text bytes that were not captured (a full ring buffer, beyond the kernel's limit).</summary>
    public long MissingBytes => Math.Max(0, QueryLength - System.Text.Encoding.UTF8.GetByteCount(Query));
}
