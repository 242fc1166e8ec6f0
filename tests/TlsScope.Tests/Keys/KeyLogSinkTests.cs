using TlsScope.Engine.Model;
using TlsScope.Outputs.KeyLog;


namespace TlsScope.Tests.Keys;

public class KeyLogSinkTests
{
    [Fact]
    public void WritesEverySetFlushedToA0600File()
    {
        var dir = Directory.CreateTempSubdirectory("tlsscope-keylog");
        try
        {
            var path = Path.Combine(dir.FullName, "keys.log");
            var process = new ProcessInfo(1, 1, 0, "t");
            using (var sink = new KeyLogSink(path))
            {
                sink.OnKeys(new TlsKeySet(0, 1, process, "lib", new byte[32], ["CLIENT_RANDOM aa bb"]));
                // Flushed after every set: readable before the sink is closed.
                Assert.Equal("CLIENT_RANDOM aa bb\n", File.ReadAllText(path));
                sink.OnKeys(new TlsKeySet(0, 1, process, "lib", new byte[32], ["SERVER_HANDSHAKE_TRAFFIC_SECRET cc dd", "EXPORTER_SECRET cc ee"]));
                Assert.Equal("CLIENT_RANDOM aa bb\nSERVER_HANDSHAKE_TRAFFIC_SECRET cc dd\nEXPORTER_SECRET cc ee\n", File.ReadAllText(path));
            }
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
