namespace TlsScope.Sources.Sql.Postgres;

/// <summary>
/// Where a backend's struct Port (libpq/libpq-be.h) keeps the connection's names, per major
/// version (the extension ABI is stable within a major), and the elog level ERROR. Data, not
/// code: PostgresTests checks each row it can run against the real server (user, database,
/// client and application name of a psql session).
/// </summary>
public static class PortLayouts
{
    /// <param name="RemoteHost">char *remote_host</param>
    /// <param name="Database">char *database_name</param>
    /// <param name="User">char *user_name</param>
    /// <param name="Application">char *application_name</param>
    /// <param name="ErrorLevel">elog.h's ERROR</param>
    public sealed record Layout(uint RemoteHost, uint Database, uint User, uint Application, uint ErrorLevel);

    /// <summary>amd64 offsets, from offsetof() against each major's server headers.</summary>
    public static readonly IReadOnlyDictionary<int, Layout> ByMajor = new Dictionary<int, Layout>
    {
        [15] = new(RemoteHost: 288, Database: 328, User: 336, Application: 360, ErrorLevel: 21),
    };
}
