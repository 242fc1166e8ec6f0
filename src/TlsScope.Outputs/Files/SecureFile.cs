
namespace TlsScope.Outputs.Files;

/// <summary>
/// Opens one output at once, for sinks given a path: the rules of <see cref="OutputFile"/> (no
/// symlink followed, new files 0600 with O_EXCL, existing ones only when safe to replace), then
/// emptied and ready. A run opens all its outputs together through <see cref="OutputFileSet"/>.
/// </summary>
public static class SecureFile
{
    /// <summary>The path that stands for the process's standard output.</summary>
    public const string StandardOutputPath = "-";

    /// <summary>Buffer size of the returned streams.</summary>
    public const int BufferSize = OutputFile.BufferSize;

    /// <summary>
    /// A buffered stream writing <paramref name="path"/> from its start (created 0600, or an
    /// existing file replaced). "-" returns a buffered stream on standard output that writes with
    /// write(2) (so it shares the file offset with anything else writing to the same file),
    /// leaves file descriptor 1 open when disposed, and throws an <see cref="IOException"/>
    /// (broken pipe) once the reader went away.
    /// </summary>
    /// <exception cref="OutputException">The file is refused or cannot be opened; the message is one line.</exception>
    public static Stream CreateForWriting(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return path == StandardOutputPath ? OpenStandardOutput() : CreateFile(path);
    }

    /// <summary>Like <see cref="CreateForWriting"/>, with <paramref name="path"/> taken literally
    /// ("-" is a file name here) and a regular file required: for outputs that rewrite their tail
    /// in place (HAR).</summary>
    /// <exception cref="OutputException">The file is refused or cannot be opened; the message is one line.</exception>
    public static FileStream CreateFile(string path, bool regularOnly = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        OutputFile file = OutputFile.Open(null, path, regularOnly);
        try
        {
            file.Commit();
            FileStream stream = file.OpenStream();
            file.Dispose(); // the stream holds the file; this closes its directory
            return stream;
        }
        catch
        {
            file.Abandon();
            throw;
        }
    }

    /// <summary>The buffered standard output stream described at <see cref="CreateForWriting"/>.</summary>
    /// <exception cref="OutputException">File descriptor 1 is closed or read-only.</exception>
    public static Stream OpenStandardOutput()
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
