using System.Net;
using System.Net.Sockets;

namespace TlsScope.KernelTests.Infrastructure;

public static class Ports
{
    /// <summary>A loopback port free right now.</summary>
    public static int Free()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
