using TlsScope.KernelTests.Infrastructure;

namespace TlsScope.KernelTests;

public sealed class FilterTests
{
    [KernelFact]
    public void PidCapturesOnlyThatProcess()
    {
        using var server = OpenSslServer.Start();
        using var scope = TlsScopeRun.Start("--pid", server.Pid.ToString());
        using var curl = Proc.Start("curl", ["-sk", "--http1.1", $"https://127.0.0.1:{server.Port}/only-server"]);
        server.WaitForRequest();
        server.Send("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nhi\n");
        Assert.True(curl.WaitForExit(TimeSpan.FromSeconds(20)));
        scope.StopCleanly();
        var got = scope.Records();

        Assert.NotEmpty(got.DataOf(server.Pid, "read"));
        Assert.NotEmpty(got.DataOf(server.Pid, "write"));
        Assert.All(got.Data, r => Assert.Equal(server.Pid, r.GetProperty("pid").GetInt32()));
    }

    [KernelFact]
    public void CaptureEndsWhenThePidProcessExits()
    {
        using var sleeper = Proc.Start("sleep", ["2"]);
        using var scope = TlsScopeRun.Start("--pid", sleeper.Pid.ToString());
        Assert.True(sleeper.WaitForExit(TimeSpan.FromSeconds(10)));
        Proc.WaitFor(() => scope.HasExited, TimeSpan.FromSeconds(10), "tlsscope to end with its process");
        scope.StopCleanly();
        Assert.Contains($"tlsscope: process {sleeper.Pid} exited", scope.Stderr);
    }

    [KernelFact]
    public void CommCapturesOnlyProcessesOfThatName()
    {
        using var server = OpenSslServer.Start();
        using var scope = TlsScopeRun.Start("--comm", "curl");
        using var curl = Proc.Start("curl", ["-sk", "--http1.1", $"https://127.0.0.1:{server.Port}/only-curl"]);
        server.WaitForRequest();
        server.Send("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nhi\n");
        Assert.True(curl.WaitForExit(TimeSpan.FromSeconds(20)));
        scope.StopCleanly();
        var got = scope.Records();

        Assert.NotEmpty(got.DataOf(curl.Pid, "write"));
        Assert.All(got.Data, r => Assert.Equal("curl", r.GetProperty("comm").GetString()));
    }
}
