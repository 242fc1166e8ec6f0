using TlsScope.Engine.Processes;

namespace TlsScope.KernelTests.Infrastructure;

/// <summary>A cgroup (v2) of the test's own, at the hierarchy's root; processes started through
/// <see cref="Run"/> are moved into it before they exec. Removed on dispose, its processes killed.</summary>
public sealed class TestCgroup : IDisposable
{
    private readonly List<Proc> _started = [];

    private TestCgroup(string directory, string relative)
    {
        Directory = directory;
        RelativePath = relative;
        Id = CgroupNames.IdOf(directory) ?? throw new InvalidOperationException($"no inode for {directory}");
    }

    /// <summary>The cgroup's directory (under the v2 mount).</summary>
    public string Directory { get; }

    /// <summary>Its path as /proc/PID/cgroup shows it ("/name").</summary>
    public string RelativePath { get; }

    /// <summary>Its cgroup v2 id (the directory's inode).</summary>
    public ulong Id { get; }

    public static TestCgroup Create(string name)
    {
        var directory = Path.Combine(CgroupNames.Hierarchy, $"{name}");
        if (System.IO.Directory.Exists(directory))
        {
            Remove(directory);
        }

        System.IO.Directory.CreateDirectory(directory);
        return new TestCgroup(directory, "/" + name);
    }

    /// <summary>Starts a command inside the cgroup (a shell moves itself in, then execs it).</summary>
    public Proc Run(string command, params string[] args)
    {
        var proc = Proc.Start("sh", ["-c", $"echo $$ > {Directory}/cgroup.procs && exec \"$@\"", "sh", command, .. args]);
        _started.Add(proc);
        return proc;
    }

    public void Dispose()
    {
        foreach (var proc in _started)
        {
            proc.Dispose();
        }

        Remove(Directory);
    }

    private static void Remove(string directory)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            foreach (var pid in File.ReadAllLines(Path.Combine(directory, "cgroup.procs")))
            {
                Proc.Run("kill", ["-9", pid]);
            }

            try
            {
                System.IO.Directory.Delete(directory);
                return;
            }
            catch (IOException)
            {
                Thread.Sleep(100); // its last processes are still exiting
            }
        }
    }
}
