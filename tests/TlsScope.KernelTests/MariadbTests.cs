using System.Text.Json;
using TlsScope.KernelTests.Infrastructure;
using static TlsScope.KernelTests.Infrastructure.SqlCapture;

namespace TlsScope.KernelTests;

/// <summary>The SQL source against a real MariaDB (mariadbd of the distribution, its own data
/// directory and socket), with the server's own server_audit log as the oracle.</summary>
public sealed class MariadbTests(MariadbTests.Server fixture) : IClassFixture<MariadbTests.Server>
{
    /// <summary>One server for the class, with database t.</summary>
    public sealed class Server : IDisposable
    {
        public Server()
        {
            Db = new MariadbServer();
            Db.Run("CREATE DATABASE t; CREATE TABLE t.a (x INT); CREATE TABLE t.p (x INT)");
        }

        public MariadbServer Db { get; }

        public void Dispose() => Db.Dispose();
    }

    private static readonly Lazy<string> StmtClient = new(() => PeerCompiler.Compile("mariadb_stmt", "-I/usr/include/mariadb", "-lmariadb"));

    private MariadbServer Db => fixture.Db;

    private List<JsonElement> Capture(Action act) => SqlCapture.Around(["--pid", Db.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)], act);

    [KernelFact]
    public void ErrorsRowsUserAndDatabaseAgreeWithTheAuditLog()
    {
        Db.Run("DELETE FROM a", "t");
        var before = Db.Audited().Count;
        var records = Capture(() =>
        {
            Db.Run("INSERT INTO a VALUES (1),(2),(3); UPDATE a SET x = x + 10 WHERE x < 3; SELECT x FROM a WHERE x > 10", "t");
            Assert.Equal(1, Db.Query("SELECT nosuch FROM a", "t").Code);
        });

        var insert = One(records, "INSERT INTO a VALUES (1),(2),(3)");
        Assert.Equal(3, Num(insert, "rows"));
        Assert.Null(Num(insert, "error"));
        Assert.Equal("mariadb", Str(insert, "server"));
        Assert.Equal("query", Str(insert, "command"));
        Assert.Equal("mariadbd", Str(insert, "comm"));
        Assert.Equal(Db.Pid, insert.GetProperty("pid").GetInt32());
        Assert.Equal(2, Num(One(records, "UPDATE a SET x = x + 10 WHERE x < 3"), "rows"));
        var error = One(records, "SELECT nosuch FROM a");
        Assert.Equal(1054, Num(error, "error"));
        Assert.Equal("42S22", Str(error, "sqlstate"));
        Assert.Equal("Unknown column 'nosuch' in 'SELECT'", Str(error, "message"));
        Assert.Null(Num(error, "rows"));

        // Every statement the server audited is there once, with its user, client host, database and result.
        var audited = Db.Audited().Skip(before).ToList();
        Assert.Equal(4, audited.Count);
        foreach (var a in audited)
        {
            var r = One(records, a.Query);
            Assert.Equal(a.User, Str(r, "user"));
            Assert.Equal(a.Host, Str(r, "client"));
            Assert.Equal(a.Database, Str(r, "database") ?? "");
            Assert.Equal(a.Code == 0 ? null : a.Code, Num(r, "error"));
        }

        Assert.Equal(audited.Count, records.Count);
    }

    /// <summary>A slow statement on one connection while another runs many fast ones: per-process
    /// state (eCapture's) reports the slow one with a fast one's text.</summary>
    [KernelFact]
    public void ConcurrentSessionsKeepTheirOwnText()
    {
        const int Fast = 40;
        var records = Capture(() =>
        {
            var slow = Task.Run(() => Db.Run("SELECT SLEEP(0.4), 'slow-1'; SELECT SLEEP(0.4), 'slow-2'"));
            var fast = Task.Run(() =>
            {
                for (var i = 0; i < Fast; i++)
                {
                    Db.Run($"SELECT 'fast-{i}'");
                }
            });
            Task.WaitAll(slow, fast);
        });

        foreach (var n in new[] { 1, 2 })
        {
            var slow = One(records, $"SELECT SLEEP(0.4), 'slow-{n}'");
            Assert.InRange(slow.GetProperty("duration_ms").GetDouble(), 400, 5000);
        }

        for (var i = 0; i < Fast; i++)
        {
            Assert.InRange(One(records, $"SELECT 'fast-{i}'").GetProperty("duration_ms").GetDouble(), 0, 399);
        }

        var slowThreads = records.Where(r => Str(r, "query")!.Contains("slow-", StringComparison.Ordinal)).Select(r => r.GetProperty("tid").GetInt32()).Distinct();
        Assert.Single(slowThreads);
    }

    /// <summary>The binary protocol: COM_STMT_PREPARE's text, and each COM_STMT_EXECUTE (only an
    /// id on the wire) with the prepared text and its own result.</summary>
    [KernelFact]
    public void ServerSidePreparedStatement()
    {
        const string Statement = "INSERT INTO p SELECT ? FROM a LIMIT 2";
        Db.Run("DELETE FROM a; INSERT INTO a VALUES (1),(2),(3)", "t");
        var records = Capture(() =>
        {
            var (code, output, err) = Proc.Run(StmtClient.Value, [Db.Socket, "t", Statement, "7", "8"]);
            Assert.True(code == 0, err);
            Assert.Equal("rows 2\nrows 2\n", output);
        });

        var prepare = Assert.Single(records, r => Str(r, "command") == "prepare");
        Assert.Equal(Statement, Str(prepare, "query"));
        var executes = records.Where(r => Str(r, "command") == "execute").ToList();
        Assert.Equal(2, executes.Count);
        Assert.All(executes, e =>
        {
            Assert.Equal(Statement, Str(e, "query"));
            Assert.Equal(2, Num(e, "rows"));
            Assert.Equal("root", Str(e, "user"));
            Assert.Equal("t", Str(e, "database"));
        });
    }

    /// <summary>Text well past one kernel record (4 KiB) and eCapture's 256-byte cut arrives whole.</summary>
    [KernelFact]
    public void LongStatementsArriveWhole()
    {
        var literal = string.Concat(Enumerable.Range(0, 3000).Select(i => (char)('a' + (i % 26))));
        var query = $"SELECT '{literal}' AS a, '{literal}' AS b, '{literal}' AS c";
        var records = Capture(() => Db.Run(query));
        var r = One(records, query);
        Assert.Equal(query.Length, Num(r, "query_len"));
        Assert.Equal(0, Num(r, "missing"));
    }
}

