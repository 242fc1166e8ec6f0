namespace TlsScope.Engine.Model;

/// <summary>Who ran something, and where, as the kernel saw it at that moment.</summary>
/// <param name="ParentPid">The real parent's pid.</param>
/// <param name="LoginUid">The audit login uid; null when the process has no login session.</param>
/// <param name="SessionId">The audit session id; null when none.</param>
/// <param name="Tty">The controlling terminal ("pts/3", "tty1"); null when none.</param>
/// <param name="Cwd">The working directory; a path cut at its outer end starts with ".../".</param>
public sealed record AuditIdentity(ProcessInfo Process, int ParentPid, uint? LoginUid, uint? SessionId, string? Tty, string? Cwd);

/// <summary>How a shell command line ended.</summary>
public enum CommandEnd
{
    /// <summary>The shell asked for the next command: <see cref="ShellCommand.Status"/> is its $?.</summary>
    Prompt,

    /// <summary>The shell exited (`exit 7`): the status is its exit status.</summary>
    Exit,

    /// <summary>The line exec'd (`exec true`): the status is the exit status of the program that replaced the shell.</summary>
    Exec,

    /// <summary>The capture stopped first: no status.</summary>
    Running,
}

/// <summary>One command line an interactive shell read and ran, with its real result.</summary>
/// <param name="Shell">"bash" or "zsh".</param>
/// <param name="Line">The whole line as typed (several lines for a multi-line command, joined by '\n'), zsh's metafication undone.</param>
/// <param name="Truncated">Bytes of the line were not captured (longer than the kernel keeps, or records lost).</param>
/// <param name="Status">The exit status ($?), or null when not known.</param>
/// <param name="Executed">The programs executed (filenames as given to execve) until the command ended.</param>
/// <param name="ExecutedCut">Executions past the first <see cref="ShellCommand.MaxExecuted"/> only counted.</param>
public sealed record ShellCommand(long StartUnixNs, long EndUnixNs, string Shell, AuditIdentity Who, byte[] Line, bool Truncated,
    int? Status, CommandEnd Ended, IReadOnlyList<string> Executed, int ExecutedCut)
{
    public const int MaxExecuted = 64;
}

/// <summary>A traced process executed a program.</summary>
/// <param name="Who">The new program's process (its name already the new one).</param>
/// <param name="Filename">The path as given to execve.</param>
/// <param name="Argv">The arguments, each as its bytes.</param>
/// <param name="ArgvCut">Bytes of the argument list past the kernel's cap, not captured.</param>
/// <param name="ShellPid">The interactive shell whose command line led to it, when one did.</param>
public sealed record ExecAudit(long TimeUnixNs, AuditIdentity Who, string Filename, IReadOnlyList<byte[]> Argv, int ArgvCut, int? ShellPid);
