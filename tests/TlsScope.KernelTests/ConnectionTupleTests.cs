using System.Text;
using TlsScope.KernelTests.Infrastructure;

namespace TlsScope.KernelTests;

/// <summary>The 4-tuple comes from the socket behind the fd, so a connection opened before
/// TlsScope started gets its true tuple too.</summary>
public sealed class ConnectionTupleTests
{
    [KernelFact]
    public void ConnectionOpenedBeforeTlsScopeStartedGetsItsTrueTuple()
    {
        using var server = OpenSslServer.Start();
        var script = $$"""
            import socket, ssl, sys
            ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
            t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", {{server.Port}})), server_hostname="localhost")
            t.sendall(b"first, before tlsscope\n")
            print(t.getsockname()[1], flush=True)
            sys.stdin.readline()
            t.sendall(b"second, after tlsscope\n")
            got = t.recv(100)
            sys.stdout.write(got.decode()); sys.stdout.flush()
            """;
        using var py = Proc.Start("python3", ["-c", script], redirectStdin: true);
        server.WaitForRequest("before tlsscope\n");
        Proc.WaitFor(() => py.Stdout.Contains('\n'), TimeSpan.FromSeconds(10), "the client's port");
        var clientPort = int.Parse(py.Stdout.Split('\n')[0]);

        using var scope = TlsScopeRun.Start();
        py.Process.StandardInput.WriteLine("go");
        py.Process.StandardInput.Flush();
        server.WaitForRequest("after tlsscope\n");
        server.Send("ok\n");
        Assert.True(py.WaitForExit(TimeSpan.FromSeconds(20)), "python did not finish: " + py.Stderr);
        scope.StopCleanly();
        var got = scope.Records();

        var sent = Assert.Single(got.DataOf(py.Pid, "write"));
        Assert.Equal("second, after tlsscope\n", Encoding.ASCII.GetString(sent.GetProperty("data").GetBytesFromBase64()));
        Assert.Equal($"127.0.0.1:{clientPort}", sent.GetProperty("local").GetString());
        Assert.Equal($"127.0.0.1:{server.Port}", sent.GetProperty("remote").GetString());
        var served = Assert.Single(got.DataOf(server.Pid, "read"));
        Assert.Equal($"127.0.0.1:{server.Port}", served.GetProperty("local").GetString());
        Assert.Equal($"127.0.0.1:{clientPort}", served.GetProperty("remote").GetString());
    }
}
