using System.Buffers;
using System.Net;
using System.Text;
using TlsScope.Outputs.Json;

namespace TlsScope.Outputs.Text;

/// <summary>
/// Appends UTF-8 text to a span the caller sized for the worst case; used to build output lines
/// without allocating.
/// </summary>
internal ref struct Utf8Line
{
    /// <summary>Worst-case bytes of one formatted endpoint: "[" IPv6 "%" scope "]:" port.</summary>
    public const int MaxEndpointBytes = 80;

    private static readonly SearchValues<char> ControlChars = SearchValues.Create(
        "\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u0009\u000a\u000b\u000c\u000d\u000e\u000f" +
        "\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f" +
        "\u007f\u0080\u0081\u0082\u0083\u0084\u0085\u0086\u0087\u0088\u0089\u008a\u008b\u008c\u008d\u008e\u008f" +
        "\u0090\u0091\u0092\u0093\u0094\u0095\u0096\u0097\u0098\u0099\u009a\u009b\u009c\u009d\u009e\u009f");

    private readonly Span<byte> _buffer;
    private int _position;

    public Utf8Line(Span<byte> buffer)
    {
        _buffer = buffer;
        _position = 0;
    }

    public readonly int Position => _position;

    /// <summary>Bytes needed in the worst case to append <paramref name="text"/> with <see cref="Text"/>.</summary>
    public static int MaxBytes(string? text) => text is null ? 0 : text.Length * 3;

    public void Byte(byte value) => _buffer[_position++] = value;

    public void Ascii(scoped ReadOnlySpan<byte> utf8)
    {
        utf8.CopyTo(_buffer[_position..]);
        _position += utf8.Length;
    }

    public void Number(long value)
    {
        value.TryFormat(_buffer[_position..], out int written, default, System.Globalization.CultureInfo.InvariantCulture);
        _position += written;
    }

    public void Number(ulong value)
    {
        value.TryFormat(_buffer[_position..], out int written, default, System.Globalization.CultureInfo.InvariantCulture);
        _position += written;
    }

    /// <summary>Zero-padded decimal of a fixed width.</summary>
    public void Digits(long value, int width)
    {
        Rfc3339.Digits(_buffer.Slice(_position, width), value);
        _position += width;
    }

    /// <summary>
    /// Appends text from the traced process (comm, paths, reasons) with every control character
    /// replaced by '?', so it cannot move the cursor or inject terminal escape sequences.
    /// </summary>
    public void Text(scoped ReadOnlySpan<char> text)
    {
        while (!text.IsEmpty)
        {
            int control = text.IndexOfAny(ControlChars);
            ReadOnlySpan<char> clean = control < 0 ? text : text[..control];
            _position += Encoding.UTF8.GetBytes(clean, _buffer[_position..]);
            if (control < 0)
            {
                break;
            }

            _buffer[_position++] = (byte)'?';
            text = text[(control + 1)..];
        }
    }

    /// <summary>"ip:port", IPv6 as "[ip]:port", like <see cref="IPEndPoint.ToString"/>; '?' when null.</summary>
    public void Endpoint(IPEndPoint? endpoint)
    {
        if (endpoint is null)
        {
            _buffer[_position++] = (byte)'?';
            return;
        }

        _position += FormatEndpoint(endpoint, _buffer[_position..]);
    }

    /// <summary>Formats an endpoint into <paramref name="destination"/> (at least <see cref="MaxEndpointBytes"/>).</summary>
    public static int FormatEndpoint(IPEndPoint endpoint, Span<byte> destination)
    {
        bool v6 = endpoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
        int position = 0;
        if (v6)
        {
            destination[position++] = (byte)'[';
        }

        if (!endpoint.Address.TryFormat(destination[position..], out int written))
        {
            throw new InvalidOperationException("endpoint does not fit");
        }

        position += written;
        if (v6)
        {
            destination[position++] = (byte)']';
        }

        destination[position++] = (byte)':';
        endpoint.Port.TryFormat(destination[position..], out written, default, System.Globalization.CultureInfo.InvariantCulture);
        return position + written;
    }
}
