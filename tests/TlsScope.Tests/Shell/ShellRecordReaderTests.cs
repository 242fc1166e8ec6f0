using System.Runtime.InteropServices;
using System.Text;
using TlsScope.Engine.Kernel;
using TlsScope.Engine.Model;
using TlsScope.Engine.Reading;
using TlsScope.Sources.Shell;
using TlsScope.Sources.Shell.Records;

namespace TlsScope.Tests.Shell;

/// <summary>Kernel records, as bytes laid out like the ring's, through the reader.</summary>
public sealed unsafe class ShellRecordReaderTests
{
    private readonly List<ShellCommand> _commands = [];
    private readonly List<ExecAudit> _execs = [];
    private readonly TaskDecoder _tasks = new();
    private readonly ClockOffset _clock = new();
    private readonly ShellAssembler _assembler;

    public ShellRecordReaderTests() => _assembler = new ShellAssembler(_commands.Add);

    private void Dispatch(byte[] record) => ShellRecordReader.Dispatch(record, _tasks, _clock, _assembler, _execs.Add);

    [Fact]
    public void ALineAndTheNextPromptMakeACommandWithItsWho()
    {
        var first = Record(new LineRecord { Head = Head(ShellKind.Line, (uint)(LineFlags.First | LineFlags.Last)), Shell = ShellFamily.Bash, Len = 11, Who = Who() },
            "true && false"u8); // Len says 11: the rest of the data is not the line's
        Dispatch(first);
        Dispatch(Record(new PromptRecord { Head = Head(ShellKind.Prompt, (uint)PromptFlags.Status), Shell = ShellFamily.Bash, Status = 1 }, []));
        var c = Assert.Single(_commands);
        Assert.Equal("true && fal", Encoding.UTF8.GetString(c.Line));
        Assert.Equal(1, c.Status);
        Assert.Equal((4242, 4242, 1000u, "bash"), (c.Who.Process.Pid, c.Who.Process.Tid, c.Who.Process.Uid, c.Who.Process.Comm));
        Assert.Equal((4000, (uint?)1000, (uint?)null, "pts/3", "/home/a"), (c.Who.ParentPid, c.Who.LoginUid, c.Who.SessionId, c.Who.Tty, c.Who.Cwd));
    }

    [Fact]
    public void APromptWhoseStatusWasNotReadGivesNoStatus()
    {
        Dispatch(Record(new LineRecord { Head = Head(ShellKind.Line, (uint)(LineFlags.First | LineFlags.Last)), Shell = ShellFamily.Bash, Len = 2, Who = Who() }, "ls"u8));
        Dispatch(Record(new PromptRecord { Head = Head(ShellKind.Prompt, 0), Shell = ShellFamily.Bash, Status = 9 }, []));
        Assert.Null(Assert.Single(_commands).Status);
    }

    [Fact]
    public void AnExecRecordGivesFilenameArgvAndTheCut()
    {
        var payload = new byte[ExecAuditRecord.PathMax + ExecAuditRecord.ArgsMax];
        "/usr/bin/bash"u8.CopyTo(payload);
        "bash\0-c\0echo x; /bin/true\0"u8.CopyTo(payload.AsSpan(ExecAuditRecord.PathMax));
        Dispatch(Record(new ExecAuditRecord { Head = Head(ShellKind.Exec, 0), ShellPid = 4000, FilenameLen = 13, ArgsLen = 30, ArgsRead = 26, Who = Who() }, payload));
        var e = Assert.Single(_execs);
        Assert.Equal("/usr/bin/bash", e.Filename);
        Assert.Equal(["bash", "-c", "echo x; /bin/true"], e.Argv.Select(Encoding.UTF8.GetString));
        Assert.Equal((4, (int?)4000), (e.ArgvCut, e.ShellPid));
    }

    [Fact]
    public void ShortOrUnknownRecordsAreIgnored()
    {
        Dispatch([1, 2]);
        Dispatch(Record(new EndRecord { Head = Head(99, 0) }, []));
        Dispatch(Record(new LineRecord { Head = Head(ShellKind.Line, 3) }, [])[..100]);
        Dispatch(Record(new EndRecord { Head = Head(ShellKind.End, 0), Status = 3 }, [])); // no shell seen: nothing
        Assert.Empty(_commands);
        Assert.Empty(_execs);
    }

    private static EventHead Head(uint kind, uint flags)
    {
        var head = new EventHead { Kind = kind, Flags = flags, TimeNs = 1000 };
        head.Task.Pid = 4242;
        head.Task.Tid = 4242;
        head.Task.Uid = 1000;
        "bash"u8.CopyTo(new Span<byte>(head.Task.Comm, KernelConfig.CommLength));
        return head;
    }

    private static WhoRecord Who()
    {
        var who = new WhoRecord { ParentPid = 4000, LoginUid = 1000, SessionId = uint.MaxValue, CwdUsed = 2 };
        "pts3"u8.CopyTo(new Span<byte>(who.Tty, WhoRecord.TtyLength));
        var cwd = new Span<byte>(who.Cwd, WhoRecord.CwdDepth * WhoRecord.CwdPart);
        "a"u8.CopyTo(cwd);
        "home"u8.CopyTo(cwd[WhoRecord.CwdPart..]);
        return who;
    }

    private static byte[] Record<T>(T header, ReadOnlySpan<byte> payload) where T : unmanaged
    {
        var bytes = new byte[sizeof(T) + Math.Max(payload.Length, typeof(T) == typeof(LineRecord) ? LineRecord.Chunk : 0)];
        MemoryMarshal.Write(bytes, in header);
        payload.CopyTo(bytes.AsSpan(sizeof(T)));
        return bytes;
    }
}
