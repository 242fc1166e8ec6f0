using System.Runtime.InteropServices;

namespace TlsScope.Outputs.Files;

/// <summary>
/// Unbuffered writes to file descriptor 1 with write(2). Not a FileStream: on a regular file
/// FileStream writes with pwrite at offsets it tracks itself, which overwrites whatever else
/// is written through the same open file (<c>tlsscope ... &gt; out 2&gt;&amp;1</c>). Not
/// Console.OpenStandardOutput either: that stream silently ignores EPIPE, so a capture piped
/// into <c>head</c> would never learn that nobody reads any more. Here EPIPE is an
/// <see cref="IOException"/>. Disposing leaves fd 1 open.
/// </summary>
internal sealed unsafe partial class StandardOutputStream : Stream
{
    private const int StandardOutput = 1;
    private const int EINTR = 4;
    private const int EAGAIN = 11;
    private const int EPIPE = 32;
    private const int FGetFl = 3;
    private const int AccessModeMask = 3;
    private const int ReadOnly = 0;

    private bool _disposed;

    private StandardOutputStream()
    {
    }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => !_disposed;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>Checks that fd 1 is open for writing.</summary>
    /// <exception cref="IOException">It is closed or read-only.</exception>
    public static StandardOutputStream Open()
    {
        int flags = Fcntl(StandardOutput, FGetFl);
        if (flags < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException(Marshal.GetPInvokeErrorMessage(errno), errno);
        }

        if ((flags & AccessModeMask) == ReadOnly)
        {
            throw new IOException("not open for writing");
        }

        return new StandardOutputStream();
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        fixed (byte* start = buffer)
        {
            int done = 0;
            while (done < buffer.Length)
            {
                nint written = SysWrite(StandardOutput, start + done, buffer.Length - done);
                if (written >= 0)
                {
                    done += (int)written;
                    continue;
                }

                int errno = Marshal.GetLastPInvokeError();
                switch (errno)
                {
                    case EINTR:
                        continue;
                    case EAGAIN:
                        // fd 1 was left non-blocking by someone else; wait for the reader.
                        Thread.Sleep(1);
                        continue;
                    case EPIPE:
                        throw new IOException("broken pipe", EPIPE);
                    default:
                        throw new IOException(Marshal.GetPInvokeErrorMessage(errno), errno);
                }
            }
        }
    }

    public override void Write(byte[] buffer, int offset, int count)
    {
        ValidateBufferArguments(buffer, offset, count);
        Write(buffer.AsSpan(offset, count));
    }

    public override void WriteByte(byte value) => Write([value]);

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        base.Dispose(disposing);
    }

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint SysWrite(int fd, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command);
}
