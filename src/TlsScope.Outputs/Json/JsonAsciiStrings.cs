using System.Buffers;
using System.Text;

namespace TlsScope.Outputs.Json;

/// <summary>
/// JSON strings of plain printable ASCII, written without Utf8JsonWriter's per-string escape scan
/// and transcoding. Text with anything else (a quote, a backslash, a control or non-ASCII
/// character) is left to the writer, so the bytes are the writer's own either way.
/// </summary>
internal static class JsonAsciiStrings
{
    /// <summary>Characters the writer (relaxed escaping) copies unchanged: ' ' to '~' but '"' and '\'.</summary>
    private static readonly SearchValues<char> Plain = SearchValues.Create(
        " !#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~");

    public static bool IsPlain(string text) => !text.AsSpan().ContainsAnyExcept(Plain);

    /// <summary>"text" of plain text (see <see cref="IsPlain"/>) into <paramref name="destination"/>
    /// (room for its length + 2); returns the bytes written.</summary>
    public static int Quoted(string text, Span<byte> destination)
    {
        destination[0] = (byte)'"';
        Ascii.FromUtf16(text, destination[1..], out int written);
        destination[1 + written] = (byte)'"';
        return written + 2;
    }
}
