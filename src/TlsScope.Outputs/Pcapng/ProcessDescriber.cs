using System.Text;

namespace TlsScope.Outputs.Pcapng;

/// <summary>
/// Describes a process for packet comments: "pid=1234 comm=curl cmdline=curl -k https://…".
/// Command lines are read once from /proc and the description cached with the comm, so a reused pid running
/// another program is read again; a process that already exited is described without one.
/// Thread-safe.
/// </summary>
public sealed class ProcessDescriber
{
    private const int MaxCommandLineBytes = 4096;
    private const int MaxCachedProcesses = 4096;

    private readonly string _procRoot;
    private readonly Dictionary<(int Pid, string Comm), string> _descriptions = [];
    private readonly Lock _lock = new();

    public ProcessDescriber(string procRoot = "/proc")
    {
        _procRoot = procRoot;
    }

    /// <summary>"pid=1234 comm=curl cmdline=curl -k https://…", without cmdline when unknown.
    /// Built once per process: every packet of a capture asks.</summary>
    /// <param name="commandLine">Known already (the kernel's copy): /proc is not read.</param>
    public string Describe(int pid, string comm, string? commandLine = null, string? container = null)
    {
        lock (_lock)
        {
            if (_descriptions.TryGetValue((pid, comm), out string? cached))
            {
                return cached;
            }

            if (_descriptions.Count >= MaxCachedProcesses)
            {
                _descriptions.Clear(); // a long capture sees many short-lived processes
            }

            commandLine ??= ReadCommandLine(pid);
            string where = container is null ? "" : $" container={container}";
            string text = commandLine is null ? $"pid={pid} comm={comm}{where}" : $"pid={pid} comm={comm}{where} cmdline={commandLine}";
            _descriptions[(pid, comm)] = text;
            return text;
        }
    }

    private string? ReadCommandLine(int pid)
    {
        byte[] buffer = new byte[MaxCommandLineBytes];
        int length;
        try
        {
            using var file = new FileStream(Path.Combine(_procRoot, pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "cmdline"),
                FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
            length = file.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null; // exited, or hidden from us
        }

        // Arguments are NUL-terminated; a kernel thread or a zombie has none.
        string text = Encoding.UTF8.GetString(buffer, 0, length).TrimEnd('\0');
        if (text.Length == 0)
        {
            return null;
        }

        var line = new StringBuilder(text.Length);
        foreach (char c in text)
        {
            line.Append(char.IsControl(c) ? ' ' : c);
        }

        return line.ToString();
    }
}
