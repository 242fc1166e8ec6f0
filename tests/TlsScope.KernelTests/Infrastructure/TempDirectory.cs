namespace TlsScope.KernelTests.Infrastructure;

/// <summary>A scratch directory under /tmp, removed with everything in it on Dispose: tests leave
/// nothing behind.</summary>
public sealed class TempDirectory(string prefix) : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory(prefix).FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose() => Remove(Path);

    /// <summary>A scratch directory kept for the whole test run (a compiled peer, a file a
    /// helper object owns) and removed when the test process exits.</summary>
    public static string ForRun(string prefix)
    {
        var path = Directory.CreateTempSubdirectory(prefix).FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Remove(path);
        return path;
    }

    private static void Remove(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // best effort (and never an exception at process exit)
        }
    }
}