/// <summary>A server started after the capture (uprobes on its file apply to it) and
/// --sql with servers that cannot be probed.</summary>
public sealed class MariadbStartTests
{
    [KernelFact]
    public void ServerStartedAfterTheCaptureIsSeen()
    {
        using var run = TlsScopeRun.StartWith(["--format", "json"], ["--sql", "--comm", "mariadbd"]);
        using (var db = new MariadbServer())
        {
            db.Run("SELECT 'late server'");
        }

        run.StopCleanly();
        var r = Assert.Single(run.Records().OfType("sql_query"), r => r.GetProperty("query").GetString() == "SELECT 'late server'");
        Assert.Equal("root", r.GetProperty("user").GetString());
    }

    [KernelFact]
    public void ANamedBinaryWithoutTheFunctionsIsAOneLineError()
    {
        var (code, err) = TlsScopeRun.RunToEnd("--sql", "--sql-binary", "/usr/bin/true", "--duration", "1");
        Assert.Equal(1, code);
        Assert.StartsWith("tlsscope: --sql-binary /usr/bin/true: no dispatch_command of a known signature", err);
        Assert.Single(err.Trim().Split('\n'));
    }

    [KernelFact]
    public void AMissingBinaryIsAOneLineError()
    {
        var (code, err) = TlsScopeRun.RunToEnd("--sql", "--sql-binary", "/nonexistent/mariadbd", "--duration", "1");
        Assert.Equal(1, code);
        Assert.Equal("tlsscope: --sql-binary /nonexistent/mariadbd: no such file", err.Trim());
    }
}
