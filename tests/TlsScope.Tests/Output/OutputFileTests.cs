using System.Diagnostics;
using TlsScope.Outputs;
using TlsScope.Outputs.Files;

namespace TlsScope.Tests.Output;

/// <summary>The rules a root tool opens its outputs by: no symlink followed, no file of someone
/// else's written, nothing emptied before the capture starts, nothing left behind by a refusal.</summary>
public sealed class OutputFileTests : IDisposable
{
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private static readonly bool IsRoot = Environment.UserName == "root";

    private readonly string _dir = Directory.CreateTempSubdirectory("tlsscope-files-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    [Fact]
    public void ANewFileIsCreated0600AndAbandoningRemovesIt()
    {
        string path = PathOf("new.json");
        var file = OutputFile.Open("--json", path);
        Assert.True(file.Created);
        Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(path));
        Assert.Equal($"--json {path}", file.Label);
        file.Abandon();
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void AnExistingFileIsEmptiedOnlyAtCommitAndNarrowedTo0600()
    {
        string path = PathOf("earlier.json");
        File.WriteAllText(path, "an earlier capture");
        File.SetUnixFileMode(path, OwnerReadWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        var abandoned = OutputFile.Open("-o", path);
        Assert.False(abandoned.Created);
        abandoned.Abandon();
        Assert.Equal("an earlier capture", File.ReadAllText(path)); // a refusal later leaves it whole

        using var earlierReader = new FileStream(path, FileMode.Open, FileAccess.Read); // someone who opened it before
        var file = OutputFile.Open("-o", path);
        Assert.Equal("an earlier capture", File.ReadAllText(path));
        file.Commit();
        using (FileStream stream = file.OpenStream())
        {
            stream.Write("new"u8);
        }

        file.Dispose();
        Assert.Equal("new", File.ReadAllText(path));
        Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(path));
        // A fresh file took the name: whoever held the old one reads nothing of the new capture.
        Assert.Equal("an earlier capture", new StreamReader(earlierReader).ReadToEnd());
        Assert.Equal([Path.GetFileName(path)], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public void SymbolicLinksAreNeverFollowedDanglingOrNot()
    {
        string victim = PathOf("victim");
        File.WriteAllText(victim, "precious");
        string link = PathOf("link");
        File.CreateSymbolicLink(link, victim);
        string dangling = PathOf("dangling");
        File.CreateSymbolicLink(dangling, PathOf("would-be-created"));

        var e1 = Assert.Throws<OutputException>(() => OutputFile.Open("--keylog", link));
        var e2 = Assert.Throws<OutputException>(() => OutputFile.Open("--keylog", dangling));

        Assert.Equal($"--keylog {link}: is a symbolic link; refusing to follow it (give the path it points to)", e1.Message);
        Assert.Contains("is a symbolic link", e2.Message);
        Assert.Equal("precious", File.ReadAllText(victim));
        Assert.False(File.Exists(PathOf("would-be-created")));
    }

    [Fact]
    public void ALinkInTheDirectoryPartIsFollowedOnlyWhenRootOrYouOwnIt()
    {
        string real = PathOf("real");
        Directory.CreateDirectory(real);
        string ours = PathOf("ours");
        Directory.CreateSymbolicLink(ours, real);
        using (var viaOurLink = OutputFile.Open("-o", Path.Combine(ours, "x")))
        {
            Assert.True(viaOurLink.Created);
        }

        Assert.True(File.Exists(Path.Combine(real, "x")));
        if (!IsRoot)
        {
            return; // only root can make a link someone else owns
        }

        string planted = PathOf("planted");
        Directory.CreateSymbolicLink(planted, real);
        Run("chown", "-h", "65534:65534", planted);
        var e = Assert.Throws<OutputException>(() => OutputFile.Open("-o", Path.Combine(planted, "y")));

        Assert.Equal($"-o {planted}/y: {planted} is a symbolic link owned by uid 65534; refusing to follow it (give the real path)", e.Message);
        Assert.False(File.Exists(Path.Combine(real, "y")));
    }

    [Fact]
    public void TheSameFileThroughALinkedDirectoryIsRefusedByIdentity()
    {
        string real = PathOf("real");
        Directory.CreateDirectory(real);
        Directory.CreateSymbolicLink(PathOf("alias"), real);
        string a = Path.Combine(real, "a");

        var e = Assert.Throws<OutputException>(() => OutputFileSet.Open([new("-o", a), new("--json", Path.Combine(PathOf("alias"), "a"))]));

        Assert.Equal($"--json {_dir}/alias/a: the same file as -o {a}", e.Message);
        Assert.False(File.Exists(a));
    }

    [Fact]
    public void UnderSudoNewFilesGoToTheUserAndTheirFilesMayBeReplaced()
    {
        if (!IsRoot)
        {
            return;
        }

        var rules = new OutputRules(InvokingUser.From(0, 0, name => name switch { "SUDO_UID" => "65534", "SUDO_GID" => "65534", _ => null }));
        string theirs = PathOf("theirs");
        File.WriteAllText(theirs, "old");
        Run("chown", "65534:65534", theirs);
        using (var created = OutputFile.Open("-o", PathOf("new"), false, [], rules))
        {
            Assert.Equal(65534u, created.Status.Owner);
        }

        Assert.Equal(65534, Owner(PathOf("new")));
        using var replaced = OutputFile.Open("--json", theirs, false, [], rules);
        replaced.Commit();
        Assert.Equal(65534, Owner(theirs));
        Assert.Equal("", File.ReadAllText(theirs));
    }

    [Fact]
    public void OnlyHarmlessDevicesAreWritten()
    {
        Assert.Contains("is a character device (1:5) other than /dev/null, /dev/full or a terminal",
            Assert.Throws<OutputException>(() => OutputFile.Open("-o", "/dev/zero")).Message);
        using var full = OutputFile.Open("-o", "/dev/full");
        Assert.True(full.Status.IsCharDevice);
    }

    [Fact]
    public void AnInheritedDescriptorIsWrittenAsItIs()
    {
        string path = PathOf("piped");
        using var target = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        int fd = (int)target.SafeFileHandle.DangerousGetHandle();
        using (var file = OutputFile.Open("--json", $"/dev/fd/{fd}"))
        {
            file.Commit();
            using FileStream stream = file.OpenStream();
            stream.Write("through the fd"u8);
        }

        Assert.Equal("through the fd", File.ReadAllText(path));
        Assert.Contains("not an open file descriptor", Assert.Throws<OutputException>(() => OutputFile.Open("-o", "/dev/fd/987")).Message);
    }

    [Fact]
    public void BpfFsIsRefused()
    {
        if (!Directory.Exists("/sys/fs/bpf") || !File.ReadAllText("/proc/mounts").Contains(" /sys/fs/bpf bpf ", StringComparison.Ordinal))
        {
            return; // not mounted here
        }

        Assert.Equal("-o /sys/fs/bpf/x: is on bpffs, a kernel interface, not storage: refusing to write there",
            Assert.Throws<OutputException>(() => OutputFile.Open("-o", "/sys/fs/bpf/x")).Message);
    }

    [Fact]
    public void AFileWithTwoLinksIsRefused()
    {
        string path = PathOf("a");
        File.WriteAllText(path, "keep");
        Run("ln", path, PathOf("b"));

        var e = Assert.Throws<OutputException>(() => OutputFile.Open("-o", path));

        Assert.Equal($"-o {path}: has 2 hard links: refusing to write into it; remove it or choose another name", e.Message);
        Assert.Equal("keep", File.ReadAllText(path));
    }

    [Fact]
    public void AFileOfAnotherUserIsRefused()
    {
        if (!IsRoot)
        {
            return; // only root can make a file someone else owns
        }

        string path = PathOf("theirs");
        File.WriteAllText(path, "theirs");
        File.SetUnixFileMode(path, (UnixFileMode)0x1B6); // 0666
        Run("chown", "65534:65534", path);

        var e = Assert.Throws<OutputException>(() => OutputFile.Open("--json", path));

        Assert.Equal($"--json {path}: exists and is owned by uid 65534, not by root or you: refusing to write into it; remove it or choose another name", e.Message);
        Assert.Equal("theirs", File.ReadAllText(path));
    }

    [Fact]
    public void ADirectoryOthersCanWriteTakesOnlyNewFilesAndOnlyWhenSticky()
    {
        string open = PathOf("open");
        Directory.CreateDirectory(open);
        File.SetUnixFileMode(open, (UnixFileMode)0x1FF); // 0777, not sticky
        string sticky = PathOf("sticky");
        Directory.CreateDirectory(sticky);
        File.SetUnixFileMode(sticky, (UnixFileMode)0x3FF); // 1777
        File.WriteAllText(Path.Combine(sticky, "old"), "old");

        var notSticky = Assert.Throws<OutputException>(() => OutputFile.Open("-o", Path.Combine(open, "x")));
        Assert.EndsWith("its directory is writable by everyone (mode 0777) and not sticky: the file could be swapped; choose a directory only root or you can write", notSticky.Message);
        Assert.False(File.Exists(Path.Combine(open, "x")));

        using (var created = OutputFile.Open("-o", Path.Combine(sticky, "new")))
        {
            Assert.True(created.Created);
        }

        var existing = Assert.Throws<OutputException>(() => OutputFile.Open("-o", Path.Combine(sticky, "old")));
        Assert.EndsWith("exists in a directory writable by everyone (mode 1777): remove it first, or choose a new name", existing.Message);
        Assert.Equal("old", File.ReadAllText(Path.Combine(sticky, "old")));
    }

    [Fact]
    public void KernelInterfacesAndDirectoriesAreRefused()
    {
        Assert.Equal("--har /proc/version: is on procfs, a kernel interface, not storage: refusing to write there",
            Assert.Throws<OutputException>(() => OutputFile.Open("--har", "/proc/version", regularOnly: true)).Message);
        Assert.Equal($"-o {_dir}/: is a directory", Assert.Throws<OutputException>(() => OutputFile.Open("-o", _dir + "/")).Message);
        Assert.Equal($"-o {_dir}: is a directory", Assert.Throws<OutputException>(() => OutputFile.Open("-o", _dir)).Message);
        Assert.Equal("-o '': empty path", Assert.Throws<OutputException>(() => OutputFile.Open("-o", "")).Message);
    }

    [Fact]
    public void DevNullIsWrittenNotReplacedAndAFifoNeedsAReader()
    {
        using (var devNull = OutputFile.Open("--json", "/dev/null"))
        {
            Assert.True(devNull.Status.IsCharDevice);
            devNull.Commit(); // no truncation, no chmod of a device
        }

        Assert.Equal((UnixFileMode)0x1B6, File.GetUnixFileMode("/dev/null"));
        Assert.Contains("needs a regular file", Assert.Throws<OutputException>(() => OutputFile.Open("--har", "/dev/null", regularOnly: true)).Message);

        string fifo = PathOf("fifo");
        Run("mkfifo", fifo);
        Assert.Equal($"--pcapng {fifo}: is a FIFO with no reader: start the reader first",
            Assert.Throws<OutputException>(() => OutputFile.Open("--pcapng", fifo)).Message);
    }

    [Fact]
    public void TheSameFileTwiceIsRefusedByIdentityAndWhatWasCreatedIsRemoved()
    {
        string a = PathOf("a.out");
        var e = Assert.Throws<OutputException>(() => OutputFileSet.Open([new("-o", a), new("--keylog", Path.Combine(_dir, ".", "a.out"))]));

        Assert.Equal($"--keylog {_dir}/./a.out: the same file as -o {a}", e.Message);
        Assert.False(File.Exists(a));
    }

    [Fact]
    public void WhenTheThirdOutputFailsTheFirstTwoAreNotLeftBehindAndExistingFilesAreWhole()
    {
        string earlier = PathOf("earlier");
        File.WriteAllText(earlier, "an earlier capture");
        string created = PathOf("created");

        var e = Assert.Throws<OutputException>(() => OutputFileSet.Open(
            [new("-o", earlier), new("--json", created), new("--har", PathOf("missing/x.har"), RegularOnly: true)]));

        Assert.Equal($"--har {_dir}/missing/x.har: directory not found", e.Message);
        Assert.Equal("an earlier capture", File.ReadAllText(earlier));
        Assert.False(File.Exists(created));
    }

    [Fact]
    public void CommitEmptiesEveryExistingFileOfTheSet()
    {
        string earlier = PathOf("earlier");
        File.WriteAllText(earlier, "an earlier capture");
        using (var set = OutputFileSet.Open([new("-o", earlier), new("--json", PathOf("j"))]))
        {
            Assert.Equal("an earlier capture", File.ReadAllText(earlier));
            set.Commit();
            Assert.Equal("", File.ReadAllText(earlier));
            Assert.Same(set.Files[1], set["--json"]);
        }

        Assert.True(File.Exists(PathOf("j"))); // committed: kept
    }

    private static int Owner(string path)
    {
        using var p = Process.Start(new ProcessStartInfo("stat", ["-c", "%u", path]) { RedirectStandardOutput = true })!;
        string uid = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return int.Parse(uid, System.Globalization.CultureInfo.InvariantCulture);
    }

    private static void Run(string command, params string[] args)
    {
        using var p = Process.Start(command, args);
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }
}
