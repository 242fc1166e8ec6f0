using System.Text;
using TlsScope.Engine.Model;
using TlsScope.Sources.Shell.Records;

namespace TlsScope.Sources.Shell;

/// <summary>struct tscope_shell_who as an <see cref="AuditIdentity"/>.</summary>
public static unsafe class WhoDecoder
{
    private const uint Unset = uint.MaxValue; // the kernel's AUDIT_UID_UNSET and unset session

    public static AuditIdentity Decode(in WhoRecord who, ProcessInfo process)
    {
        fixed (byte* tty = who.Tty)
        fixed (byte* cwd = who.Cwd)
        {
            return new AuditIdentity(process, (int)who.ParentPid,
                who.LoginUid == Unset ? null : who.LoginUid,
                who.SessionId == Unset ? null : who.SessionId,
                TtyName(CString(new ReadOnlySpan<byte>(tty, WhoRecord.TtyLength))),
                Cwd(new ReadOnlySpan<byte>(cwd, WhoRecord.CwdDepth * WhoRecord.CwdPart), who.CwdUsed));
        }
    }

    /// <summary>The kernel's tty name as under /dev: "pts3" is /dev/pts/3.</summary>
    public static string? TtyName(ReadOnlySpan<byte> name)
    {
        if (name.IsEmpty)
        {
            return null;
        }

        var text = Encoding.UTF8.GetString(name);
        return text.StartsWith("pts", StringComparison.Ordinal) && text.Length > 3 && text[3..].All(char.IsAsciiDigit)
            ? "pts/" + text[3..]
            : text;
    }

    /// <summary>The path from its components (innermost first); more than the kernel keeps
    /// (used = depth + 1): the outer ones are shown as "...".</summary>
    public static string Cwd(ReadOnlySpan<byte> parts, uint used)
    {
        var depth = (int)Math.Min(used, (uint)WhoRecord.CwdDepth);
        var path = new StringBuilder(used > WhoRecord.CwdDepth ? "/..." : "");
        for (int i = depth - 1; i >= 0; i--)
        {
            path.Append('/').Append(Encoding.UTF8.GetString(CString(parts.Slice(i * WhoRecord.CwdPart, WhoRecord.CwdPart))));
        }

        return path.Length == 0 ? "/" : path.ToString();
    }

    /// <summary>The bytes before the first NUL.</summary>
    public static ReadOnlySpan<byte> CString(ReadOnlySpan<byte> bytes)
    {
        var end = bytes.IndexOf((byte)0);
        return end < 0 ? bytes : bytes[..end];
    }

    /// <summary>A NUL-separated argument list (as the kernel copies it) as its arguments; a list cut
    /// by the kernel's cap ends with the part it kept.</summary>
    public static List<byte[]> SplitArgs(ReadOnlySpan<byte> args)
    {
        var list = new List<byte[]>();
        if (!args.IsEmpty && args[^1] == 0)
        {
            args = args[..^1];
        }

        if (args.IsEmpty)
        {
            return list;
        }

        while (true)
        {
            var end = args.IndexOf((byte)0);
            if (end < 0)
            {
                list.Add(args.ToArray());
                return list;
            }

            list.Add(args[..end].ToArray());
            args = args[(end + 1)..];
        }
    }
}
