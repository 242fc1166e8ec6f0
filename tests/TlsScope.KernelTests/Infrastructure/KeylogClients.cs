using System.Globalization;

namespace TlsScope.KernelTests.Infrastructure;

/// <summary>The TLS version a client is pinned to; Default lets the library choose.</summary>
public enum TlsVersion
{
    Default,
    Tls12,
    Tls13,
}

/// <summary>A finished client: its pid, output, and the NSS key log lines its own library wrote
/// (no newlines, no comment lines).</summary>
public sealed record KeylogRun(int Pid, string Stdout, string Stderr, IReadOnlyList<string> Lines);

/// <summary>
/// Clients that fetch https://HOST:PORT/PATH (HTTP/1.1, no verification) COUNT times on one
/// connection and log their keys the library's own way, to compare with what TlsScope writes.
/// With a <see cref="NetNs"/> they run inside it.
/// </summary>
public static class KeylogClients
{
    /// <summary>curl (OpenSSL), keys through SSLKEYLOGFILE.</summary>
    public static KeylogRun Curl(int port, string path, TlsVersion version = TlsVersion.Default, int count = 1,
        string host = "127.0.0.1", NetNs? ns = null, bool http2 = false)
    {
        string[] pin = version switch
        {
            TlsVersion.Tls12 => ["--tlsv1.2", "--tls-max", "1.2"],
            TlsVersion.Tls13 => ["--tlsv1.3"],
            _ => [],
        };
        // Repeated URLs reuse curl's connection.
        var url = $"https://{HostInUrl(host)}:{port}{path}";
        return RunWithKeylog(ns, "curl", keylog => (
            ["-sSk", http2 ? "--http2" : "--http1.1", .. pin, .. Enumerable.Repeat(url, count)],
            new Dictionary<string, string> { ["SSLKEYLOGFILE"] = keylog }));
    }

    private const string PythonScript = """
        import http.client, os, ssl, sys
        host, port, path, version, count, keylog = sys.argv[1:7]
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.keylog_filename = keylog
        if version != "Default":
            v = ssl.TLSVersion.TLSv1_2 if version == "Tls12" else ssl.TLSVersion.TLSv1_3
            ctx.minimum_version = ctx.maximum_version = v
        print(f"pid={os.getpid()}", file=sys.stderr)
        conn = http.client.HTTPSConnection(host, int(port), context=ctx)
        for _ in range(int(count)):
            conn.request("GET", path)
            sys.stdout.write(conn.getresponse().read().decode())
        conn.close()
        """;

    /// <summary>Python's ssl (OpenSSL through _ssl), keys through SSLContext.keylog_filename.
    /// Its stderr says "pid=N" from inside, to prove the pid is python's own.</summary>
    public static KeylogRun Python(int port, string path, TlsVersion version = TlsVersion.Default, int count = 1,
        string host = "127.0.0.1", NetNs? ns = null) =>
        RunWithKeylog(ns, "python3", keylog => (
            ["-c", PythonScript, host, Str(port), path, version.ToString(), Str(count), keylog], null));

    private const string NodeScript = """
        const https = require('https');
        const [host, port, path, version, count] = process.argv.slice(1);
        const pin = version === 'Default' ? {} : { minVersion: version === 'Tls12' ? 'TLSv1.2' : 'TLSv1.3' };
        if (pin.minVersion) pin.maxVersion = pin.minVersion;
        // One keep-alive socket: every request goes over the same connection.
        const agent = new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false, ...pin });
        const get = () => new Promise((resolve, reject) => https.get({ host, port, path, agent }, res => {
          let body = ''; res.on('data', d => body += d); res.on('end', () => resolve(body));
        }).on('error', reject));
        (async () => {
          for (let i = 0; i < Number(count); i++) process.stdout.write(await get());
          agent.destroy();
        })().catch(e => { console.error(e); process.exit(2); });
        """;

    /// <summary>node (OpenSSL built into the executable), keys through --tls-keylog.</summary>
    public static KeylogRun Node(int port, string path, TlsVersion version = TlsVersion.Default, int count = 1,
        string host = "127.0.0.1", NetNs? ns = null) =>
        RunWithKeylog(ns, "node", keylog => (
            ["--tls-keylog=" + keylog, "-e", NodeScript, host, Str(port), path, version.ToString(), Str(count)], null));

    /// <summary>The key lines of an NSS key log file: no blanks, no comments (Python writes one).</summary>
    public static IReadOnlyList<string> ReadKeylog(string path) =>
        File.Exists(path)
            ? File.ReadAllLines(path).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList()
            : [];

    /// <summary>Runs a client with a fresh key log path to completion; throws with its stderr if it fails.</summary>
    internal static KeylogRun RunWithKeylog(NetNs? ns, string file,
        Func<string, (IEnumerable<string> Args, IDictionary<string, string>? Env)> build)
    {
        var dir = Directory.CreateTempSubdirectory("tlsscope-keylog-").FullName;
        try
        {
            var keylog = Path.Combine(dir, "keys.log");
            var (args, env) = build(keylog);
            using var proc = NetNs.StartIn(ns, file, args, env);
            if (!proc.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                throw new TimeoutException($"{file} did not finish: {proc.Stderr}");
            }

            if (proc.Process.ExitCode != 0)
            {
                throw new InvalidOperationException($"{file} failed with {proc.Process.ExitCode}: {proc.Stderr}");
            }

            return new KeylogRun(proc.Pid, proc.Stdout, proc.Stderr, ReadKeylog(keylog));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string HostInUrl(string host) => host.Contains(':') ? $"[{host}]" : host;

    private static string Str(int n) => n.ToString(CultureInfo.InvariantCulture);
}
