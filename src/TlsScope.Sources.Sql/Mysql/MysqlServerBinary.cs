using TlsScope.Bpf.Elf;
using TlsScope.Sources.Sql.Kernel;

namespace TlsScope.Sources.Sql.Mysql;

/// <summary>
/// What TlsScope probes in one MariaDB or MySQL server binary: dispatch_command by its signature,
/// the result functions, and the THD paths read from the exported accessors (MariaDB's
/// thd_user_name, thd_client_host, thd_current_db, thd_query_string). A binary without
/// dispatch_command is refused with its reason; a missing accessor leaves its field empty.
/// </summary>
public sealed record MysqlServerBinary(
    string Path,
    string Server,
    DispatchSignatures.Dispatch Dispatch,
    ElfFunction DispatchFunction,
    ElfFunction? Execute,
    ElfFunction? OkStatus,
    ElfFunction? ErrorStatus,
    SqlServerRecord Record,
    IReadOnlyList<string> Missing)
{
    /// <summary>The probes: dispatch_command's entry and return, the others where present.</summary>
    public ServerPlan Plan()
    {
        var probes = new List<ProbeSite> { new("sql_dispatch", DispatchFunction), new("sql_dispatch_return", DispatchFunction, Return: true) };
        foreach (var (fn, program) in new[] { (Execute, "sql_execute"), (OkStatus, "sql_ok_status"), (ErrorStatus, "sql_error_status") })
        {
            if (fn is { } f)
            {
                probes.Add(new(program, f));
            }
        }

        return new ServerPlan(Path, Server, Dispatch.Servers + " signature", Record, probes, Missing);
    }

    /// <summary>The binary's plan, or the one-line reason it has none.</summary>
    public static (MysqlServerBinary? Binary, string? Reason) Examine(string path)
    {
        try
        {
            var symbols = ElfSymbols.Open(path);
            using var image = ElfImage.Open(path);
            return Examine(path, symbols, image);
        }
        catch (Exception e) when (e is ElfFormatException or IOException or UnauthorizedAccessException)
        {
            return (null, e.Message);
        }
    }

    private static (MysqlServerBinary?, string?) Examine(string path, ElfSymbols symbols, ElfImage image)
    {
        ElfFunction? dispatchFn = null, execute = null, ok = null, error = null;
        DispatchSignatures.Dispatch? dispatch = null;
        foreach (var f in symbols.Functions)
        {
            if (DispatchSignatures.Match(f.Name) is { } d && dispatch is null)
            {
                (dispatch, dispatchFn) = (d, f);
            }
            else if (DispatchSignatures.Starts(f.Name, DispatchSignatures.ExecuteCommand))
            {
                execute ??= f;
            }
            else if (f.Name == DispatchSignatures.SetOkStatus)
            {
                ok = f;
            }
            else if (DispatchSignatures.Starts(f.Name, DispatchSignatures.SetErrorStatus))
            {
                error ??= f;
            }
        }

        if (dispatch is null || dispatchFn is not { } fn)
        {
            return (null, "no dispatch_command of a known signature (MariaDB 10.x/11.x, MySQL 5.6/5.7/8.0)");
        }

        var missing = new List<string>();
        var record = new SqlServerRecord { Layout = dispatch.Layout };
        record.User = NamePath(symbols, image, "thd_user_name", missing);
        record.Host = NamePath(symbols, image, "thd_client_host", missing);
        (record.Db, _) = LexPaths(symbols, image, "thd_current_db", missing);
        (record.Query, record.QueryLen) = LexPaths(symbols, image, "thd_query_string", missing);
        var server = symbols.TryGetFunction("thd_client_host", out _) || dispatch.Servers.StartsWith("MariaDB", StringComparison.Ordinal) ? "mariadb" : "mysql";
        foreach (var (f, name) in new[] { (ok, "Diagnostics_area::set_ok_status"), (error, "Diagnostics_area::set_error_status"), (execute, "mysql_execute_command") })
        {
            if (f is null)
            {
                missing.Add(name);
            }
        }

        return (new MysqlServerBinary(path, server, dispatch, fn, execute, ok, error, record, missing), null);
    }

    /// <summary>An accessor returning a char*: the loads that give the string's address.</summary>
    private static SqlPath NamePath(ElfSymbols symbols, ElfImage image, string accessor, List<string> missing)
    {
        if (symbols.TryGetFunction(accessor, out var f) && AccessorReader.Returned(image, f) is { Add: 0, Loads.Count: > 0 and <= SqlPath.MaxDepth } v)
        {
            return SqlPath.Of(v.Loads);
        }

        missing.Add(accessor);
        return default;
    }

    /// <summary>An accessor returning a LEX_STRING*: loads for its str (at +0) and its length (at +8).</summary>
    private static (SqlPath Text, SqlPath Length) LexPaths(ElfSymbols symbols, ElfImage image, string accessor, List<string> missing)
    {
        if (symbols.TryGetFunction(accessor, out var f) && AccessorReader.Returned(image, f) is { Loads.Count: < SqlPath.MaxDepth } v)
        {
            return (SqlPath.Of([.. v.Loads, v.Add]), SqlPath.Of([.. v.Loads, v.Add + 8]));
        }

        missing.Add(accessor);
        return (default, default);
    }
}
