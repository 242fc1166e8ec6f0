using TlsScope.Bpf;
using TlsScope.Engine.Processes;
using TlsScope.Sources.Tls.Discovery;

namespace TlsScope.Tests.Libraries;

/// <summary>ProcMaps on lines in the kernel's exact format, and on this process's own maps.</summary>
public sealed class ProcMapsTests
{
    private const int SomePid = 31337;

    private static MappedFile Parsed(string line)
    {
        Assert.True(ProcMaps.TryParse(SomePid, line, out var m), $"not parsed: '{line}'");
        return m;
    }

    private static void Rejected(string line)
    {
        Assert.False(ProcMaps.TryParse(SomePid, line, out var m), $"parsed: '{line}'");
        Assert.Equal(default, m);
    }

    [Fact]
    public void ExecutableLibrary_IsParsed()
    {
        var m = Parsed("7f3a1c228000-7f3a1c3bd000 r-xp 00028000 fe:00 1575963                    /usr/lib/x86_64-linux-gnu/libc.so.6");

        Assert.Equal(SomePid, m.Pid);
        Assert.Equal("/usr/lib/x86_64-linux-gnu/libc.so.6", m.Path);
        Assert.Equal(new FileIdentity(0xfe, 0x00, 1575963), m.Identity);
    }

    [Fact]
    public void PathWithSpaces_IsKeptWhole()
    {
        var m = Parsed("7f1c2a400000-7f1c2a5a0000 r-xp 00028000 fd:01 1048601                    /opt/My Apps/lib  ssl/libssl.so.3");

        Assert.Equal("/opt/My Apps/lib  ssl/libssl.so.3", m.Path);
        Assert.Equal(new FileIdentity(0xfd, 0x01, 1048601), m.Identity);
    }

    [Fact]
    public void HexDevice_IsReadAsHex()
    {
        Assert.Equal(new FileIdentity(253, 1, 42), Parsed("7f00-7f10 r-xp 00000000 fd:01 42 /lib/a.so").Identity);
        // NVMe: major 259 prints as 103.
        Assert.Equal(new FileIdentity(259, 2, 43), Parsed("7f00-7f10 r-xp 00000000 103:02 43 /lib/b.so").Identity);
        Assert.Equal(new FileIdentity(0, 0x2a, 44), Parsed("7f00-7f10 r-xp 00000000 00:2a 44 /lib/c.so").Identity);
    }

    [Fact]
    public void DeletedFile_IsRejected()
    {
        Rejected("7f1c2a400000-7f1c2a5a0000 r-xp 00028000 fd:01 1048601                    /usr/lib/x86_64-linux-gnu/libssl.so.3 (deleted)");
        // .NET's W^X double mapping: an executable memfd.
        Rejected("7f4d6c000000-7f4d6c010000 r-xp 00000000 00:01 2049                       /memfd:doublemapper (deleted)");
    }

    [Fact]
    public void AnonymousMapping_IsRejected()
    {
        // The kernel leaves a trailing space after the inode of a nameless mapping.
        Rejected("7f5e893f8000-7f5e894bc000 rw-p 00000000 00:00 0 ");
        Rejected("7f5e893f8000-7f5e894bc000 r-xp 00000000 00:00 0 "); // JIT code
        Rejected("7f5e893f8000-7f5e894bc000 r-xp 00000000 00:00 0");
    }

    [Fact]
    public void PseudoMappings_AreRejected()
    {
        Rejected("7ffd5a3f2000-7ffd5a3f4000 r-xp 00000000 00:00 0                          [vdso]");
        Rejected("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]");
        Rejected("55bcabba7000-55bcabbe9000 rw-p 00000000 00:00 0                          [heap]");
        Rejected("7f00-7f10 r-xp 00000000 00:0e 1234                       anon_inode:[perf_event]");
    }

    [Fact]
    public void NonExecutableFileMapping_IsRejected()
    {
        Rejected("7f3a1c200000-7f3a1c228000 r--p 00000000 fe:00 1575963                    /usr/lib/x86_64-linux-gnu/libc.so.6");
        Rejected("7f3a1c419000-7f3a1c41b000 rw-p 001d5000 fe:00 1575963                    /usr/lib/x86_64-linux-gnu/libc.so.6");
    }

