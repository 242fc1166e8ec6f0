using System.Globalization;

namespace TlsScope.KernelTests.Infrastructure;

/// <summary>
/// NSS's own test peers (libnss3-tools): selfserv and tstclnt over a certificate database made by
/// certutil in a scratch directory. selfserv listens on every address, so it runs in a network
/// namespace of the test's own, and tstclnt with it.
/// </summary>
public sealed class NssPeers : IDisposable
{
    public const string Library = "libssl3.so";
    private const string Nickname = "server";

    private readonly TempDirectory _dir = new("tlsscope-nss-");

    public NssPeers()
    {
        Tools.Require("certutil", "libnss3-tools");
        Tools.Require("selfserv", "libnss3-tools");
        Tools.Require("tstclnt", "libnss3-tools");
        File.WriteAllBytes(_dir.File("noise"), System.Security.Cryptography.RandomNumberGenerator.GetBytes(64));
        Certutil("-N", "-d", Database, "--empty-password");
        Certutil("-S", "-d", Database, "-n", Nickname, "-s", "CN=localhost", "-x", "-t", "CT,C,C", "-k", "ec", "-q", "nistp256",
            "-v", "2", "-z", _dir.File("noise"), "--extSAN", "dns:localhost,ip:127.0.0.1", "--keyUsage", "digitalSignature",
            "-Z", "SHA256", "--nsCertType", "sslServer");
        Ns = NetNs.Create();
    }

    /// <summary>The certificate database, as NSS names it.</summary>
    public string Database => "sql:" + _dir.Path;

    public NetNs Ns { get; }

    public int Port { get; } = 4443;

    /// <summary>Runs certutil on the database to its end; throws if it fails.</summary>
    public string Certutil(params string[] args)
    {
        var (code, output, err) = Proc.Run("certutil", args, TimeSpan.FromSeconds(60));
        return code == 0 ? output : throw new InvalidOperationException($"certutil {string.Join(' ', args)}: {err}");
    }

    /// <summary>selfserv on 127.0.0.1:<see cref="Port"/> inside the namespace, with versions MIN:MAX
    /// (e.g. "tls1.3:tls1.3"); returns once it listens.</summary>
    public Proc StartServer(string versions)
    {
        var server = Ns.Start("selfserv", ["-d", Database, "-n", Nickname, "-p", Port.ToString(CultureInfo.InvariantCulture), "-V", versions]);
        Proc.WaitFor(() => Ns.Run("ss", "-Htln", $"sport = :{Port}").Out.Contains("LISTEN", StringComparison.Ordinal),
            TimeSpan.FromSeconds(20), "selfserv listening");
        return server;
    }

    /// <summary>tstclnt to the server sending <paramref name="request"/> (from a file: on a pipe's
    /// end it never exits): it writes the response, byte for byte, to the file <c>Response</c>
    /// names and exits. The shell execs it: the pid is tstclnt's.</summary>
    public (Proc Client, string Response) StartClient(string versions, string request)
    {
        var id = Guid.NewGuid().ToString("n");
        var (requestFile, responseFile) = (_dir.File($"request-{id}"), _dir.File($"response-{id}"));
        File.WriteAllText(requestFile, request);
        var client = Ns.Start("sh", ["-c", "exec tstclnt -h 127.0.0.1 -p \"$1\" -o -D -V \"$2\" -A \"$3\" > \"$4\"", "tstclnt",
            Port.ToString(CultureInfo.InvariantCulture), versions, requestFile, responseFile]);
        return (client, responseFile);
    }

    public void Dispose()
    {
        Ns.Dispose();
        _dir.Dispose();
    }
}
