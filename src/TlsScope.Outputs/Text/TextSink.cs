using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Unicode;
using TlsScope.Engine.Model;

namespace TlsScope.Outputs.Text;

/// <summary>Options of the human-readable output.</summary>
/// <param name="Color">Wrap header lines in ANSI colors (read green, write blue, gaps yellow, closes dim).</param>
/// <param name="MaxBytesShown">Show at most this many bytes of each payload; the rest is counted, not printed.</param>
/// <param name="BodyLimit">Show at most this many bytes of each HTTP body.</param>
public sealed record TextSinkOptions(bool Color = false, int? MaxBytesShown = null, int BodyLimit = TextSinkOptions.DefaultBodyLimit)
{
    public const int DefaultBodyLimit = 4096;
}

/// <summary>
/// Human-readable output. Every event is followed by a blank line. A data chunk is a header line
/// <code>15:04:05.123456 curl[1234/1235] write 127.0.0.1:43210 -> 127.0.0.1:8443 fd=5 conn=7 len=78 libssl.so.3</code>
/// then its payload: as is when <see cref="LooksLikeText"/>, otherwise as a hex dump in the
/// layout of <c>hexdump -C</c>. Gaps and closes are one line each.
/// Text that comes from the traced process (comm, library path) is printed with control
/// characters replaced by '?'. Not thread-safe; calls come from the capture's one thread.
/// </summary>
public sealed partial class TextSink : ICaptureSink
{
    private const int PendingSize = 64 * 1024;
    private const int HexLineBytes = 80;
    private const int MaxCachedConnections = 65_536;

    private static readonly SearchValues<byte> ControlBytes = SearchValues.Create(
        [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x0b, 0x0c, 0x0e, 0x0f,
         0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
         0x7f]);

    private static ReadOnlySpan<byte> HexDigits => "0123456789abcdef"u8;

    private static ReadOnlySpan<byte> ColorRead => "\e[1;32m"u8;

    private static ReadOnlySpan<byte> ColorWrite => "\e[1;34m"u8;

    private static ReadOnlySpan<byte> ColorGap => "\e[1;33m"u8;

    private static ReadOnlySpan<byte> ColorClose => "\e[2m"u8;

    private static ReadOnlySpan<byte> ColorReset => "\e[0m"u8;

    private readonly Stream? _stream;
    private readonly TextWriter? _writer;
    private readonly Decoder? _decoder;
    private readonly char[]? _chars;
    private readonly bool _leaveOpen;
    private readonly bool _color;
    private readonly int _maxBytesShown;
    private readonly int _bodyLimit;
    private readonly TimeZoneInfo _timeZone;
    private readonly byte[] _pending = new byte[PendingSize];
    private readonly Dictionary<ulong, string> _commByConnection = [];
    private byte[] _line = new byte[1024];
    private int _pendingLength;
    private long _offsetCachedForSecond = long.MinValue;
    private long _offsetSeconds;
    private bool _disposed;