    [Fact]
    public void InodeZero_IsRejected()
    {
        Rejected("7f00-7f10 r-xp 00000000 fd:01 0                          /lib/zero.so");
    }

    [Fact]
    public void MalformedLines_AreRejected()
    {
        Rejected("");
        Rejected("7f00-7f10 r-xp 00000000 fd:01");
        Rejected("7f00-7f10 r-xp 00000000 fd01 42 /lib/a.so");      // no colon in the device
        Rejected("7f00-7f10 r-xp 00000000 zz:01 42 /lib/a.so");     // not hex
        Rejected("7f00-7f10 r-xp 00000000 fd:01 -42 /lib/a.so");    // not an inode
        Rejected("7f00-7f10 x 00000000 fd:01 42 /lib/a.so");        // permissions too short
    }

    private static string SelfExe() =>
        new FileInfo("/proc/self/exe").ResolveLinkTarget(returnFinalTarget: true)?.FullName
            ?? throw new InvalidOperationException("/proc/self/exe is not a link");

    [Fact]
    public void ExecutableFiles_OfThisProcess_HaveTheHostOnce()
    {
        var files = ProcMaps.ExecutableFiles(Environment.ProcessId);
        var exe = SelfExe();

        var host = Assert.Single(files, f => f.Path == exe);
        Assert.Equal(FileIdentity.Of(exe), host.Identity);
        Assert.Equal(Environment.ProcessId, host.Pid);
        Assert.Equal(exe, ProcMaps.ReachablePath(host));
    }

    [Fact]
    public void ExecutableFiles_OfThisProcess_HaveLibcOnce()
    {
        var files = ProcMaps.ExecutableFiles(Environment.ProcessId);

        var libc = Assert.Single(files, f => Path.GetFileName(f.Path) == "libc.so.6");
        Assert.Equal(FileIdentity.Of(libc.Path), libc.Identity);
        Assert.True(File.Exists(libc.Path));
    }

    [Fact]
    public void ExecutableFiles_AreDistinctAbsoluteLivePaths()
    {
        var files = ProcMaps.ExecutableFiles(Environment.ProcessId);

        Assert.NotEmpty(files);
        Assert.Equal(files.Count, files.Select(f => f.Identity).Distinct().Count());
        Assert.All(files, f =>
        {
            Assert.Equal(Environment.ProcessId, f.Pid);
            Assert.StartsWith("/", f.Path);
            Assert.DoesNotContain("(deleted)", f.Path);
            Assert.NotEqual(0ul, f.Identity.Inode);
        });
    }

    [Fact]
    public void ExecutableFiles_OfAMissingProcess_IsEmpty()
    {
        // Above the largest pid_max Linux allows (2^22).
        Assert.Empty(ProcMaps.ExecutableFiles(int.MaxValue));
    }

    [Fact]
    public void LinkerCache_FindsLibc_AtAPathThatExists()
    {
        var paths = LinkerCache.Find(n => n.StartsWith("libc.", StringComparison.Ordinal));

        Assert.NotEmpty(paths);
        Assert.All(paths, p => Assert.True(File.Exists(p), $"{p} does not exist"));
        Assert.Contains(paths, p => Path.GetFileName(p) == "libc.so.6");
    }

    [Fact]
    public void LinkerCache_LibcIsTheLibcThisProcessRuns()
    {
        var mapped = Assert.Single(ProcMaps.ExecutableFiles(Environment.ProcessId), f => Path.GetFileName(f.Path) == "libc.so.6");
        var cached = LinkerCache.Find(n => n == "libc.so.6");

        Assert.Contains(cached, p => FileIdentity.Of(p) == mapped.Identity);
    }

    [Fact]
    public void LinkerCache_UnknownPrefix_FindsNothing()
    {
        Assert.Empty(LinkerCache.Find(n => n.StartsWith("libtlsscope-no-such-library-", StringComparison.Ordinal)));
    }
}
