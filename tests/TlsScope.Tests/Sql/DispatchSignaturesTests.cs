using System.Diagnostics;
using TlsScope.Bpf.Elf;
using TlsScope.Sources.Sql.Kernel;
using TlsScope.Sources.Sql.Mysql;

namespace TlsScope.Tests.Sql;

/// <summary>The signature table against the real mangled names of MySQL 5.6, 5.7, 8.0 and
/// MariaDB: each demangles (c++filt) to the signature it claims, and its layout is where that
/// signature puts the command, the THD and the text.</summary>
public sealed class DispatchSignaturesTests
{
    // As the servers export them: MariaDB 10.11 (Debian 12's mariadbd .dynsym), MariaDB 10.2-10.4
    // (COM_MULTI), MySQL 5.7 and 8.0 (Ubuntu's MySQL 8.0.40), MySQL 5.6.
    [Theory]
    [InlineData("_Z16dispatch_command19enum_server_commandP3THDPcjb", "dispatch_command(enum_server_command, THD*, char*, unsigned int, bool)", SqlLayout.CommandFirst)]
    [InlineData("_Z16dispatch_command19enum_server_commandP3THDPcjbb", "dispatch_command(enum_server_command, THD*, char*, unsigned int, bool, bool)", SqlLayout.CommandFirst)]
    [InlineData("_Z16dispatch_commandP3THDPK8COM_DATA19enum_server_command", "dispatch_command(THD*, COM_DATA const*, enum_server_command)", SqlLayout.ComData)]
    [InlineData("_Z16dispatch_command19enum_server_commandP3THDPcj", "dispatch_command(enum_server_command, THD*, char*, unsigned int)", SqlLayout.CommandFirst)]
    public void KnownNamesMatchTheirSignature(string mangled, string demangled, SqlLayout layout)
    {
        var d = DispatchSignatures.Match(mangled);
        Assert.NotNull(d);
        Assert.Equal(layout, d.Layout);
        Assert.Equal(demangled, d.Signature);
        Assert.Equal(demangled, Demangle(mangled));
    }

    [Fact]
    public void EveryRowIsTested() => Assert.Equal(4, DispatchSignatures.Known.Count);

    [Theory]
    [InlineData("dispatch_command")]
    [InlineData("_Z16dispatch_command19enum_server_commandP3THDPc")]
    [InlineData("_Z16dispatch_commandP3THDPK8COM_DATA")]
    public void OtherNamesDoNotMatch(string name) => Assert.Null(DispatchSignatures.Match(name));

    [Theory]
    [InlineData("_ZN16Diagnostics_area16set_error_statusEjPKcS1_RK27Sql_user_condition_identityPK13Sql_condition", "Diagnostics_area::set_error_status(unsigned int, char const*, char const*, Sql_user_condition_identity const&, Sql_condition const*)")]
    [InlineData("_ZN16Diagnostics_area16set_error_statusEjPKcS1_", "Diagnostics_area::set_error_status(unsigned int, char const*, char const*)")]
    public void ErrorStatusPrefixIsErrnoMessageSqlstate(string mangled, string demangled)
    {
        Assert.True(DispatchSignatures.Starts(mangled, DispatchSignatures.SetErrorStatus));
        Assert.Equal(demangled, Demangle(mangled));
        Assert.False(DispatchSignatures.Starts("_ZN16Diagnostics_area16set_error_statusEj", DispatchSignatures.SetErrorStatus));
    }

    [Fact]
    public void OkStatusAndExecuteNames()
    {
        Assert.Equal("Diagnostics_area::set_ok_status(unsigned long long, unsigned long long, char const*)", Demangle(DispatchSignatures.SetOkStatus));
        Assert.Equal("mysql_execute_command(THD*, bool)", Demangle("_Z21mysql_execute_commandP3THDb"));
        Assert.True(DispatchSignatures.Starts("_Z21mysql_execute_commandP3THDb", DispatchSignatures.ExecuteCommand));
        Assert.True(DispatchSignatures.Starts("_Z21mysql_execute_commandP3THD", DispatchSignatures.ExecuteCommand));
    }

    /// <summary>The installed server (Debian 12: MariaDB 10.11), when there is one: it is found
    /// with every function and accessor, and the THD paths its accessors give.</summary>
    [Fact]
    public void InstalledMariadbHasEverything()
    {
        if (!File.Exists("/usr/sbin/mariadbd"))
        {
            return;
        }

        var (binary, reason) = MysqlServerBinary.Examine("/usr/sbin/mariadbd");
        Assert.True(binary is not null, reason);
        Assert.Equal("mariadb", binary.Server);
        Assert.Equal(SqlLayout.CommandFirst, binary.Dispatch.Layout);
        Assert.Empty(binary.Missing);
        Assert.NotNull(binary.Execute);
        Assert.NotNull(binary.OkStatus);
        Assert.NotNull(binary.ErrorStatus);
        Assert.Equal(2u, binary.Record.User.Depth);
        Assert.Equal(1u, binary.Record.Db.Depth);
        Assert.Equal(1u, binary.Record.Query.Depth);
    }

    [Fact]
    public void AFileWithoutDispatchIsRefusedWithItsReason()
    {
        var (binary, reason) = MysqlServerBinary.Examine("/usr/bin/true");
        Assert.Null(binary);
        Assert.Equal("no dispatch_command of a known signature (MariaDB 10.x/11.x, MySQL 5.6/5.7/8.0)", reason);
    }

    private static string Demangle(string name)
    {
        var psi = new ProcessStartInfo("c++filt", [name]) { RedirectStandardOutput = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return output;
    }
}
