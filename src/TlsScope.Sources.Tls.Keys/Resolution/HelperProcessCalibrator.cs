using System.Diagnostics;
using TlsScope.Sources.Tls.Keys.Layout;
using TlsScope.Sources.Tls.Keys.Calibration;

namespace TlsScope.Sources.Tls.Keys.Resolution;

/// <summary>
/// Runs <c>dotnet tlsscope.dll __calibrate LIB</c> (the CLI next to this assembly) and reads the
/// layout from its stdout: a library that crashes or hangs takes only the child down.
/// </summary>
public sealed class HelperProcessCalibrator(Func<string, ProcessStartInfo>? command = null, TimeSpan? timeout = null) : ILayoutCalibrator
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(20);

    private readonly Func<string, ProcessStartInfo> _command = command ?? DefaultCommand;
    private readonly TimeSpan _timeout = timeout ?? DefaultTimeout;

    private const string Setpriv = "/usr/bin/setpriv";

    // No diagnostic socket or debugger pipes in /tmp for the helper either.
    private const string NoDiagnostics = "DOTNET_EnableDiagnostics";
    private const int Nobody = 65534;

    /// <summary>dotnet (this process's host when it is one, else the one this runtime came
    /// with, never a PATH lookup as root) running tlsscope.dll from this application's directory.
    /// Run as root, the helper drops to nobody with an empty environment first (setpriv), when
    /// nobody can read the tool: the library's code then runs without privileges.</summary>
    public static ProcessStartInfo DefaultCommand(string libraryPath) => HelperCommand(CalibrationHelper.Command, libraryPath);

    /// <summary>The same for any of the tool's helper commands (<paramref name="command"/> LIBRARY).</summary>
    public static ProcessStartInfo HelperCommand(string command, string libraryPath)
    {
        var host = Environment.ProcessPath is { } p && Path.GetFileName(p) == "dotnet" ? p : RuntimeHost();
        var dll = Path.Combine(AppContext.BaseDirectory, "tlsscope.dll");
        string[] helper = [host, dll, command, libraryPath];
        if (Environment.UserName == "root" && File.Exists(Setpriv) && File.Exists("/usr/bin/env") && ReadableByAll(dll) && ReadableByAll(host))
        {
            var unprivileged = new ProcessStartInfo(Setpriv);
            foreach (var a in (string[])[$"--reuid={Nobody}", $"--regid={Nobody}", "--clear-groups", "--no-new-privs",
                "/usr/bin/env", "-i", "PATH=/usr/bin:/bin", "HOME=/nonexistent", $"{NoDiagnostics}=0", .. helper])
            {
                unprivileged.ArgumentList.Add(a);
            }

            return unprivileged;
        }
        var start = new ProcessStartInfo(host);
        foreach (var a in helper[1..])
        {
            start.ArgumentList.Add(a);
        }

        start.Environment[NoDiagnostics] = "0";
        return start;
    }

    /// <summary>The file is world-readable and every directory above it world-searchable.</summary>
    private static bool ReadableByAll(string path)
    {
        var file = new FileInfo(path);
        if (!file.Exists || (file.UnixFileMode & UnixFileMode.OtherRead) == 0)
        {
            return false;
        }

        for (var dir = file.Directory; dir is not null; dir = dir.Parent)
        {
            if ((dir.UnixFileMode & UnixFileMode.OtherExecute) == 0)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The dotnet host of the running runtime: DOTNET_ROOT/shared/Microsoft.NETCore.App/VERSION/.</summary>
    private static string RuntimeHost()
    {
        var runtime = new DirectoryInfo(System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory());
        var root = runtime.Parent?.Parent?.Parent;
        var host = root is null ? null : Path.Combine(root.FullName, "dotnet");
        return host is not null && File.Exists(host) ? host : throw new CalibrationException("cannot find the dotnet host to run the calibration helper");
    }

    public KeyLayout Calibrate(string libraryPath)
    {
        var stdout = RunHelper(_command(libraryPath), _timeout);
        try
        {
            return KeyLayoutJson.Read(stdout);
        }
        catch (FormatException e)
        {
            throw new CalibrationException($"calibration helper printed no layout ({e.Message})");
        }
    }

    /// <summary>Runs a helper to its end and returns what it printed.</summary>
    /// <exception cref="CalibrationException">It could not start, timed out, or failed (its first
    /// line of stderr, without the "tlsscope: ... failed:" prefix).</exception>
    public static string RunHelper(ProcessStartInfo start, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(start);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        using var process = StartProcess(start);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new CalibrationException($"the helper timed out after {timeout.TotalSeconds:0} s");
        }
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            var line = stderr.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault();
            throw new CalibrationException(StripPrefix(line) ?? $"the helper exited with code {process.ExitCode}");
        }

        return stdout.Result;
    }

    private static Process StartProcess(ProcessStartInfo start)
    {
        try
        {
            return Process.Start(start) ?? throw new CalibrationException("cannot start the helper");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new CalibrationException($"cannot start the helper ({start.FileName}: {e.Message})");
        }
    }

    // The helper's line reads "tlsscope: calibration of X failed: why"; the caller adds its own context.
    private static string? StripPrefix(string? line)
    {
        const string failed = " failed: ";
        var at = line?.IndexOf(failed, StringComparison.Ordinal) ?? -1;
        return at >= 0 ? line![(at + failed.Length)..] : line?.Replace("tlsscope: ", "", StringComparison.Ordinal);
    }
}
