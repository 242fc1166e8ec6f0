namespace TlsScope.Cli;

/// <summary>
/// The .NET runtime opens a diagnostic socket and debugger pipes in $TMPDIR for every process
/// unless DOTNET_EnableDiagnostics=0 is in its environment (no runtimeconfig setting does it):
/// a channel into a process that holds plaintext and keys, and files a SIGKILL leaves behind. The
/// launcher and the calibration helper set the variable; a run started without it (dotnet
/// tlsscope.dll) removes its own endpoints at once, so nothing can connect and nothing is left.
/// </summary>
internal static class DiagnosticChannel
{
    public const string Variable = "DOTNET_EnableDiagnostics";

    public static void Close()
    {
        if (Environment.GetEnvironmentVariable(Variable) == "0")
        {
            return;
        }

        var pid = Environment.ProcessId;
        foreach (var dir in new[] { Environment.GetEnvironmentVariable("TMPDIR"), "/tmp" }.OfType<string>().Where(d => d.Length > 0).Distinct())
        {
            try
            {
                foreach (var path in Directory.EnumerateFiles(dir, $"dotnet-diagnostic-{pid}-*-socket")
                    .Concat(Directory.EnumerateFiles(dir, $"clr-debug-pipe-{pid}-*")))
                {
                    File.Delete(path);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // best effort: the launcher's variable is the real guard
            }
        }
    }
}
