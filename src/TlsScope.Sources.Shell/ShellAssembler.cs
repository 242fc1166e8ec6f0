using TlsScope.Engine.Model;
using TlsScope.Sources.Shell.Records;

namespace TlsScope.Sources.Shell;

/// <summary>
/// Turns one ring's prompts, line chunks, exits and execs into <see cref="ShellCommand"/>s, per
/// shell process. A command is the lines read from one new-command prompt to the next (bash:
/// current_command_line_count 0; zsh: context 0); it ends at the next such prompt, whose $? is
/// its status, or when the shell exits (`exit 7`) or what its line exec'd exits (`exec true`).
/// A line read inside a builtin (bash `read -e`) or for zsh's select/vared is input, not a
/// command: it is skipped and counted (<see cref="InputLinesSkipped"/>). Not thread-safe.
/// </summary>
public sealed class ShellAssembler(Action<ShellCommand> emit)
{
    private const int MaxShells = 16384;

    private readonly Dictionary<int, ShellState> _shells = [];

    /// <summary>Lines read by `read -e`, zsh select or vared: not commands, not shown.</summary>
    public long InputLinesSkipped { get; private set; }

    /// <summary>Commands emitted.</summary>
    public long Commands { get; private set; }

    public void OnPrompt(int pid, long timeNs, ShellFamily family, int? status, int lineCount, int inBuiltin, uint context)
    {
        var shell = State(pid, family);
        if (inBuiltin != 0 || context > 1)
        {
            shell.InputNext = true;
            return;
        }

        if (lineCount > 0 || context == 1)
        {
            return; // a continuation (PS2): the command goes on
        }

        // A new-command prompt: an input read that ended without a line (Ctrl-D or Ctrl-C at
        // `read -e`) must not make the next command count as input.
        shell.InputNext = false;
        Complete(shell, timeNs, status, CommandEnd.Prompt);
    }

    public void OnLineChunk(int pid, long timeNs, ShellFamily family, LineFlags flags, uint offset, ReadOnlySpan<byte> data, AuditIdentity? who)
    {
        var shell = State(pid, family);
        if ((flags & LineFlags.First) != 0 || shell.Reading is null)
        {
            shell.Reading = new MemoryStream();
            shell.ReadingCut = (flags & LineFlags.First) == 0; // its first chunk was lost
            shell.ReadingWho = who;
        }

        if (offset != shell.Reading.Length)
        {
            shell.ReadingCut = true; // a chunk in between was lost
        }

        shell.Reading.Write(data);
        if ((flags & LineFlags.Last) == 0)
        {
            return;
        }

        var bytes = shell.Reading.ToArray();
        var cut = shell.ReadingCut || (flags & LineFlags.Truncated) != 0;
        var lineWho = shell.ReadingWho;
        shell.Reading = null;
        if (shell.InputNext)
        {
            shell.InputNext = false;
            InputLinesSkipped++;
            return;
        }

        if (family == ShellFamily.Zsh)
        {
            bytes = ZshMeta.Unmetafy(bytes);
            if (bytes.Length > 0 && bytes[^1] == (byte)'\n')
            {
                bytes = bytes[..^1];
            }
        }

        if (shell.Lines.Count == 0)
        {
            shell.StartNs = timeNs;
            shell.Who = lineWho;
        }

        shell.Lines.Add(bytes);
        shell.Truncated |= cut;
    }

    /// <summary>The shell (or what its line exec'd in its pid) exited with <paramref name="status"/>.</summary>
    public void OnEnd(int pid, long timeNs, int status)
    {
        if (_shells.TryGetValue(pid, out var shell))
        {
            Complete(shell, timeNs, status, shell.Execed ? CommandEnd.Exec : CommandEnd.Exit);
            _shells.Remove(pid);
        }
    }

    public void OnExec(ExecAudit exec)
    {
        if (exec.ShellPid is not { } shellPid || !_shells.TryGetValue(shellPid, out var shell) || shell.Lines.Count == 0)
        {
            return;
        }

        if (exec.Who.Process.Pid == shellPid)
        {
            shell.Execed = true;
        }

        if (shell.Executed.Count < ShellCommand.MaxExecuted)
        {
            shell.Executed.Add(exec.Filename);
        }
        else
        {
            shell.ExecutedCut++;
        }
    }

    /// <summary>The capture stops: commands still running are emitted without a status.</summary>
    public void Finish(long timeNs)
    {
        foreach (var shell in _shells.Values)
        {
            Complete(shell, timeNs, null, CommandEnd.Running);
        }

        _shells.Clear();
    }

    private ShellState State(int pid, ShellFamily family)
    {
        if (!_shells.TryGetValue(pid, out var shell))
        {
            if (_shells.Count >= MaxShells)
            {
                Finish(0); // bounded: pids of shells that vanished unseen are dropped
            }

            _shells[pid] = shell = new ShellState();
        }

        shell.Family = family;
        return shell;
    }

    private void Complete(ShellState shell, long endNs, int? status, CommandEnd ended)
    {
        var lines = shell.Lines;
        if (lines.Count > 0 && shell.Who is { } who && !(lines.Count == 1 && IsBlank(lines[0])))
        {
            var line = new byte[lines.Sum(l => l.Length) + lines.Count - 1];
            int at = 0;
            foreach (var l in lines)
            {
                if (at > 0)
                {
                    line[at++] = (byte)'\n';
                }

                l.CopyTo(line, at);
                at += l.Length;
            }

            Commands++;
            emit(new ShellCommand(shell.StartNs, endNs, shell.Family == ShellFamily.Zsh ? "zsh" : "bash", who, line, shell.Truncated,
                status, ended, [.. shell.Executed], shell.ExecutedCut));
        }

        shell.Lines.Clear();
        shell.Executed.Clear();
        shell.ExecutedCut = 0;
        shell.Truncated = false;
        shell.Execed = false;
        shell.Who = null;
    }

    private static bool IsBlank(byte[] line) => line.All(b => b is (byte)' ' or (byte)'\t');

    private sealed class ShellState
    {
        public ShellFamily Family;
        public readonly List<byte[]> Lines = [];
        public readonly List<string> Executed = [];
        public int ExecutedCut;
        public bool Truncated;
        public bool Execed;
        public bool InputNext;
        public long StartNs;
        public AuditIdentity? Who;
        public MemoryStream? Reading;
        public bool ReadingCut;
        public AuditIdentity? ReadingWho;
    }
}
