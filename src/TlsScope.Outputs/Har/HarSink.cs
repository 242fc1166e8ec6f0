using System.Buffers;
using System.Reflection;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using TlsScope.Flows;
using TlsScope.Engine.Model;
using TlsScope.Outputs.Files;

namespace TlsScope.Outputs.Har;

/// <summary>
/// <c>--har FILE</c>: a HAR 1.2 file with one entry per HTTP exchange (see
/// <see cref="HarEntryWriter"/> for the mapping). The file is a complete HAR document from its
/// creation on and after every exchange: the entries array's closing <c>]}}</c> is written after
/// each entry and overwritten by the next one, and every exchange is flushed to the kernel at
/// once, so a capture killed with SIGKILL leaves a valid file holding every exchange seen.
/// One entry per line. The file is created with mode 0600. Only <see cref="OnExchange"/> writes;
/// the chunk, gap and close events are for other sinks. Not thread-safe.
/// </summary>
public sealed class HarSink : ICaptureSink, IHttpSink
{
    /// <summary>Beyond this, the reused buffer is given back after a big entry instead of kept.</summary>
    private const int MaxRetainedBuffer = 4 * 1024 * 1024;

    private static readonly byte[] Suffix = "\n]}}\n"u8.ToArray();

    private readonly FileStream _stream;
    private ArrayBufferWriter<byte> _buffer = new(16 * 1024);
    private readonly Utf8JsonWriter _json;

    /// <summary>Where the entries end: the next entry (or the suffix) is written here.</summary>
    private long _end;

    private long _entries;

    /// <summary>A write failed part way: the file may hold a partial entry past <see cref="_end"/>.</summary>
    private bool _damaged;

    private bool _disposed;

    /// <summary>Creates (or replaces) <paramref name="path"/>, by the rules of <see cref="SecureFile"/>, and writes an empty HAR log to it.</summary>
    /// <param name="path">The HAR file; "-" (stdout) is refused: the file's tail is rewritten in place.</param>
    /// <param name="creatorVersion">log.creator.version; by default this assembly's informational version.</param>
    /// <exception cref="OutputException">The file cannot be created or written; the message is one line.</exception>
    public HarSink(string path, string? creatorVersion = null)
        : this(Create(path), creatorVersion)
    {
    }

    /// <summary>Writes an empty HAR log into <paramref name="stream"/> (a regular file, which the sink then owns).</summary>
    /// <exception cref="IOException">The log cannot be written.</exception>
    public HarSink(FileStream stream, string? creatorVersion = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        try
        {
            byte[] prefix = Encoding.UTF8.GetBytes(
                "{\"log\":{\"version\":\"1.2\",\"creator\":{\"name\":\"TlsScope\",\"version\":\"" +
                JsonEncodedText.Encode(creatorVersion ?? DefaultVersion(), JavaScriptEncoder.UnsafeRelaxedJsonEscaping) +
                "\"},\"entries\":[");
            _stream.Write(prefix);
            _end = prefix.Length;
            _stream.Write(Suffix);
            _stream.Flush();
        }
        catch
        {
            _stream.Dispose();
            throw;
        }

        _json = new Utf8JsonWriter(_buffer, new JsonWriterOptions
        {
            // A file for tools and viewers, never embedded in HTML: keep non-ASCII text readable.
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            Indented = false,
        });
    }


    /// <summary>Entries written so far.</summary>
    public long EntryCount => _entries;

    /// <summary>HAR 1.2 has no place for WebSocket frames: they go to the text and NDJSON outputs.</summary>
    public void OnWebSocket(WebSocketEvent frame)
    {
    }

    public void OnExchange(HttpExchange exchange)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (exchange.Request is null && exchange.Response is null)
        {
            return;
        }

        if (_entries > 0)
        {
            _buffer.Write(","u8);
        }

        _buffer.Write("\n"u8);
        _json.Reset(_buffer);
        HarEntryWriter.Write(_json, exchange);
        _json.Flush();
        _buffer.Write(Suffix);

        try
        {
            _stream.Position = _end;
            _stream.Write(_buffer.WrittenSpan);
            _stream.Flush();
            if (_damaged)
            {
                // An earlier failed write may have left more bytes than this one wrote.
                _stream.SetLength(_stream.Position);
                _damaged = false;
            }

            _end += _buffer.WrittenCount - Suffix.Length;
            _entries++;
        }
        catch (IOException)
        {
            _damaged = true;
            throw;
        }
        finally
        {
            ReleaseBuffer();
        }
    }

    public void OnRequest(HttpFlow flow, long sequence, HttpMessage request)
    {
    }

    public void OnResponse(HttpFlow flow, long sequence, HttpMessage response)
    {
    }

    public void OnData(DataChunk chunk)
    {
    }

    public void OnGap(StreamGap gap)
    {
    }

    public void OnClose(ConnectionClosed closed)
    {
    }

    public void Flush()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _stream.Flush();
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            if (_damaged)
            {
                // Best effort: end the file after the last whole entry again. The failure itself
                // was reported when it happened.
                try
                {
                    _stream.Position = _end;
                    _stream.Write(Suffix);
                    _stream.Flush();
                    _stream.SetLength(_end + Suffix.Length);
                }
                catch (IOException)
                {
                }
            }
            else
            {
                _stream.Flush();
            }
        }
        finally
        {
            _json.Dispose();
            _stream.Dispose();
        }
    }

    private void ReleaseBuffer()
    {
        if (_buffer.Capacity > MaxRetainedBuffer)
        {
            _buffer = new ArrayBufferWriter<byte>(16 * 1024);
        }
        else
        {
            _buffer.ResetWrittenCount();
        }

        _json.Reset(_buffer);
    }

    private static FileStream Create(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path == SecureFile.StandardOutputPath)
        {
            throw new OutputException("cannot write HAR to stdout: the file is completed in place after each exchange; give --har a file name");
        }

        return SecureFile.CreateFile(path, regularOnly: true);
    }

    private static string DefaultVersion()
    {
        string? version = typeof(HarSink).Assembly
            .GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        if (string.IsNullOrEmpty(version))
        {
            return typeof(HarSink).Assembly.GetName().Version?.ToString() ?? "unknown";
        }

        // Drop the "+commit" build metadata the SDK appends.
        int plus = version.IndexOf('+');
        return plus > 0 ? version[..plus] : version;
    }
}
