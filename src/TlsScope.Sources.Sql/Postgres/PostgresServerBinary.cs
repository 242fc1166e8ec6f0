using System.Text;
using System.Text.RegularExpressions;
using TlsScope.Bpf.Elf;
using TlsScope.Sources.Sql.Kernel;

namespace TlsScope.Sources.Sql.Postgres;

/// <summary>
/// A PostgreSQL server binary, probed at exported functions only (Debian's is stripped and
/// exec_simple_query is static): pgstat_report_activity (a statement starts: its text),
/// EndCommand (rows), errstart/errcode (SQLSTATE), PortalRun (it ran: not a Parse alone), ReadyForQuery (the end); identity from
/// MyProcPort with the major version's <see cref="PortLayouts"/>.
/// </summary>
public static partial class PostgresServerBinary
{
    private static readonly (string Program, string Function)[] Required =
        [("pg_activity", "pgstat_report_activity"), ("pg_end_command", "EndCommand"), ("pg_errstart", "errstart"), ("pg_errcode", "errcode"), ("pg_ready", "ReadyForQuery"), ("pg_portal_run", "PortalRun")];

    /// <summary>Whether the file is a PostgreSQL server (by name: the functions decide the rest).</summary>
    public static bool IsCandidate(string path) => System.IO.Path.GetFileName(path) == "postgres";

    public static (ServerPlan? Plan, string? Reason) Examine(string path)
    {
        try
        {
            var symbols = ElfSymbols.Open(path);
            using var image = ElfImage.Open(path);
            var probes = new List<ProbeSite>();
            foreach (var (program, name) in Required)
            {
                if (!symbols.TryGetFunction(name, out var f))
                {
                    return (null, $"no exported {name} (not a PostgreSQL server?)");
                }

                probes.Add(new(program, f));
            }

            var missing = new List<string>();
            var major = Major(image);
            var record = new SqlServerRecord { Layout = SqlLayout.Postgres, PgAnchor = probes[0].Function.Address, PgErrorLevel = 21 };
            if (major is { } m && PortLayouts.ByMajor.TryGetValue(m, out var layout))
            {
                record.PgErrorLevel = layout.ErrorLevel;
                if (ElfObjects.Find(image, "MyProcPort") is { } port)
                {
                    (record.PgPort, record.PgUser, record.PgDb, record.PgHost, record.PgApp) = (port, layout.User, layout.Database, layout.RemoteHost, layout.Application);
                }
                else
                {
                    missing.Add("MyProcPort");
                }
            }
            else
            {
                missing.Add($"Port offsets for PostgreSQL {major?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "(version unknown)"}");
            }

            return (new ServerPlan(path, "postgresql", $"PostgreSQL {major}", record, probes, missing), null);
        }
        catch (Exception e) when (e is ElfFormatException or IOException or UnauthorizedAccessException)
        {
            return (null, e.Message);
        }
    }

    /// <summary>The major version from the "(PostgreSQL) 15.18" string in .rodata.</summary>
    public static int? Major(ElfImage image)
    {
        if (image.FindSection(".rodata") is not { } rodata)
        {
            return null;
        }

        var text = Encoding.Latin1.GetString(image.ReadSection(rodata));
        var m = VersionString().Match(text);
        return m.Success ? int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : null;
    }

    [GeneratedRegex(@"\(PostgreSQL\) (\d+)\.")]
    private static partial Regex VersionString();
}
