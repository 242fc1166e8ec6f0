namespace TlsScope.Output;

/// <summary>
/// Opens output files for captured plaintext: such files hold secrets, so they are created
/// readable by their owner only (0600) from the first byte on.
/// </summary>
public static class SecureFile
{
    /// <summary>The path that stands for the process's standard output.</summary>
    public const string StandardOutputPath = "-";

    /// <summary>Buffer size of the returned streams.</summary>
    public const int BufferSize = 64 * 1024;

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private const UnixFileMode GroupOrOther =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute |
        UnixFileMode.SetUser | UnixFileMode.SetGroup | UnixFileMode.StickyBit;

    /// <summary>
    /// Creates or truncates <paramref name="path"/> with mode 0600 and returns a buffered stream
    /// for writing it. An existing file with wider permissions is narrowed to 0600 before any
    /// byte is written. "-" returns a buffered stream on standard output that writes with
    /// write(2) (so it shares the file offset with anything else writing to the same file),
    /// leaves file descriptor 1 open when disposed, and throws an <see cref="IOException"/>
    /// (broken pipe) once the reader went away.
    /// </summary>
    /// <exception cref="OutputException">The file cannot be opened; the message is one line.</exception>
    public static Stream CreateForWriting(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return path == StandardOutputPath ? OpenStandardOutput() : OpenFile(path);
    }

    /// <summary>
    /// Creates or truncates the regular file <paramref name="path"/> (taken literally: "-" is a
    /// file name here) with mode 0600, like <see cref="CreateForWriting"/>, and returns its
    /// buffered, seekable stream, for outputs that rewrite their tail in place (HAR).
    /// </summary>
    /// <exception cref="OutputException">The file cannot be opened; the message is one line.</exception>
    public static FileStream CreateFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return OpenFile(path);
    }

    private static FileStream OpenFile(string path)
    {
        if (path.Length == 0)
        {
            throw new OutputException("cannot write '': empty path");
        }

        FileStream? stream = null;
        try
        {
            if (Directory.Exists(path))
            {
                throw new IOException("is a directory", 21);
            }

            stream = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.Create,
                Access = FileAccess.Write,
                Share = FileShare.Read,
                BufferSize = BufferSize,
                UnixCreateMode = OwnerOnly,
            });

            if (!OperatingSystem.IsWindows())
            {
                // FileMode.Create keeps the mode of a file that already existed; narrow it
                // through the open handle (no window in which a renamed file could be hit).
                UnixFileMode mode = File.GetUnixFileMode(stream.SafeFileHandle);
                if ((mode & GroupOrOther) != 0)
                {
                    File.SetUnixFileMode(stream.SafeFileHandle, OwnerOnly);
                }
            }

            return stream;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            stream?.Dispose();
            throw OutputException.CannotWrite(path, e);
        }
    }

    private static Stream OpenStandardOutput()
    {
        try
        {
            return new BufferedStream(StandardOutputStream.Open(), BufferSize);
        }
        catch (Exception e) when (e is IOException or DllNotFoundException or EntryPointNotFoundException)
        {
            throw OutputException.CannotWrite(StandardOutputPath, e);
        }
    }
}
