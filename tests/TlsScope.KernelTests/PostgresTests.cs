using System.Text.Json;
using TlsScope.KernelTests.Infrastructure;
using static TlsScope.KernelTests.Infrastructure.SqlCapture;

namespace TlsScope.KernelTests;

/// <summary>The SQL source against a real PostgreSQL 15 (Debian's stripped postgres: exported
/// functions only), with the server's own statement log as the oracle.</summary>
public sealed class PostgresTests(PostgresTests.Server fixture) : IClassFixture<PostgresTests.Server>
{
    public sealed class Server : IDisposable
    {
        public Server()
        {
            Db = new PostgresServer();
            var r = Db.Psql("CREATE TABLE t (a int)");
            if (r.Code != 0)
            {
                throw new InvalidOperationException(r.Err);
            }
        }

        public PostgresServer Db { get; }

        public void Dispose() => Db.Dispose();
    }

    private PostgresServer Db => fixture.Db;

    private List<JsonElement> Capture(Action act) => SqlCapture.Around(["--comm", "postgres"], act);

    /// <summary>A backend terminated in the middle of a statement: the statement is reported,
    /// ended by the backend's exit, with the termination's SQLSTATE (57P01), not left behind.</summary>
    [KernelFact]
    public void AStatementWhoseBackendIsTerminatedIsReportedWithItsEnd()
    {
        const string Sleeping = "SELECT pg_sleep(60) /* terminated */";
        var records = Capture(() =>
        {
            using var sleeper = System.Diagnostics.Process.Start("psql", ["-h", Db.Socket, "-U", "postgres", "-X", "-q", "-c", Sleeping])!;
            var deadline = DateTime.UtcNow.AddSeconds(10);
            string killed;
            do
            {
                killed = Proc.Run("psql", ["-h", Db.Socket, "-U", "postgres", "-X", "-At", "-c",
                    $"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query = '{Sleeping}'"]).Out.Trim();
            }
            while (killed != "1" && DateTime.UtcNow < deadline);

            Assert.Equal("1", killed);
            Assert.True(sleeper.WaitForExit(10_000));
        });

        var r = One(records, Sleeping);
        Assert.Equal("57P01", Str(r, "sqlstate"));
        Assert.Null(Num(r, "rows"));
    }

    /// <summary>psql's simple protocol: rows, the error's SQLSTATE, and the identity read from
    /// MyProcPort with PortLayouts' row for 15, against the server's log.</summary>
    [KernelFact]
    public void PsqlStatementsAgreeWithTheServerLog()
    {
        var before = Db.Logged().Count;
        var errorsBefore = Db.LoggedErrors().Count;
        var records = Capture(() =>
        {
            var r = Db.Psql("DELETE FROM t", "INSERT INTO t SELECT generate_series(1, 5)", "UPDATE t SET a = a + 10 WHERE a < 3",
                "SELECT a FROM t WHERE a > 3", "SELECT nosuch FROM t");
            Assert.Contains("column \"nosuch\" does not exist", r.Err);
        });

        Assert.Equal(5, Num(One(records, "INSERT INTO t SELECT generate_series(1, 5)"), "rows"));
        Assert.Equal(2, Num(One(records, "UPDATE t SET a = a + 10 WHERE a < 3"), "rows"));
        Assert.Equal(4, Num(One(records, "SELECT a FROM t WHERE a > 3"), "rows"));
        var failed = One(records, "SELECT nosuch FROM t");
        Assert.Equal("42703", Str(failed, "sqlstate"));
        Assert.Null(Num(failed, "rows"));
        Assert.Null(Num(failed, "error"));

        var logged = Db.Logged().Skip(before).ToList();
        Assert.Equal(5, logged.Count);
        foreach (var l in logged)
        {
            var r = One(records, l.Text);
            Assert.Equal(l.Pid, r.GetProperty("pid").GetInt32());
            Assert.Equal("postgresql", Str(r, "server"));
            Assert.Equal("query", Str(r, "command"));
            Assert.Equal(l.User, Str(r, "user"));
            Assert.Equal(l.Database, Str(r, "database"));
            Assert.Equal(l.Application, Str(r, "application"));
            Assert.Equal("[local]", Str(r, "client"));
        }

        var (errorPid, state) = Assert.Single(Db.LoggedErrors().Skip(errorsBefore));
        Assert.Equal(errorPid, failed.GetProperty("pid").GetInt32());
        Assert.Equal(state, Str(failed, "sqlstate"));
        Assert.Equal(logged.Count, records.Count);
    }

    /// <summary>The extended protocol (Parse/Bind/Execute/Sync) and named prepared statements,
    /// which eCapture's exec_simple_query never sees: one record per execution, as logged.</summary>
    [KernelTheory]
    [InlineData("extended")]
    [InlineData("prepared")]
    public void PgbenchExtendedAndPrepared(string mode)
    {
        const string Query = "SELECT a FROM t WHERE a > $1;";
        Db.Psql("DELETE FROM t", "INSERT INTO t SELECT generate_series(1, 5)");
        var before = Db.Logged().Count;
        var records = Capture(() => Db.Pgbench(mode, "SELECT a FROM t WHERE a > :x;\n", 3));

        var executions = Db.Logged().Skip(before).Where(l => l.Kind.StartsWith("execute", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, executions.Count);
        var ran = records.Where(r => Str(r, "command") == "query").ToList();
        Assert.Equal(3, ran.Count);
        Assert.All(ran, r =>
        {
            Assert.Equal(Query, Str(r, "query"));
            Assert.Equal(3, Num(r, "rows"));
            Assert.Equal("pgbench", Str(r, "application"));
            Assert.Equal(executions[0].Pid, r.GetProperty("pid").GetInt32());
        });
        var prepares = records.Where(r => Str(r, "command") == "prepare").ToList();
        Assert.Equal(mode == "prepared" ? 1 : 0, prepares.Count);
        Assert.All(prepares, p => Assert.Equal(Query, Str(p, "query")));
    }

    [KernelFact]
    public void LongStatementsArriveWhole()
    {
        var literal = string.Concat(Enumerable.Range(0, 9000).Select(i => (char)('a' + (i % 26))));
        var query = $"SELECT length('{literal}')";
        var records = Capture(() => Assert.Equal(0, Db.Psql(query).Code));
        var r = One(records, query);
        Assert.Equal(query.Length, Num(r, "query_len"));
        Assert.Equal(0, Num(r, "missing"));
        Assert.Equal(1, Num(r, "rows"));
    }
}
