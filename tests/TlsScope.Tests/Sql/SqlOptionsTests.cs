using TlsScope.Cli;
using TlsScope.Sources.Sql;
using TlsScope.Sources.Tls;

namespace TlsScope.Tests.Sql;

/// <summary>--sql on the command line: it names a source (TLS then runs only with --tls), and
/// its option needs it.</summary>
public sealed class SqlOptionsTests
{
    private static (CliOptions Cli, System.CommandLine.ParseResult Result) Parse(params string[] args)
    {
        var cli = new CliOptions();
        return (cli, cli.Build().Parse(args));
    }

    [Fact]
    public void SqlAloneRunsNoTls()
    {
        var (cli, r) = Parse("--sql");
        Assert.Empty(r.Errors);
        Assert.Null(cli.Validate(r, ["--sql"]));
        var demand = cli.Demand(r, TlsScope.Engine.Targets.Target.Everything);
        Assert.False(demand.NoneNamed);
        Assert.Null(cli.Sources.OfType<TlsDefinition>().Single().Create(r, demand));
        Assert.True(cli.Sources.OfType<SqlDefinition>().Single().IsNamed(r));
    }

    [Fact]
    public void SqlBinaryNeedsSql()
    {
        var (cli, r) = Parse("--sql-binary", "/usr/sbin/mariadbd");
        Assert.Equal("--sql-binary is an SQL option: add --sql", cli.Validate(r, ["--sql-binary", "/usr/sbin/mariadbd"]));
    }

    [Fact]
    public void KeylogWithSqlAloneAsksForTls()
    {
        var (cli, r) = Parse("--sql", "--keylog", "k.log");
        Assert.Equal("--keylog takes TLS traffic: add --tls", cli.Validate(r, ["--sql", "--keylog", "k.log"]));
    }
}
