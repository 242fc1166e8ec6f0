using System.Runtime.InteropServices;
using System.Text;
using TlsScope.Engine.Model;
using TlsScope.Engine.Reading;
using TlsScope.Sources.Shell.Records;

namespace TlsScope.Sources.Shell;

/// <summary>Decodes one record of the shell ring into the assembler's calls or an
/// <see cref="ExecAudit"/>; records too short for their kind are ignored.</summary>
public static unsafe class ShellRecordReader
{
    public static void Dispatch(ReadOnlySpan<byte> record, TaskDecoder tasks, ClockOffset clock, ShellAssembler assembler, Action<ExecAudit> exec)
    {
        if (record.Length < 4)
        {
            return;
        }

        switch (MemoryMarshal.Read<uint>(record))
        {
            case ShellKind.Prompt when record.Length >= sizeof(PromptRecord):
                {
                    ref readonly var p = ref MemoryMarshal.AsRef<PromptRecord>(record);
                    var flags = (PromptFlags)p.Head.Flags;
                    assembler.OnPrompt((int)p.Head.Task.Pid, clock.ToUnixNs(p.Head.TimeNs), p.Shell,
                        (flags & PromptFlags.Status) != 0 ? p.Status : null, p.LineCount, p.InBuiltin, p.Context);
                    break;
                }

            case ShellKind.Line when record.Length >= sizeof(LineRecord):
                {
                    ref readonly var l = ref MemoryMarshal.AsRef<LineRecord>(record);
                    var flags = (LineFlags)l.Head.Flags;
                    var data = record[sizeof(LineRecord)..];
                    data = data[..(int)Math.Min(l.Len, (uint)Math.Min(data.Length, LineRecord.Chunk))];
                    var who = (flags & LineFlags.First) != 0 ? WhoDecoder.Decode(in l.Who, tasks.Decode(in l.Head.Task)) : null;
                    assembler.OnLineChunk((int)l.Head.Task.Pid, clock.ToUnixNs(l.Head.TimeNs), l.Shell, flags, l.Offset, data, who);
                    break;
                }

            case ShellKind.End when record.Length >= sizeof(EndRecord):
                {
                    ref readonly var e = ref MemoryMarshal.AsRef<EndRecord>(record);
                    assembler.OnEnd((int)e.Head.Task.Pid, clock.ToUnixNs(e.Head.TimeNs), e.Status);
                    break;
                }

            case ShellKind.Exec when record.Length >= sizeof(ExecAuditRecord) + ExecAuditRecord.PathMax:
                exec(DecodeExec(record, tasks, clock));
                break;
        }
    }

    public static ExecAudit DecodeExec(ReadOnlySpan<byte> record, TaskDecoder tasks, ClockOffset clock)
    {
        ref readonly var x = ref MemoryMarshal.AsRef<ExecAuditRecord>(record);
        var rest = record[sizeof(ExecAuditRecord)..];
        var filename = rest[..(int)Math.Min(x.FilenameLen, (uint)ExecAuditRecord.PathMax - 1)];
        var args = rest[ExecAuditRecord.PathMax..];
        args = args[..(int)Math.Min(x.ArgsRead, (uint)Math.Min(args.Length, ExecAuditRecord.ArgsMax))];
        return new ExecAudit(clock.ToUnixNs(x.Head.TimeNs), WhoDecoder.Decode(in x.Who, tasks.Decode(in x.Head.Task)),
            Encoding.UTF8.GetString(filename), WhoDecoder.SplitArgs(args), (int)(x.ArgsLen - Math.Min(x.ArgsRead, x.ArgsLen)),
            x.ShellPid == 0 ? null : (int)x.ShellPid);
    }
}
