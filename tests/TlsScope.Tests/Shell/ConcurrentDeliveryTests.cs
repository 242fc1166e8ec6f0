using System.Text;
using System.Text.Json;
using TlsScope.Engine.Model;
using TlsScope.Outputs;
using TlsScope.Outputs.Json;
using TlsScope.Tests.Output;

namespace TlsScope.Tests.Shell;

/// <summary>A shell source publishes from its reader thread while TLS chunks arrive from theirs
/// (--tls --shell): the NDJSON output gets whole lines, every one of them.</summary>
public sealed class ConcurrentDeliveryTests
{
    [Fact]
    public void EventsFromTwoThreadsInterleaveAsWholeLines()
    {
        const int Each = 20_000;
        var stream = new MemoryStream();
        var who = new AuditIdentity(new ProcessInfo(1, 1, 0, "bash"), 0, null, null, null, "/");
        var command = new ShellCommand(0, 0, "bash", who, Encoding.UTF8.GetBytes(new string('c', 300)), false, 0, CommandEnd.Prompt, [], 0);
        using (var fanout = new SinkFanout([new NamedSink(new JsonSink(stream, leaveOpen: true), "json")]))
        {
            var chunks = new Thread(() =>
            {
                for (int i = 0; i < Each; i++)
                {
                    fanout.OnData(Chunks.Text(new string('d', 300)));
                }
            });
            chunks.Start();
            for (int i = 0; i < Each; i++)
            {
                fanout.Publish(command);
            }

            chunks.Join();
        }

        var lines = Encoding.UTF8.GetString(stream.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var types = lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("type").GetString()).ToList();
        Assert.Equal(Each, types.Count(t => t == "data"));
        Assert.Equal(Each, types.Count(t => t == "shell_command"));
    }
}
