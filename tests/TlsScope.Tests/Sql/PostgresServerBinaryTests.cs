using System.Diagnostics;
using System.Globalization;
using TlsScope.Bpf.Elf;
using TlsScope.Sources.Sql.Kernel;
using TlsScope.Sources.Sql.Postgres;

namespace TlsScope.Tests.Sql;

/// <summary>The installed PostgreSQL 15 server (Debian's, stripped): every probed function is
/// exported, MyProcPort is found in .dynsym (checked against readelf), the major version read.</summary>
public sealed class PostgresServerBinaryTests
{
    private const string Postgres = "/usr/lib/postgresql/15/bin/postgres";

    [Fact]
    public void InstalledServerHasEverything()
    {
        if (!File.Exists(Postgres))
        {
            return;
        }

        var (plan, reason) = PostgresServerBinary.Examine(Postgres);
        Assert.True(plan is not null, reason);
        Assert.Empty(plan.Missing);
        Assert.Equal("postgresql", plan.Server);
        Assert.Equal("PostgreSQL 15", plan.Kind);
        Assert.Equal(SqlLayout.Postgres, plan.Record.Layout);
        Assert.Equal(["pg_activity", "pg_end_command", "pg_errstart", "pg_errcode", "pg_ready", "pg_portal_run"], plan.Probes.Select(p => p.Program));
        Assert.Equal(336u, plan.Record.PgUser);
        Assert.Equal(21u, plan.Record.PgErrorLevel);
        Assert.Equal(ReadElfObject(Postgres, "MyProcPort"), plan.Record.PgPort);
    }

    [Fact]
    public void ObjectsAreNotFunctions()
    {
        using var image = ElfImage.Open("/usr/bin/true");
        Assert.Null(ElfObjects.Find(image, "main"));
        Assert.Null(ElfObjects.Find(image, "no_such_symbol"));
    }

    [Fact]
    public void AnotherProgramIsRefusedWithItsReason()
    {
        var (plan, reason) = PostgresServerBinary.Examine("/usr/bin/true");
        Assert.Null(plan);
        Assert.Equal("no exported pgstat_report_activity (not a PostgreSQL server?)", reason);
    }

    private static ulong ReadElfObject(string path, string name)
    {
        var psi = new ProcessStartInfo("readelf", ["-W", "--dyn-syms", path]) { RedirectStandardOutput = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        var lines = p.StandardOutput.ReadToEnd().Split('\n');
        p.WaitForExit();
        var fields = lines.Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Single(f => f.Length >= 8 && f[7] == name && f[3] == "OBJECT");
        return ulong.Parse(fields[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    }
}