    /// <summary>Writes UTF-8 to <paramref name="stream"/>, buffering 64 KiB itself.</summary>
    /// <param name="timeZone">Zone of the header times; the machine's local zone when null.</param>
    /// <param name="leaveOpen">Do not dispose <paramref name="stream"/> with the sink.</param>
    public TextSink(Stream stream, TextSinkOptions? options = null, TimeZoneInfo? timeZone = null, bool leaveOpen = false)
        : this(options, timeZone, leaveOpen)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
    }

    /// <summary>Writes to <paramref name="writer"/>, buffering 64 KiB itself.</summary>
    /// <param name="timeZone">Zone of the header times; the machine's local zone when null.</param>
    /// <param name="leaveOpen">Do not dispose <paramref name="writer"/> with the sink.</param>
    public TextSink(TextWriter writer, TextSinkOptions? options = null, TimeZoneInfo? timeZone = null, bool leaveOpen = false)
        : this(options, timeZone, leaveOpen)
    {
        ArgumentNullException.ThrowIfNull(writer);
        _writer = writer;
        _decoder = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetDecoder();
        _chars = new char[PendingSize];
    }

    private TextSink(TextSinkOptions? options, TimeZoneInfo? timeZone, bool leaveOpen)
    {
        options ??= new TextSinkOptions();
        if (options.MaxBytesShown < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "MaxBytesShown must not be negative");
        }

        _color = options.Color;
        _maxBytesShown = options.MaxBytesShown ?? int.MaxValue;
        _bodyLimit = Math.Max(0, options.BodyLimit);
        _timeZone = timeZone ?? TimeZoneInfo.Local;
        _leaveOpen = leaveOpen;
    }

    /// <summary>
    /// The rule for printing a payload as text: valid UTF-8 in which every character is
    /// printable or one of \r \n \t, i.e. no C0 control (other than those three), no DEL and no
    /// C1 control. Anything else (binary, ESC sequences, invalid UTF-8) is hex-dumped.
    /// </summary>
    public static bool LooksLikeText(ReadOnlySpan<byte> data)
    {
        if (data.IndexOfAny(ControlBytes) >= 0 || !Utf8.IsValid(data))
        {
            return false;
        }

        // C1 controls U+0080..U+009F are encoded C2 80..C2 9F; in valid UTF-8, C2 is always a lead byte.
        int next = 0;
        while (true)
        {
            int lead = data[next..].IndexOf((byte)0xc2);
            if (lead < 0)
            {
                return true;
            }

            next += lead + 1;
            if (data[next] <= 0x9f)
            {
                return false;
            }
        }
    }

    public void OnData(DataChunk chunk)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        ObjectDisposedException.ThrowIf(_disposed, this);
        RememberComm(chunk.Connection, chunk.Process.Comm);

        ReadOnlySpan<char> library = LibraryName(chunk.Library);
        int needed = 256 + Utf8Line.MaxBytes(chunk.Process.Comm) + library.Length * 3 + 2 * Utf8Line.MaxEndpointBytes;
        var line = new Utf8Line(LineBuffer(needed));
        if (_color)
        {
            line.Ascii(chunk.Direction == Direction.Write ? ColorWrite : ColorRead);
        }

        WriteTime(ref line, chunk.TimeUnixNs);
        line.Byte((byte)' ');
        line.Text(chunk.Process.Comm);
        line.Byte((byte)'[');
        line.Number(chunk.Process.Pid);
        line.Byte((byte)'/');
        line.Number(chunk.Process.Tid);
        line.Ascii("] "u8);
        WriteContainer(ref line, chunk.Process);
        line.Ascii(DirectionName(chunk.Direction));
        line.Byte((byte)' ');
        line.Endpoint(chunk.Address.Local);
        line.Ascii(" -> "u8);
        line.Endpoint(chunk.Address.Remote);
        if (chunk.Address.Inferred)
        {
            line.Ascii(" (inferred)"u8);
        }

        line.Ascii(" fd="u8);
        if (chunk.Fd < 0)
        {
            line.Byte((byte)'?');
        }
        else
        {
            line.Number(chunk.Fd);
        }

        line.Ascii(" conn="u8);
        line.Number(chunk.Connection);
        line.Ascii(" len="u8);
        line.Number(chunk.Length);
        line.Byte((byte)' ');
        if (library.IsEmpty)
        {
            line.Byte((byte)'?');
        }
        else
        {
            line.Text(library);
        }

        if (chunk.Truncated)
        {
            line.Ascii(" truncated(+"u8);
            line.Number(chunk.DroppedBytes);
            line.Ascii(" dropped)"u8);
        }

        EndLine(ref line);
        WritePayload(chunk.Data.Span, _maxBytesShown);
        Append("\n"u8);
    }

    public void OnGap(StreamGap gap)
    {
        ArgumentNullException.ThrowIfNull(gap);
        ObjectDisposedException.ThrowIf(_disposed, this);

        var line = new Utf8Line(LineBuffer(256 + Utf8Line.MaxBytes(gap.Reason)));
        if (_color)
        {
            line.Ascii(ColorGap);
        }

        WriteTime(ref line, gap.TimeUnixNs);
        line.Ascii(" -- lost "u8);
        line.Number(gap.Length);
        line.Ascii(" bytes of conn="u8);
        line.Number(gap.Connection);
        line.Byte((byte)' ');
        line.Ascii(DirectionName(gap.Direction));
        line.Ascii(" at offset "u8);
        line.Number(gap.StreamOffset);
        line.Ascii(" ("u8);
        line.Text(gap.Reason);
        line.Ascii(") --"u8);
        EndLine(ref line);
        Append("\n"u8);
    }

    public void OnClose(ConnectionClosed closed)
    {
        ArgumentNullException.ThrowIfNull(closed);
        ObjectDisposedException.ThrowIf(_disposed, this);

        // The close event carries no comm: use the one last seen on this connection.
        _commByConnection.Remove(closed.Connection, out string? comm);
        var line = new Utf8Line(LineBuffer(256 + Utf8Line.MaxBytes(comm)));
        if (_color)
        {
            line.Ascii(ColorClose);
        }

        WriteTime(ref line, closed.TimeUnixNs);
        line.Byte((byte)' ');
        if (comm is null)
        {
            line.Byte((byte)'?');
        }
        else
        {
            line.Text(comm);
        }

        line.Byte((byte)'[');
        line.Number(closed.Pid);
        line.Ascii("] conn="u8);
        line.Number(closed.Connection);
        line.Ascii(" closed (read "u8);
        line.Number(closed.ReadBytes);
        line.Ascii(" B, wrote "u8);
        line.Number(closed.WriteBytes);
        line.Ascii(" B)"u8);
        EndLine(ref line);
        Append("\n"u8);
    }

    public void Flush()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        FlushPending();
        if (_stream is not null)
        {
            _stream.Flush();
        }
        else
        {
            _writer!.Flush();
        }
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
            FlushPending();
            _stream?.Flush();
            _writer?.Flush();
        }
        finally
        {
            if (!_leaveOpen)
            {
                _stream?.Dispose();
                _writer?.Dispose();
            }
        }
    }

    private static ReadOnlySpan<byte> DirectionName(Direction direction) =>
        direction == Direction.Write ? "write"u8 : "read"u8;

    private static ReadOnlySpan<char> LibraryName(string? library)
    {
        if (string.IsNullOrEmpty(library))
        {
            return default;
        }

        ReadOnlySpan<char> path = library;
        return path[(path.LastIndexOf('/') + 1)..];
    }

    /// <summary>Where to cut a payload of which only <paramref name="limit"/> bytes are shown,
    /// backed off so no UTF-8 sequence is split.</summary>
    private static int TextCut(ReadOnlySpan<byte> data, int limit)
    {
        int cut = limit;
        while (cut > 0 && limit - cut < 3 && (data[cut] & 0xc0) == 0x80)
        {
            cut--;
        }

        return (data[cut] & 0xc0) == 0x80 ? limit : cut;
    }

    private void RememberComm(ulong connection, string comm)
    {
        if (_commByConnection.Count >= MaxCachedConnections && !_commByConnection.ContainsKey(connection))
        {
            // Connections whose close was never seen; forget them rather than grow forever.
            _commByConnection.Clear();
        }

        CollectionsMarshal.GetValueRefOrAddDefault(_commByConnection, connection, out _) = comm;
    }

    private void WritePayload(ReadOnlySpan<byte> data, int limit)
    {
        ReadOnlySpan<byte> shown = data;
        if (data.Length > limit)
        {
            ReadOnlySpan<byte> textPart = data[..TextCut(data, limit)];
            shown = LooksLikeText(textPart) ? textPart : data[..limit];
        }

        if (LooksLikeText(shown))
        {
            Append(shown);
            if (!shown.IsEmpty && shown[^1] != (byte)'\n')
            {
                Append("\n"u8);
            }
        }
        else
        {
            WriteHexDump(shown);
        }

        if (shown.Length < data.Length)
        {
            var line = new Utf8Line(LineBuffer(64));
            line.Ascii("... ("u8);
            line.Number(data.Length - shown.Length);
            line.Ascii(" more bytes not shown)\n"u8);
            Append(_line.AsSpan(0, line.Position));
        }
    }

    private void WriteHexDump(ReadOnlySpan<byte> data)
    {
        for (int offset = 0; offset < data.Length; offset += 16)
        {
            ReadOnlySpan<byte> row = data.Slice(offset, Math.Min(16, data.Length - offset));
            Span<byte> line = Reserve(HexLineBytes);
            offset.TryFormat(line, out int position, "x8", System.Globalization.CultureInfo.InvariantCulture);
            line[position++] = (byte)' ';
            line[position++] = (byte)' ';
            for (int i = 0; i < 16; i++)
            {
                if (i == 8)
                {
                    line[position++] = (byte)' ';
                }

                if (i < row.Length)
                {
                    line[position++] = HexDigits[row[i] >> 4];
                    line[position++] = HexDigits[row[i] & 0xf];
                }
                else
                {
                    line[position++] = (byte)' ';
                    line[position++] = (byte)' ';
                }

                line[position++] = (byte)' ';
            }

            line[position++] = (byte)' ';
            line[position++] = (byte)'|';
            foreach (byte b in row)
            {
                line[position++] = b is >= 0x20 and < 0x7f ? b : (byte)'.';
            }

            line[position++] = (byte)'|';
            line[position++] = (byte)'\n';
            _pendingLength += position;
        }
    }

    private void WriteTime(ref Utf8Line line, long unixNs)
    {
        long seconds = Math.DivRem(unixNs, 1_000_000_000L, out long nanos);
        if (nanos < 0)
        {
            seconds--;
            nanos += 1_000_000_000L;
        }

        if (seconds != _offsetCachedForSecond)
        {
            DateTime utc = DateTime.UnixEpoch.AddTicks(seconds * TimeSpan.TicksPerSecond);
            _offsetSeconds = (long)_timeZone.GetUtcOffset(utc).TotalSeconds;
            _offsetCachedForSecond = seconds;
        }

        long secondOfDay = (seconds + _offsetSeconds) % 86_400;
        if (secondOfDay < 0)
        {
            secondOfDay += 86_400;
        }

        line.Digits(secondOfDay / 3600, 2);
        line.Byte((byte)':');
        line.Digits(secondOfDay / 60 % 60, 2);
        line.Byte((byte)':');
        line.Digits(secondOfDay % 60, 2);
        line.Byte((byte)'.');
        line.Digits(nanos / 1000, 6);
    }

    private Span<byte> LineBuffer(int needed)
    {
        if (_line.Length < needed)
        {
            _line = new byte[Math.Max(needed, _line.Length * 2)];
        }

        return _line;
    }

    private void EndLine(ref Utf8Line line)
    {
        if (_color)
        {
            line.Ascii(ColorReset);
        }

        line.Byte((byte)'\n');
        Append(_line.AsSpan(0, line.Position));
    }

    private Span<byte> Reserve(int size)
    {
        if (PendingSize - _pendingLength < size)
        {
            FlushPending();
        }

        return _pending.AsSpan(_pendingLength);
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length <= PendingSize - _pendingLength)
        {
            bytes.CopyTo(_pending.AsSpan(_pendingLength));
            _pendingLength += bytes.Length;
            return;
        }

        FlushPending();
        if (bytes.Length < PendingSize)
        {
            bytes.CopyTo(_pending);
            _pendingLength = bytes.Length;
        }
        else
        {
            WriteOut(bytes);
        }
    }

    private void FlushPending()
    {
        if (_pendingLength == 0)
        {
            return;
        }

        int length = _pendingLength;

        // Drop the bytes even when the write fails, so a broken output does not repeat them.
        _pendingLength = 0;
        WriteOut(_pending.AsSpan(0, length));
    }

    private void WriteOut(ReadOnlySpan<byte> bytes)
    {
        if (_stream is not null)
        {
            _stream.Write(bytes);
            return;
        }

        while (!bytes.IsEmpty)
        {
            _decoder!.Convert(bytes, _chars, flush: false, out int bytesUsed, out int charsUsed, out _);
            _writer!.Write(_chars.AsSpan(0, charsUsed));
            bytes = bytes[bytesUsed..];
        }
    }

    /// <summary>"container=ID12 " when the process runs in a recognised container.</summary>
    private static void WriteContainer(ref Utf8Line line, ProcessInfo process)
    {
        if (process.Container is { Length: >= ShortContainerId } container)
        {
            line.Ascii("container="u8);
            line.Text(container.AsSpan(0, ShortContainerId));
            line.Byte((byte)' ');
        }
    }

    /// <summary>How docker ps shows a container id.</summary>
    private const int ShortContainerId = 12;
}
