using System.Text.RegularExpressions;

namespace TlsScope.KernelTests.Infrastructure;

/// <summary>
/// A PostgreSQL 15 cluster of its own: initdb and pg_ctl (they refuse root: run as postgres) in a
/// scratch directory, a unix socket there and no TCP, every statement logged (log_statement=all,
/// with pid, user, database and application in each line, SQLSTATE in errors): the oracle.
/// </summary>
public sealed partial class PostgresServer : IDisposable
{
    public const string Bin = "/usr/lib/postgresql/15/bin";

    private readonly TempDirectory _dir = new("tlsscope-postgres-");

    public PostgresServer()
    {
        if (!File.Exists(Path.Combine(Bin, "postgres")))
        {
            throw new InvalidOperationException("PostgreSQL 15 is missing: install the postgresql-15 package (scripts/setup test)");
        }

        Must(Proc.Run("chown", ["postgres:", _dir.Path]), "chown");
        Must(Proc.Run("runuser", ["-u", "postgres", "--", Path.Combine(Bin, "initdb"), "-D", _dir.File("data"), "-A", "trust", "-U", "postgres", "--no-sync"],
            TimeSpan.FromSeconds(120)), "initdb");
        Must(Proc.Run("runuser", ["-u", "postgres", "--", Path.Combine(Bin, "pg_ctl"), "-D", _dir.File("data"), "-l", Log, "-w", "-o",
            $"-k {_dir.Path} -c listen_addresses= -c fsync=off -c log_statement=all -c log_error_verbosity=verbose -c log_line_prefix='%p|%u|%d|%a|'", "start"],
            TimeSpan.FromSeconds(120)), "pg_ctl start");
    }

    public string Socket => _dir.Path;

    public string Log => _dir.File("log");

    /// <summary>psql -c for each statement (each its own simple-protocol query).</summary>
    public (int Code, string Out, string Err) Psql(params string[] statements) =>
        Proc.Run("psql", ["-h", Socket, "-U", "postgres", "-X", "-q", "-v", "ON_ERROR_STOP=0", .. statements.SelectMany(s => new[] { "-c", s })]);

    /// <summary>pgbench with a one-statement script, <paramref name="mode"/> simple, extended or prepared.</summary>
    public string Pgbench(string mode, string script, int transactions)
    {
        var file = _dir.File($"bench-{mode}.sql");
        File.WriteAllText(file, script);
        var (code, output, err) = Proc.Run(Path.Combine(Bin, "pgbench"), ["-h", Socket, "-U", "postgres", "-n", "-M", mode, "-t",
            transactions.ToString(System.Globalization.CultureInfo.InvariantCulture), "-D", "x=2", "-f", file, "postgres"]);
        return code == 0 ? output : throw new InvalidOperationException($"pgbench -M {mode}: {err}");
    }

    /// <summary>A statement the server logged: its backend, user, database, application and text
    /// ("statement: ..." or "execute NAME: ...").</summary>
    public sealed record LoggedStatement(int Pid, string User, string Database, string Application, string Kind, string Text);

    public List<LoggedStatement> Logged() =>
        [.. File.ReadAllLines(Log).Select(l => Statement().Match(l)).Where(m => m.Success).Select(m => new LoggedStatement(
            int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), m.Groups[2].Value, m.Groups[3].Value, m.Groups[4].Value,
            m.Groups[5].Value, m.Groups[6].Value))];

    /// <summary>The SQLSTATEs of the errors logged, by backend.</summary>
    public List<(int Pid, string SqlState)> LoggedErrors() =>
        [.. File.ReadAllLines(Log).Select(l => Error().Match(l)).Where(m => m.Success)
            .Select(m => (int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), m.Groups[2].Value))];

    [GeneratedRegex(@"^(\d+)\|([^|]*)\|([^|]*)\|([^|]*)\|LOG:  (?:00000: )?(statement|execute [^:]+): (.*)$")]
    private static partial Regex Statement();

    [GeneratedRegex(@"^(\d+)\|[^|]*\|[^|]*\|[^|]*\|ERROR:  ([0-9A-Z]{5}): ")]
    private static partial Regex Error();

    private static void Must((int Code, string Out, string Err) r, string what)
    {
        if (r.Code != 0)
        {
            throw new InvalidOperationException($"{what} failed: {r.Err}");
        }
    }

    public void Dispose()
    {
        Proc.Run("runuser", ["-u", "postgres", "--", Path.Combine(Bin, "pg_ctl"), "-D", _dir.File("data"), "-m", "immediate", "-w", "stop"], TimeSpan.FromSeconds(60));
        _dir.Dispose();
    }
}
