namespace TlsScope.KernelTests.Infrastructure;

/// <summary>The repository the tests were built from (found upwards from the test binaries).</summary>
public static class Repo
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TlsScope.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("TlsScope.sln not found above " + AppContext.BaseDirectory);
    }
}
