using TlsScope.Bpf.Elf;
using TlsScope.Sources.Sql.Kernel;

namespace TlsScope.Sources.Sql;

/// <summary>One probe of a server binary: a bpf/sql program at a function's entry or return.</summary>
public readonly record struct ProbeSite(string Program, ElfFunction Function, bool Return = false);

/// <summary>What TlsScope probes in one server binary, whatever the server.</summary>
/// <param name="Server">"mariadb", "mysql" or "postgresql".</param>
/// <param name="Kind">What was recognised ("MariaDB 10.5 and later signature", "PostgreSQL 15").</param>
/// <param name="Missing">What the binary lacks, each leaving some field empty.</param>
public sealed record ServerPlan(string Path, string Server, string Kind, SqlServerRecord Record, IReadOnlyList<ProbeSite> Probes, IReadOnlyList<string> Missing);
