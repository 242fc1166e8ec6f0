using System.Text.RegularExpressions;

namespace TlsScope.KernelTests.Infrastructure;

/// <summary>
/// A MariaDB server of its own: a data directory made by mariadb-install-db in a scratch
/// directory, mariadbd on a unix socket there (no network, no systemd), with the server_audit
/// plugin logging every query: the oracle the SQL source is compared with. Dispose shuts it down.
/// </summary>
public sealed partial class MariadbServer : IDisposable
{
    public const string Daemon = "/usr/sbin/mariadbd";

    private readonly TempDirectory _dir = new("tlsscope-mariadb-");
    private readonly Proc _server;

    public MariadbServer()
    {
        Tools.Require("mariadb-install-db", "mariadb-server");
        Tools.Require("mariadb", "mariadb-client");
        Must(Proc.Run("chown", ["mysql:", _dir.Path]), "chown");
        Must(Proc.Run("mariadb-install-db", ["--no-defaults", "--user=mysql", $"--datadir={_dir.File("data")}",
            "--auth-root-authentication-method=normal", "--skip-test-db"], TimeSpan.FromSeconds(120)), "mariadb-install-db");
        _server = Proc.Start(Daemon, ["--no-defaults", "--user=mysql", $"--datadir={_dir.File("data")}", $"--socket={Socket}",
            $"--pid-file={_dir.File("m.pid")}", "--skip-networking", $"--log-error={_dir.File("err.log")}", "--innodb-buffer-pool-size=32M",
            "--plugin-load-add=server_audit", "--server-audit-logging=ON", "--server-audit-events=QUERY", $"--server-audit-file-path={AuditLog}"]);
        try
        {
            Proc.WaitFor(() => _server.Process.HasExited || Query("SELECT 1").Code == 0, TimeSpan.FromSeconds(60), "mariadbd to accept connections");
            if (_server.Process.HasExited)
            {
                throw new InvalidOperationException($"mariadbd exited: {File.ReadAllText(_dir.File("err.log"))}");
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Socket => _dir.File("s.sock");

    public string AuditLog => _dir.File("audit.log");

    public int Pid => _server.Pid;

    /// <summary>Runs statements with the command-line client as root (text protocol).</summary>
    public (int Code, string Out, string Err) Query(string sql, string? database = null) =>
        Proc.Run("mariadb", ["-S", Socket, "-uroot", "-N", "-B", .. database is null ? Array.Empty<string>() : ["-D", database], "-e", sql]);

    /// <summary>Like <see cref="Query"/>, but the statements must succeed.</summary>
    public string Run(string sql, string? database = null)
    {
        var r = Query(sql, database);
        return r.Code == 0 ? r.Out : throw new InvalidOperationException($"mariadb -e {sql}: {r.Err}");
    }

    /// <summary>One QUERY line of the server_audit log.</summary>
    public sealed record AuditEntry(string User, string Host, long Connection, string Database, string Query, int Code);

    /// <summary>The QUERY lines logged so far (quotes inside the text are unescaped).</summary>
    public List<AuditEntry> Audited() =>
        File.Exists(AuditLog)
            ? File.ReadAllLines(AuditLog).Select(l => AuditLine().Match(l)).Where(m => m.Success)
                .Select(m => new AuditEntry(m.Groups[1].Value, m.Groups[2].Value, long.Parse(m.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture),
                    m.Groups[4].Value, m.Groups[5].Value.Replace("\\'", "'", StringComparison.Ordinal),
                    int.Parse(m.Groups[6].Value, System.Globalization.CultureInfo.InvariantCulture))).ToList()
            : [];

    // time,serverhost,user,host,connection,queryid,QUERY,database,'text',retcode
    [GeneratedRegex(@"^[^,]*,[^,]*,([^,]*),([^,]*),(\d+),\d+,QUERY,([^,]*),'(.*)',(\d+)$")]
    private static partial Regex AuditLine();

    private static void Must((int Code, string Out, string Err) r, string what)
    {
        if (r.Code != 0)
        {
            throw new InvalidOperationException($"{what} failed: {r.Err}");
        }
    }

    public void Dispose()
    {
        if (!_server.Process.HasExited)
        {
            Proc.Run("mariadb-admin", ["-S", Socket, "-uroot", "shutdown"]);
            if (!_server.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                _server.Signal(Proc.SIGKILL);
            }
        }

        _server.Dispose();
        _dir.Dispose();
    }
}
