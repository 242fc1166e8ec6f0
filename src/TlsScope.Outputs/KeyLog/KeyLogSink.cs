using System.Text;
using TlsScope.Engine.Model;
using TlsScope.Outputs.Files;

namespace TlsScope.Outputs.KeyLog;

/// <summary>
/// Writes TLS secrets as an NSS key log file (what SSLKEYLOGFILE produces; Wireshark reads it).
/// Flushed after every handshake so a live Wireshark sees keys at once. Each set comes once: the
/// key extractor de-duplicates by client random. A write error is an <see cref="IOException"/>
/// for the fan-out to report.
/// </summary>
public sealed class KeyLogSink : IKeySink, IDisposable
{
    private readonly Stream _stream;
    private readonly Lock _lock = new();
    private bool _disposed;

    /// <summary>Creates <paramref name="path"/> (0600, the rules of <see cref="SecureFile"/>).</summary>
    /// <exception cref="OutputException">The file is refused or cannot be created; the message is one line.</exception>
    public KeyLogSink(string path)
        : this(SecureFile.CreateForWriting(path))
    {
    }

    /// <summary>Writes into <paramref name="stream"/>, which the sink then owns.</summary>
    public KeyLogSink(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
    }

    public void OnKeys(TlsKeySet keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            foreach (var line in keys.Lines)
            {
                _stream.Write(Encoding.ASCII.GetBytes(line + "\n"));
            }

            _stream.Flush();
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _stream.Dispose();
        }
    }
}
