using TlsScope.Outputs;
using TlsScope.Outputs.Files;


namespace TlsScope.Tests.Output;

public sealed class SecureFileTests : IDisposable
{
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly string _directory = Directory.CreateTempSubdirectory("tlsscope-output-").FullName;

    public void Dispose()
    {
        File.SetUnixFileMode(_directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public void CreatesTheFileWithMode0600()
    {
        string path = Path.Combine(_directory, "capture.json");

        using (Stream stream = SecureFile.CreateForWriting(path))
        {
            Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(path));
            stream.Write("hello"u8);
        }

        Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(path));
        Assert.Equal("hello", File.ReadAllText(path));
    }

    [Fact]
    public void NarrowsAndTruncatesAnExisting0644File()
    {
        string path = Path.Combine(_directory, "old.txt");
        File.WriteAllText(path, "old secret contents that are longer");
        File.SetUnixFileMode(path, OwnerReadWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        using (Stream stream = SecureFile.CreateForWriting(path))
        {
            Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(path));
            Assert.Equal(0, new FileInfo(path).Length);
            stream.Write("new"u8);
        }

        Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(path));
        Assert.Equal("new", File.ReadAllText(path));
    }

    [Fact]
    public void StreamIsBuffered()
    {
        string path = Path.Combine(_directory, "buffered.bin");

        using Stream stream = SecureFile.CreateForWriting(path);
        stream.Write(new byte[1000]);
        Assert.Equal(0, new FileInfo(path).Length);

        stream.Flush();
        Assert.Equal(1000, new FileInfo(path).Length);
    }

    [Fact]
    public void MissingDirectoryGivesOneLineError()
    {
        string path = Path.Combine(_directory, "missing", "y.json");

        OutputException error = Assert.Throws<OutputException>(() => SecureFile.CreateForWriting(path));

        Assert.Equal($"{path}: directory not found", error.Message);
    }

    [Fact]
    public void DirectoryGivesOneLineError()
    {
        OutputException error = Assert.Throws<OutputException>(() => SecureFile.CreateForWriting(_directory));

        Assert.Equal($"{_directory}: is a directory", error.Message);
    }

    [Fact]
    public void UnwritablePathGivesPermissionDenied()
    {
        string path;
        if (Environment.UserName != "root")
        {
            string locked = Path.Combine(_directory, "locked");
            Directory.CreateDirectory(locked);
            File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserExecute);
            path = Path.Combine(locked, "x.json");
        }
        else
        {
            // Root may write anywhere; /proc/1 is not writable to it either, and is refused as a kernel interface first.
            OutputException proc = Assert.Throws<OutputException>(() => SecureFile.CreateForWriting("/proc/1/comm"));
            Assert.Equal("/proc/1/comm: is on procfs, a kernel interface, not storage: refusing to write there", proc.Message);
            return;
        }

        OutputException error = Assert.Throws<OutputException>(() => SecureFile.CreateForWriting(path));

        Assert.Equal($"{path}: permission denied", error.Message);
    }

    [Theory]
    [InlineData(typeof(UnauthorizedAccessException), "permission denied")]
    [InlineData(typeof(DirectoryNotFoundException), "directory not found")]
    public void ErrorsAreOneLowerCaseLine(Type exceptionType, string reason)
    {
        var cause = (Exception)Activator.CreateInstance(exceptionType, "Some .NET\nmessage.")!;

        OutputException error = OutputException.CannotWrite("/root/x/y.json", cause);

        Assert.Equal($"cannot write /root/x/y.json: {reason}", error.Message);
        Assert.Same(cause, error.InnerException);
    }

    [Fact]
    public void ErrnoAndUnknownErrorsAreOneLowerCaseLine()
    {
        Assert.Equal(
            "cannot write /x: no space left on device",
            OutputException.CannotWrite("/x", new IOException("No space left on device : '/x'", 28)).Message);
        Assert.Equal(
            "cannot write /x: something odd happened here",
            OutputException.CannotWrite("/x", new IOException("Something odd\r\nhappened here.", 99999)).Message);
        Assert.Equal(
            "cannot write to stdout: broken pipe",
            OutputException.CannotWrite("-", new IOException("Broken pipe", 32)).Message);
    }

    [Fact]
    public void DashIsStandardOutputAndStaysOpen()
    {
        using (Stream stdout = SecureFile.CreateForWriting("-"))
        {
            Assert.True(stdout.CanWrite);

            // write(2) on fd 1, never pwrite at a private offset (which would overwrite
            // stderr's lines in "> file 2>&1").
            Assert.False(stdout.CanSeek);
            Assert.IsNotType<FileStream>(stdout);
            stdout.Flush();
        }

        // fd 1 was not closed: it can be opened again.
        using Stream again = SecureFile.CreateForWriting("-");
        again.Flush();
    }
}
