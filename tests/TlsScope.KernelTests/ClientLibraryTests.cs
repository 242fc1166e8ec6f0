using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using TlsScope.KernelTests.Infrastructure;

namespace TlsScope.KernelTests;

/// <summary>Clients that reach OpenSSL in other ways: Python (SSL_*_ex), node (OpenSSL linked
/// into the executable, found by discovery after TlsScope started), .NET's SslStream.</summary>
public sealed class ClientLibraryTests
{
    private const string Reply = "pong from s_server\n";

    [KernelFact]
    public void PythonSslUsesTheExFunctionsAndAOneMegabyteWriteArrivesWhole()
    {
        using var server = OpenSslServer.Start();
        using var scope = TlsScopeRun.Start();
        var script = $$"""
            import socket, ssl, sys
            ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
            t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", {{server.Port}})), server_hostname="localhost")
            big = bytes((i * 7 + 3) % 251 for i in range(1 << 20))
            t.sendall(b"PING\n" + big + b"\nEND\n")
            got = b""
            while not got.endswith(b"\n"):
                got += t.recv(100)
            sys.stdout.write(got.decode()); sys.stdout.flush()
            """;
        using var py = Proc.Start("python3", ["-c", script]);
        server.WaitForRequest("END\n");
        server.Send(Reply);
        Assert.True(py.WaitForExit(TimeSpan.FromSeconds(30)), "python did not finish: " + py.Stderr);
        Assert.Equal(Reply, py.Stdout);
        scope.StopCleanly();
        var got = scope.Records();

        var big = Enumerable.Range(0, 1 << 20).Select(i => (byte)((i * 7 + 3) % 251)).ToArray();
        var expected = Encoding.ASCII.GetBytes("PING\n").Concat(big).Concat(Encoding.ASCII.GetBytes("\nEND\n")).ToArray();
        Assert.Equal(expected, got.Bytes(py.Pid, "write"));
        Assert.Equal(Reply, Encoding.ASCII.GetString(got.Bytes(py.Pid, "read")));
        Assert.Equal(expected, got.Bytes(server.Pid, "read"));
        // One SSL_write_ex call of over a megabyte, split by the kernel, arrives as one chunk.
        Assert.Contains(got.DataOf(py.Pid, "write"), r => r.GetProperty("len").GetInt32() == expected.Length);
        Assert.All(got.DataOf(py.Pid, "write"), r => Assert.Equal($"127.0.0.1:{server.Port}", r.GetProperty("remote").GetString()));
    }

    [KernelFact]
    public void NodeStartedAfterTlsScopeIsFoundAndCaptured()
    {
        using var server = OpenSslServer.Start();
        using var scope = TlsScopeRun.Start();
        // node starts after TlsScope: discovery must attach its built-in OpenSSL within a second.
        var script = $$"""
            const https = require('https');
            setTimeout(() => {
              https.get({ host: '127.0.0.1', port: {{server.Port}}, path: '/from-node', rejectUnauthorized: false,
                          headers: { 'X-Node': 'yes', 'Connection': 'close' } }, res => {
                let body = ''; res.on('data', d => body += d); res.on('end', () => { process.stdout.write(body); });
              }).on('error', e => { console.error(e); process.exit(2); });
            }, 2000);
            """;
        using var node = Proc.Start("node", ["-e", script]);
        server.WaitForRequest("\n\n");
        server.Send($"HTTP/1.1 200 OK\r\nContent-Length: {Reply.Length}\r\nConnection: close\r\n\r\n{Reply}");
        Assert.True(node.WaitForExit(TimeSpan.FromSeconds(30)), "node did not finish: " + node.Stderr);
        Assert.Equal(Reply, node.Stdout);
        scope.StopCleanly();
        var got = scope.Records();

        var request = Encoding.ASCII.GetString(got.Bytes(node.Pid, "write"));
        Assert.StartsWith("GET /from-node HTTP/1.1\r\n", request);
        Assert.Contains("X-Node: yes", request);
        Assert.Equal(got.Bytes(node.Pid, "write"), got.Bytes(server.Pid, "read"));
        Assert.EndsWith(Reply, Encoding.ASCII.GetString(got.Bytes(node.Pid, "read")));
        Assert.All(got.DataOf(node.Pid, "write"), r => Assert.Equal("node", r.GetProperty("library").GetString()));
        // node's memory BIO: the socket is bound by the send that follows its first write, so
        // the response it reads carries the true tuple, marked inferred.
        var reply = got.DataOf(node.Pid, "read").Last();
        Assert.Equal($"127.0.0.1:{server.Port}", reply.GetProperty("remote").GetString());
        Assert.True(reply.GetProperty("inferred").GetBoolean());
        var serverSide = got.DataOf(server.Pid, "read").First();
        Assert.Equal(serverSide.GetProperty("remote").GetString(), reply.GetProperty("local").GetString());
        Assert.False(serverSide.TryGetProperty("inferred", out _));
    }

    [KernelFact]
    public async Task DotNetSslStreamIsCaptured()
    {
        await WarmUpSslStream(); // maps libssl into this process before TlsScope looks at it
        using var server = OpenSslServer.Start();
        using var scope = TlsScopeRun.Start("--pid", Environment.ProcessId.ToString());
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", server.Port);
        await using var tls = new SslStream(tcp.GetStream(), false, (_, _, _, _) => true);
        await tls.AuthenticateAsClientAsync("localhost");
        var hello = Encoding.ASCII.GetBytes("HELLO from SslStream\n");
        await tls.WriteAsync(hello);
        await tls.FlushAsync();
        server.WaitForRequest("SslStream\n");
        server.Send(Reply);
        var buf = new byte[256];
        var read = 0;
        while (read < Reply.Length)
        {
            read += await tls.ReadAsync(buf.AsMemory(read));
        }

        Assert.Equal(Reply, Encoding.ASCII.GetString(buf, 0, read));
        scope.StopCleanly();
        var got = scope.Records();

        Assert.Equal(hello, got.Bytes(Environment.ProcessId, "write"));
        Assert.Equal(Reply, Encoding.ASCII.GetString(got.Bytes(Environment.ProcessId, "read")));
        Assert.All(got.Data, r => Assert.Equal(Environment.ProcessId, r.GetProperty("pid").GetInt32()));
        // SslStream's memory BIO: the reply carries the tuple inferred from the send that followed the write.
        var reply = got.DataOf(Environment.ProcessId, "read").Last();
        Assert.Equal($"127.0.0.1:{server.Port}", reply.GetProperty("remote").GetString());
        var local = (System.Net.IPEndPoint)tcp.Client.LocalEndPoint!;
        Assert.Equal($"127.0.0.1:{local.Port}", reply.GetProperty("local").GetString());
    }

    private static async Task WarmUpSslStream()
    {
        using var server = OpenSslServer.Start();
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", server.Port);
        await using var tls = new SslStream(tcp.GetStream(), false, (_, _, _, _) => true);
        await tls.AuthenticateAsClientAsync("localhost");
    }
}
