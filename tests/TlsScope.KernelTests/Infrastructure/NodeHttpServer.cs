namespace TlsScope.KernelTests.Infrastructure;

/// <summary>
/// A node HTTPS server on loopback speaking HTTP/2 and HTTP/1.1 (ALPN picks), with routes the
/// HTTP tests need. Every response carries "x-resp: &lt;path&gt;".
/// <list type="bullet">
/// <item>/gzip: a chunked (HTTP/1.1), gzip-encoded body of <see cref="GzipBody"/>.</item>
/// <item>/echo: answers "&lt;length&gt; &lt;sha256 hex&gt;" of the request body.</item>
/// <item>/grpc: a gRPC-style reply: application/grpc, two length-prefixed messages, grpc-status trailer.</item>
/// <item>/cookie: Set-Cookie "session=" + the request's x-secret header.</item>
/// <item>an Upgrade: websocket request: a WebSocket echo ("echo: " + each text frame; close answered).</item>
/// <item>anything else: "hello &lt;path&gt;\n".</item>
/// </list>
/// </summary>
public sealed class NodeHttpServer : IDisposable
{
    private const string Script = """
        const http2 = require('http2'), fs = require('fs'), zlib = require('zlib'), crypto = require('crypto');
        const [key, cert] = [fs.readFileSync(process.argv[2]), fs.readFileSync(process.argv[3])];
        const gzipBody = Buffer.from(Array.from({length: 2000}, (_, i) => `line ${i} of the gzip body\n`).join(''));
        const server = http2.createSecureServer({key, cert, allowHTTP1: true}, (req, res) => {
          const path = req.url;
          res.setHeader('x-resp', path);
          const chunks = [];
          req.on('data', c => chunks.push(c));
          req.on('end', () => {
            const body = Buffer.concat(chunks);
            if (path === '/gzip') {
              res.setHeader('content-type', 'text/plain');
              res.setHeader('content-encoding', 'gzip');
              const z = zlib.gzipSync(gzipBody);
              // Two writes, no Content-Length: HTTP/1.1 sends it chunked.
              res.write(z.subarray(0, 100));
              res.end(z.subarray(100));
            } else if (path === '/echo') {
              res.setHeader('content-type', 'text/plain');
              res.end(`${body.length} ${crypto.createHash('sha256').update(body).digest('hex')}`);
            } else if (path === '/grpc') {
              res.setHeader('content-type', 'application/grpc');
              const msg = (n) => { const b = Buffer.alloc(5 + n, 0x61); b[0] = 0; b.writeUInt32BE(n, 1); return b; };
              res.addTrailers({'grpc-status': '0', 'grpc-message': 'ok'});
              res.end(Buffer.concat([msg(3), msg(10)]));
            } else if (path === '/cookie') {
              res.setHeader('set-cookie', 'session=' + req.headers['x-secret']);
              res.end('cookie set\n');
            } else {
              res.setHeader('content-type', 'text/plain');
              res.end(`hello ${path}\n`);
            }
          });
        });
        // WebSocket (RFC 6455) by hand: answer each client frame with "echo: " + its text, and a close with a close.
        server.on('upgrade', (req, socket) => {
          const accept = crypto.createHash('sha1').update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
          socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
          let buf = Buffer.alloc(0);
          socket.on('data', d => {
            buf = Buffer.concat([buf, d]);
            while (buf.length >= 6) {
              const op = buf[0] & 0x0f, len = buf[1] & 0x7f;   // small masked frames only
              if (buf.length < 6 + len) return;
              const mask = buf.subarray(2, 6), p = Buffer.from(buf.subarray(6, 6 + len).map((b, i) => b ^ mask[i % 4]));
              buf = buf.subarray(6 + len);
              if (op === 8) { socket.end(Buffer.concat([Buffer.from([0x88, p.length]), p])); return; }
              const reply = Buffer.from('echo: ' + p.toString());
              socket.write(Buffer.concat([Buffer.from([0x81, reply.length]), reply]));
            }
          });
        });
        server.listen(Number(process.argv[4]), '127.0.0.1', () => console.log('listening'));
        """;

    private readonly Proc _proc;
    private readonly string _dir;

    private NodeHttpServer(Proc proc, string dir, int port)
    {
        _proc = proc;
        _dir = dir;
        Port = port;
    }

    /// <summary>The body /gzip sends before compression.</summary>
    public static string GzipBody { get; } =
        string.Concat(Enumerable.Range(0, 2000).Select(i => $"line {i} of the gzip body\n"));

    public int Port { get; }

    public int Pid => _proc.Pid;

    public static NodeHttpServer Start()
    {
        var dir = Directory.CreateTempSubdirectory("tlsscope-node-").FullName;
        var script = Path.Combine(dir, "server.js");
        File.WriteAllText(script, Script);
        var port = Ports.Free();
        var proc = Proc.Start("node", [script, TestCert.KeyPath, TestCert.CertPath, port.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        try
        {
            Proc.WaitFor(() => proc.Stdout.Contains("listening") || proc.Process.HasExited, TimeSpan.FromSeconds(20), "node listening");
            if (proc.Process.HasExited)
            {
                throw new InvalidOperationException("node server failed: " + proc.Stderr);
            }
        }
        catch
        {
            proc.Dispose();
            throw;
        }

        return new NodeHttpServer(proc, dir, port);
    }

    public string Url(string path) => $"https://127.0.0.1:{Port}{path}";

    public void Dispose()
    {
        _proc.Dispose();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
