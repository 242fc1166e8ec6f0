using System.Text;
using TlsScope.Capture.Model;

namespace TlsScope.Output;

/// <summary>
/// Writes TLS secrets as an NSS key log file (what SSLKEYLOGFILE produces; Wireshark reads it),
/// created with mode 0600. Flushed after every handshake so a live Wireshark sees keys at once.
/// Each set comes once: the key extractor de-duplicates by client random.
/// </summary>
public sealed class KeyLogSink : IKeySink, IDisposable
{
    private readonly string _path;
    private readonly Stream _stream;
    private readonly Lock _lock = new();
    private bool _disposed;

    /// <exception cref="OutputException">The file cannot be created; the message is one line.</exception>
    public KeyLogSink(string path)
    {
        _path = path;
        _stream = SecureFile.CreateForWriting(path);
    }

    /// <exception cref="OutputException">The file cannot be written; the message is one line.</exception>
    public void OnKeys(TlsKeySet keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            try
            {
                foreach (var line in keys.Lines)
                    _stream.Write(Encoding.ASCII.GetBytes(line + "\n"));
                _stream.Flush();
            }
            catch (IOException e)
            {
                throw OutputException.CannotWrite(_path, e);
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
                return;
            _disposed = true;
            _stream.Dispose();
        }
    }
}
