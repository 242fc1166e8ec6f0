using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using TlsScope.Tests.Tools;
using TlsScope.Engine.Model;
using TlsScope.Outputs.Pcapng;

namespace TlsScope.Tests.Pcap;

/// <summary>
/// A real TLS 1.3 session (openssl s_client to s_server, recorded by a relay in the middle)
/// written as packets through the sink with its key log arriving after the ClientHello:
/// tshark must decrypt the HTTP inside from the decryption secrets block alone.
/// </summary>
public sealed class DecryptionSecretsTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tlsscope-dsb-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task TsharkDecryptsARealSessionWithTheSecretsBlockAlone()
    {
        string key = Path.Combine(_directory, "key.pem");
        string cert = Path.Combine(_directory, "cert.pem");
        string keyLog = Path.Combine(_directory, "keylog.txt");
        ExternalProgram.Run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", key, "-out", cert, "-subj", "/CN=test", "-days", "1");

        int serverPort = FreePort();
        using Process server = Start("openssl", "s_server", "-accept", $"127.0.0.1:{serverPort}", "-cert", cert, "-key", key,
            "-www", "-tls1_3", "-naccept", "1", "-quiet");
        using var relay = new TcpListener(IPAddress.Loopback, 0);
        relay.Start();
        List<(bool FromClient, byte[] Bytes)> recorded = [];
        Task relaying = Relay(relay, serverPort, recorded);

        using Process client = Start("sh", "-c",
            $"printf 'GET /secret-path HTTP/1.0\\r\\n\\r\\n' | openssl s_client -connect 127.0.0.1:{((IPEndPoint)relay.LocalEndpoint).Port} -tls1_3 -ign_eof -quiet -keylogfile {keyLog}");
        Assert.True(client.WaitForExit(20_000));
        await relaying.WaitAsync(TimeSpan.FromSeconds(20));
        server.Kill();

        string path = Path.Combine(_directory, "tls.pcapng");
        using (var sink = new PcapngSink(path))
        {
            var packets = new TestPackets();
            uint clientSeq = 1, serverSeq = 1;
            string[] lines = File.ReadAllLines(keyLog).Where(l => l.Length > 0 && !l.StartsWith('#')).ToArray();
            byte[] random = Convert.FromHexString(lines[0].Split(' ')[1]);
            for (int i = 0; i < recorded.Count; i++)
            {
                (bool fromClient, byte[] bytes) = recorded[i];
                sink.OnPacket(fromClient
                    ? packets.Segment(TestPackets.Client, TestPackets.Server, clientSeq, 0, bytes)
                    : packets.Segment(TestPackets.Server, TestPackets.Client, serverSeq, 0, bytes));
                if (fromClient)
                {
                    clientSeq += (uint)bytes.Length;
                }
                else
                {
                    serverSeq += (uint)bytes.Length;
                }

                if (i == 1)
                {
                    sink.OnKeys(new TlsKeySet(0, 1, new ProcessInfo(1, 1, 0, "openssl"), "libssl.so.3", random, lines));
                }
            }

            // ClientHello and ServerHello were held until the keys came.
            Assert.Equal(recorded.Count, sink.Counters.PacketsWritten);
            Assert.Equal(2, sink.Counters.PacketsReleasedWithKeys);
        }

        Assert.Equal(["/secret-path"], Tshark.Fields(path, "http.request", "http.request.uri"));
    }

    private static async Task Relay(TcpListener listener, int serverPort, List<(bool, byte[])> recorded)
    {
        using TcpClient client = await listener.AcceptTcpClientAsync();
        using var server = new TcpClient();
        await server.ConnectAsync(IPAddress.Loopback, serverPort);
        await Task.WhenAll(Pump(client.GetStream(), server, true, recorded), Pump(server.GetStream(), client, false, recorded));
    }

    private static async Task Pump(NetworkStream from, TcpClient to, bool fromClient, List<(bool, byte[])> recorded)
    {
        byte[] buffer = new byte[16384];
        int n;
        while ((n = await from.ReadAsync(buffer)) > 0)
        {
            lock (recorded)
            {
                recorded.Add((fromClient, buffer[..n]));
            }

            await to.GetStream().WriteAsync(buffer.AsMemory(0, n));
        }

        to.Client.Shutdown(SocketShutdown.Send);
    }

    private static Process Start(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        Process process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {program}");
        _ = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        Thread.Sleep(program == "openssl" ? 300 : 0); // let s_server listen
        return process;
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
