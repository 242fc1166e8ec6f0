using System.Text;
using TlsScope.Engine.Model;
using TlsScope.Outputs.Json;
using TlsScope.Outputs.Text;

namespace TlsScope.Tests.Shell;

/// <summary>shell_command and exec in NDJSON and text, byte for byte.</summary>
public sealed class ShellOutputTests
{
    private const long T0 = 1_700_000_000_123_456_789;

    private static readonly AuditIdentity Who = new(new ProcessInfo(4242, 4242, 1000, "bash", 77), 4000, 1000, 7, "pts/3", "/home/a b");

    private static readonly ShellCommand Command = new(T0, T0 + 2_500_000, "bash", Who, Encoding.UTF8.GetBytes("if true\nthen /bin/true; fi é"), false, 0,
        CommandEnd.Prompt, ["/bin/true"], 0);

    private static readonly ExecAudit Exec = new(T0, Who with { Tty = null, LoginUid = null, SessionId = null },
        "/usr/bin/bash", [Encoding.UTF8.GetBytes("bash"), Encoding.UTF8.GetBytes("-c"), Encoding.UTF8.GetBytes("echo 'x'; /bin/true")], 0, null);

    [Fact]
    public void JsonHasOneObjectPerEvent()
    {
        var lines = Json(s =>
        {
            s.Receive(Command);
            s.Receive(Command with { Status = null, Ended = CommandEnd.Running, Truncated = true, Executed = [], ExecutedCut = 2 });
            s.Receive(Exec);
        });
        Assert.Equal(
            """{"type":"shell_command","time":"2023-11-14T22:13:20.125956789Z","pid":4242,"tid":4242,"uid":1000,"comm":"bash","cgroup":77,"ppid":4000,"login_uid":1000,"session":7,"tty":"pts/3","cwd":"/home/a b","shell":"bash","line":"if true\nthen /bin/true; fi é","truncated":false,"status":0,"ended":"prompt","start":"2023-11-14T22:13:20.123456789Z","duration_ms":2.5,"executed":["/bin/true"]}""",
            lines[0]);
        Assert.Equal(
            """{"type":"shell_command","time":"2023-11-14T22:13:20.125956789Z","pid":4242,"tid":4242,"uid":1000,"comm":"bash","cgroup":77,"ppid":4000,"login_uid":1000,"session":7,"tty":"pts/3","cwd":"/home/a b","shell":"bash","line":"if true\nthen /bin/true; fi é","truncated":true,"status":null,"ended":"running","start":"2023-11-14T22:13:20.123456789Z","duration_ms":2.5,"executed":[],"executed_cut":2}""",
            lines[1]);
        Assert.Equal(
            """{"type":"exec","time":"2023-11-14T22:13:20.123456789Z","pid":4242,"tid":4242,"uid":1000,"comm":"bash","cgroup":77,"ppid":4000,"login_uid":null,"session":null,"tty":null,"cwd":"/home/a b","filename":"/usr/bin/bash","argv":["bash","-c","echo 'x'; /bin/true"],"argv_cut":0,"shell_pid":null}""",
            lines[2]);
    }

    [Fact]
    public void BytesThatAreNotUtf8AreAlsoGivenAsBase64()
    {
        var lines = Json(s =>
        {
            s.Receive(Command with { Line = [0x66, 0xff] });
            s.Receive(Exec with { Argv = [[0x61], [0xfe]], ArgvCut = 5, ShellPid = 9 });
        });
        Assert.Contains("\"line\":\"f\uFFFD\",\"line_base64\":\"Zv8=\"", lines[0]);
        Assert.Contains("\"argv\":[\"a\",\"\uFFFD\"],\"argv_base64\":[\"YQ==\",\"/g==\"],\"argv_cut\":5,\"shell_pid\":9}", lines[1]);
    }

    [Fact]
    public void TextHasOneReadableLinePerEvent()
    {
        var text = Text(s =>
        {
            s.Receive(Command);
            s.Receive(Command with { Status = 7, Ended = CommandEnd.Exit, Line = "exit 7\u001b[2J"u8.ToArray(), Truncated = true, Executed = [] });
            s.Receive(Exec with { ShellPid = 4000, ArgvCut = 12 });
        });
        Assert.Equal(
            "22:13:20.125956 bash[4242] ppid=4000 uid=1000 login=1000 tty=pts/3 cwd=/home/a b status=0 ran=/bin/true: if true\\nthen /bin/true; fi é\n"
            + "22:13:20.125956 bash[4242] ppid=4000 uid=1000 login=1000 tty=pts/3 cwd=/home/a b status=7 (exit): exit 7?[2J [cut]\n"
            + "22:13:20.123456 exec bash[4242] ppid=4000 uid=1000 cwd=/home/a b shell=4000 /usr/bin/bash: bash -c 'echo '\\''x'\\''; /bin/true' [cut 12 bytes]\n",
            text);
    }

    private static string[] Json(Action<JsonSink> write)
    {
        var stream = new MemoryStream();
        using (var sink = new JsonSink(stream, leaveOpen: true))
        {
            write(sink);
        }

        return Encoding.UTF8.GetString(stream.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    private static string Text(Action<TextSink> write)
    {
        var writer = new StringWriter();
        using (var sink = new TextSink(writer, timeZone: TimeZoneInfo.Utc, leaveOpen: true))
        {
            write(sink);
        }

        return writer.ToString();
    }
}
