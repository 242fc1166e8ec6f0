namespace TlsScope.Engine;

/// <summary>A problem the user can fix, with a one-line, lower-case message that names the
/// object and the next step.</summary>
public sealed class CaptureException(string message, int exitCode = 1) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
