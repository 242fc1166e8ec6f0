using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using TlsScope.Engine.Model;

namespace TlsScope.Outputs.Json;

/// <summary>
/// The audit events of the NDJSON output (--shell, --exec).
/// <list type="bullet">
/// <item>shell_command: type, time (end), pid, tid, uid, comm, cgroup, container, ppid, login_uid,
/// session, tty, cwd (the identity: login_uid, session and tty null when unset), shell, line (UTF-8;
/// line_base64 too when the bytes are not valid UTF-8), truncated, status (null when unknown),
/// ended ("prompt", "exit", "exec", "running"), start, duration_ms, executed (filenames),
/// executed_cut (only when some were not listed).</item>
/// <item>exec: type, time, pid, tid, uid, comm, cgroup, container, ppid, login_uid, session,
/// tty, cwd, filename, argv (strings; argv_base64 too when one is not valid UTF-8), argv_cut
/// (bytes past the kernel's cap), shell_pid (the interactive shell whose line ran it, or null).</item>
/// </list>
/// </summary>
public sealed partial class JsonSink : IReceive<ShellCommand>, IReceive<ExecAudit>
{
    private static class A
    {
        public static readonly JsonEncodedText Argv = JsonEncodedText.Encode("argv");
        public static readonly JsonEncodedText ArgvBase64 = JsonEncodedText.Encode("argv_base64");
        public static readonly JsonEncodedText ArgvCut = JsonEncodedText.Encode("argv_cut");
        public static readonly JsonEncodedText Cwd = JsonEncodedText.Encode("cwd");
        public static readonly JsonEncodedText DurationMs = JsonEncodedText.Encode("duration_ms");
        public static readonly JsonEncodedText Ended = JsonEncodedText.Encode("ended");
        public static readonly JsonEncodedText Executed = JsonEncodedText.Encode("executed");
        public static readonly JsonEncodedText ExecutedCut = JsonEncodedText.Encode("executed_cut");
        public static readonly JsonEncodedText Filename = JsonEncodedText.Encode("filename");
        public static readonly JsonEncodedText Line = JsonEncodedText.Encode("line");
        public static readonly JsonEncodedText LineBase64 = JsonEncodedText.Encode("line_base64");
        public static readonly JsonEncodedText LoginUid = JsonEncodedText.Encode("login_uid");
        public static readonly JsonEncodedText Ppid = JsonEncodedText.Encode("ppid");
        public static readonly JsonEncodedText Session = JsonEncodedText.Encode("session");
        public static readonly JsonEncodedText Shell = JsonEncodedText.Encode("shell");
        public static readonly JsonEncodedText ShellPid = JsonEncodedText.Encode("shell_pid");
        public static readonly JsonEncodedText Status = JsonEncodedText.Encode("status");
        public static readonly JsonEncodedText Tty = JsonEncodedText.Encode("tty");
        public static readonly JsonEncodedText ShellCommandType = JsonEncodedText.Encode("shell_command");
        public static readonly JsonEncodedText ExecType = JsonEncodedText.Encode("exec");
    }

    public void Receive(ShellCommand item)
    {
        ArgumentNullException.ThrowIfNull(item);
        ObjectDisposedException.ThrowIf(_disposed, this);
        Span<byte> scratch = stackalloc byte[Rfc3339.Length];

        _json.WriteStartObject();
        _json.WriteString(TypeName, A.ShellCommandType);
        WriteTime(TimeName, item.EndUnixNs, scratch);
        WriteIdentity(item.Who);
        _json.WriteString(A.Shell, item.Shell);
        WriteBytes(A.Line, A.LineBase64, item.Line);
        _json.WriteBoolean(TruncatedName, item.Truncated);
        WriteOptional(A.Status, item.Status);

        _json.WriteString(A.Ended, item.Ended.ToString().ToLowerInvariant());
        WriteTime(StartName, item.StartUnixNs, scratch);
        _json.WriteNumber(A.DurationMs, Math.Round((item.EndUnixNs - item.StartUnixNs) / 1e6, 3));
        _json.WriteStartArray(A.Executed);
        foreach (var file in item.Executed)
        {
            _json.WriteStringValue(file);
        }

        _json.WriteEndArray();
        if (item.ExecutedCut > 0)
        {
            _json.WriteNumber(A.ExecutedCut, item.ExecutedCut);
        }

        _json.WriteEndObject();
        EndLine();
    }

    public void Receive(ExecAudit item)
    {
        ArgumentNullException.ThrowIfNull(item);
        ObjectDisposedException.ThrowIf(_disposed, this);
        Span<byte> scratch = stackalloc byte[Rfc3339.Length];

        _json.WriteStartObject();
        _json.WriteString(TypeName, A.ExecType);
        WriteTime(TimeName, item.TimeUnixNs, scratch);
        WriteIdentity(item.Who);
        _json.WriteString(A.Filename, item.Filename);
        _json.WriteStartArray(A.Argv);
        foreach (var arg in item.Argv)
        {
            _json.WriteStringValue(Encoding.UTF8.GetString(arg));
        }

        _json.WriteEndArray();
        if (!item.Argv.All(a => Utf8.IsValid(a)))
        {
            _json.WriteStartArray(A.ArgvBase64);
            foreach (var arg in item.Argv)
            {
                _json.WriteBase64StringValue(arg);
            }

            _json.WriteEndArray();
        }

        _json.WriteNumber(A.ArgvCut, item.ArgvCut);
        WriteOptional(A.ShellPid, item.ShellPid);

        _json.WriteEndObject();
        EndLine();
    }

    private void WriteIdentity(AuditIdentity who)
    {
        _json.WriteNumber(PidName, who.Process.Pid);
        _json.WriteNumber(TidName, who.Process.Tid);
        _json.WriteNumber(UidName, who.Process.Uid);
        _json.WriteString(CommName, who.Process.Comm);
        WriteCgroup(who.Process);
        _json.WriteNumber(A.Ppid, who.ParentPid);
        WriteOptional(A.LoginUid, who.LoginUid);
        WriteOptional(A.Session, who.SessionId);
        _json.WriteString(A.Tty, who.Tty); // null writes null

        _json.WriteString(A.Cwd, who.Cwd);
    }

    private void WriteOptional(JsonEncodedText name, long? value)
    {
        if (value is { } v)
        {
            _json.WriteNumber(name, v);
        }
        else
        {
            _json.WriteNull(name);
        }
    }

    /// <summary>Bytes from the traced process as a string; when they are not UTF-8, also as base64.</summary>
    private void WriteBytes(JsonEncodedText name, JsonEncodedText base64Name, byte[] bytes)
    {
        _json.WriteString(name, Encoding.UTF8.GetString(bytes));
        if (!Utf8.IsValid(bytes))
        {
            _json.WriteBase64String(base64Name, bytes);
        }
    }
}
