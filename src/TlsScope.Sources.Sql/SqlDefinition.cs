using System.CommandLine;
using TlsScope.Engine;
using TlsScope.Engine.Sources;

namespace TlsScope.Sources.Sql;

/// <summary>The SQL source on the command line: --sql, and --sql-binary for a server elsewhere.</summary>
public sealed class SqlDefinition : ISourceDefinition
{
    public readonly Option<bool> Sql = new("--sql") { Description = "Capture the SQL statements MariaDB, MySQL and PostgreSQL servers run: text, user, database, client, result, duration" };
    public readonly Option<string[]> Binary = new("--sql-binary") { HelpName = "PATH", Description = "Also probe this MariaDB, MySQL or PostgreSQL server binary (repeatable; /usr/sbin/mariadbd, /usr/sbin/mysqld, /usr/lib/postgresql/*/bin/postgres and running servers are found anyway)", AllowMultipleArgumentsPerToken = false };

    public string Name => "sql";

    public IEnumerable<Option> Options => [Sql, Binary];

    public bool IsNamed(ParseResult parsed) => parsed.GetValue(Sql);

    public string? Validate(ParseResult parsed, SourceDemand demand) =>
        !parsed.GetValue(Sql) && (parsed.GetValue(Binary) ?? []).Length > 0 ? "--sql-binary is an SQL option: add --sql" : null;

    public ICaptureSource? Create(ParseResult parsed, SourceDemand demand)
    {
        if (!parsed.GetValue(Sql))
        {
            return null;
        }

        var binaries = parsed.GetValue(Binary) ?? [];
        foreach (var b in binaries)
        {
            if (!File.Exists(b))
            {
                throw new CaptureException($"--sql-binary {b}: no such file");
            }
        }

        return new SqlSource(binaries);
    }
}
