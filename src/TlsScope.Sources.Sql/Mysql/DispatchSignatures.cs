using TlsScope.Sources.Sql.Kernel;

namespace TlsScope.Sources.Sql.Mysql;

/// <summary>
/// The server functions TlsScope probes, by their mangled C++ names: a signature says where the
/// arguments are, whatever the version's struct layouts. dispatch_command has had three
/// signatures; the others have kept theirs (a prefix names the arguments read).
/// </summary>
public static class DispatchSignatures
{
    /// <summary>One known dispatch_command, with the demangled signature it stands for.</summary>
    public sealed record Dispatch(string Mangled, string Signature, SqlLayout Layout, string Servers);

    public static readonly IReadOnlyList<Dispatch> Known =
    [
        new("_Z16dispatch_command19enum_server_commandP3THDPcjb", "dispatch_command(enum_server_command, THD*, char*, unsigned int, bool)", SqlLayout.CommandFirst, "MariaDB 10.5 and later"),
        new("_Z16dispatch_command19enum_server_commandP3THDPcjbb", "dispatch_command(enum_server_command, THD*, char*, unsigned int, bool, bool)", SqlLayout.CommandFirst, "MariaDB 10.2-10.4 (COM_MULTI)"),
        new("_Z16dispatch_commandP3THDPK8COM_DATA19enum_server_command", "dispatch_command(THD*, COM_DATA const*, enum_server_command)", SqlLayout.ComData, "MySQL 5.7, 8.0"),
        new("_Z16dispatch_command19enum_server_commandP3THDPcj", "dispatch_command(enum_server_command, THD*, char*, unsigned int)", SqlLayout.CommandFirst, "MySQL 5.6, MariaDB 10.1 and older"),
    ];

    /// <summary>Diagnostics_area::set_error_status(uint errno, const char* message, const char* sqlstate, ...).</summary>
    public const string SetErrorStatus = "_ZN16Diagnostics_area16set_error_statusEjPKcS1_";

    /// <summary>Diagnostics_area::set_ok_status(ulonglong affected_rows, ulonglong last_insert_id, const char*).</summary>
    public const string SetOkStatus = "_ZN16Diagnostics_area13set_ok_statusEyyPKc";

    /// <summary>mysql_execute_command(THD*, ...): where a prepared statement's execution runs.</summary>
    public const string ExecuteCommand = "_Z21mysql_execute_commandP3THD";

    /// <summary>The signature a symbol name is, or null.</summary>
    public static Dispatch? Match(string mangled) => Known.FirstOrDefault(d => d.Mangled == mangled);

    /// <summary>Whether a name is the function <paramref name="prefix"/> names (with any trailing arguments).</summary>
    public static bool Starts(string mangled, string prefix) => mangled.StartsWith(prefix, StringComparison.Ordinal);
}
