using System.Buffers;
using System.Text;

namespace TlsScope.Outputs.Json;

/// <summary>
/// JSON strings of plain printable ASCII, written without Utf8JsonWriter's per-string escape scan
/// and transcoding: header fields are almost always such text, and a message has dozens. Text with
/// anything else (a quote, a backslash, a control or non-ASCII character) is left to the writer, so
/// the bytes are the writer's own either way.
/// </summary>
internal static class JsonAsciiStrings
{
    /// <summary>Characters the writer (relaxed escaping) copies unchanged: ' ' to '~' but '"' and '\'.</summary>
    private static readonly SearchValues<char> Plain = SearchValues.Create(
        " !#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~");

    public static bool IsPlain(string text) => !text.AsSpan().ContainsAnyExcept(Plain);

    /// <summary>Bytes of <see cref="WriteFieldArray"/>'s output, or -1 when some text is not plain.</summary>
    public static int FieldArrayLength(IReadOnlyList<(string Name, string Value)> fields)
    {
        int length = fields.Count > 0 ? 1 : 2; // [ ], less the comma the first field does not have
        for (int i = 0; i < fields.Count; i++)
        {
            var (name, value) = fields[i];
            if (!IsPlain(name) || !IsPlain(value))
            {
                return -1;
            }

            length += name.Length + value.Length + 8; // ,["",""]
        }

        return length;
    }

    /// <summary>[["name","value"],...] of plain fields (checked by <see cref="FieldArrayLength"/>)
    /// into <paramref name="destination"/>; returns the bytes written.</summary>
    public static int WriteFieldArray(IReadOnlyList<(string Name, string Value)> fields, Span<byte> destination)
    {
        int at = 0;
        destination[at++] = (byte)'[';
        for (int i = 0; i < fields.Count; i++)
        {
            if (i > 0)
            {
                destination[at++] = (byte)',';
            }

            destination[at++] = (byte)'[';
            at += Quoted(fields[i].Name, destination[at..]);
            destination[at++] = (byte)',';
            at += Quoted(fields[i].Value, destination[at..]);
            destination[at++] = (byte)']';
        }

        destination[at++] = (byte)']';
        return at;
    }

    private static int Quoted(string text, Span<byte> destination)
    {
        destination[0] = (byte)'"';
        Ascii.FromUtf16(text, destination[1..], out int written);
        destination[1 + written] = (byte)'"';
        return written + 2;
    }
}
