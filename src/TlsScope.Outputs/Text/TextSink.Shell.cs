using System.Text;
using TlsScope.Engine.Model;

namespace TlsScope.Outputs.Text;

/// <summary>
/// The audit events of the text output, one line each:
/// <code>15:04:05.123456 bash[1234] uid=1000 login=1000 tty=pts/3 cwd=/home/a status=1 ran=/usr/bin/false: true &amp;&amp; false</code>
/// <code>15:04:05.123456 exec sh[1240] ppid=1234 uid=1000 login=1000 tty=pts/3 cwd=/home/a shell=1234 /usr/bin/sh: sh -c 'echo x'</code>
/// The line's own newlines (a multi-line command) are shown as \n, other control characters as '?';
/// "status=7 (exit)", "(exec)" or "status=? (running)" tell how a command ended other than at a
/// prompt; " [cut]" marks a line or argument list the kernel did not capture whole.
/// </summary>
public sealed partial class TextSink : IReceive<ShellCommand>, IReceive<ExecAudit>
{
    public void Receive(ShellCommand item)
    {
        ArgumentNullException.ThrowIfNull(item);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var text = Encoding.UTF8.GetString(item.Line).Replace("\n", "\\n", StringComparison.Ordinal);
        var ran = string.Join(',', item.Executed);
        var line = new Utf8Line(LineBuffer(512 + Utf8Line.MaxBytes(text) + Utf8Line.MaxBytes(ran) + WhoBytes(item.Who)));
        WriteTime(ref line, item.EndUnixNs);
        line.Byte((byte)' ');
        WriteWho(ref line, item.Who);
        line.Ascii(" status="u8);
        if (item.Status is { } status)
        {
            line.Number(status);
        }
        else
        {
            line.Byte((byte)'?');
        }

        if (item.Ended != CommandEnd.Prompt)
        {
            line.Ascii(" ("u8);
            line.Ascii(Encoding.ASCII.GetBytes(item.Ended.ToString().ToLowerInvariant()));
            line.Byte((byte)')');
        }

        if (ran.Length > 0)
        {
            line.Ascii(" ran="u8);
            line.Text(ran);
            if (item.ExecutedCut > 0)
            {
                line.Ascii(",+"u8);
                line.Number(item.ExecutedCut);
            }
        }

        line.Ascii(": "u8);
        line.Text(text);
        if (item.Truncated)
        {
            line.Ascii(" [cut]"u8);
        }

        EndLine(ref line);
    }

    public void Receive(ExecAudit item)
    {
        ArgumentNullException.ThrowIfNull(item);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var args = string.Join(' ', item.Argv.Select(a => ShellQuote(Encoding.UTF8.GetString(a))));
        var line = new Utf8Line(LineBuffer(512 + Utf8Line.MaxBytes(args) + Utf8Line.MaxBytes(item.Filename) + WhoBytes(item.Who)));
        WriteTime(ref line, item.TimeUnixNs);
        line.Ascii(" exec "u8);
        WriteWho(ref line, item.Who);
        if (item.ShellPid is { } shell)
        {
            line.Ascii(" shell="u8);
            line.Number(shell);
        }

        line.Byte((byte)' ');
        line.Text(item.Filename);
        line.Ascii(": "u8);
        line.Text(args);
        if (item.ArgvCut > 0)
        {
            line.Ascii(" [cut "u8);
            line.Number(item.ArgvCut);
            line.Ascii(" bytes]"u8);
        }

        EndLine(ref line);
    }

    private static int WhoBytes(AuditIdentity who) =>
        Utf8Line.MaxBytes(who.Process.Comm) + Utf8Line.MaxBytes(who.Tty) + Utf8Line.MaxBytes(who.Cwd);

    /// <summary>comm[pid] ppid= uid= login= tty= cwd= (login and tty only when set).</summary>
    private static void WriteWho(ref Utf8Line line, AuditIdentity who)
    {
        line.Text(who.Process.Comm);
        line.Byte((byte)'[');
        line.Number(who.Process.Pid);
        line.Ascii("] ppid="u8);
        line.Number(who.ParentPid);
        line.Ascii(" uid="u8);
        line.Number(who.Process.Uid);
        if (who.LoginUid is { } login)
        {
            line.Ascii(" login="u8);
            line.Number(login);
        }

        if (who.Tty is { } tty)
        {
            line.Ascii(" tty="u8);
            line.Text(tty);
        }

        line.Ascii(" cwd="u8);
        line.Text(who.Cwd ?? "?");
    }

    /// <summary>An argument as a POSIX shell would read it back: bare when safe, else in single quotes.</summary>
    public static string ShellQuote(string arg) =>
        arg.Length > 0 && arg.All(c => char.IsAsciiLetterOrDigit(c) || "-_./=:,+@%".Contains(c))
            ? arg
            : "'" + arg.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
