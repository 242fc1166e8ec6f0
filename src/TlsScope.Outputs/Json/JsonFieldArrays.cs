namespace TlsScope.Outputs.Json;

/// <summary>
/// [["name","value"],...] of header fields as raw JSON, without Utf8JsonWriter's per-string
/// escape scan and transcode: from the token cache for strings seen before, by one narrowing copy
/// for plain printable ASCII. A message has dozens of fields, so this is most of what its record
/// costs. Text that needs escaping and is not cached yet is left to the writer.
/// </summary>
internal sealed class JsonFieldArrays(JsonTokenCache tokens)
{
    private byte[] _buffer = new byte[4096];

    /// <summary>The array's bytes, valid until the next call; false when some text needs the writer.
    /// Every string is seen by the cache either way, so the same fields come from it next time.</summary>
    public bool TryEncode(IReadOnlyList<(string Name, string Value)> fields, out ReadOnlySpan<byte> json)
    {
        json = default;
        int at = 0;
        Ensure(at, 2);
        _buffer[at++] = (byte)'[';
        for (int i = 0; i < fields.Count; i++) // indexed: an interface's enumerator is a boxed object
        {
            var (name, value) = fields[i];
            Ensure(at, 2);
            if (i > 0)
            {
                _buffer[at++] = (byte)',';
            }

            _buffer[at++] = (byte)'[';
            if (!TryAppend(name, ref at))
            {
                SightFrom(fields, i + 1, value);
                return false;
            }

            Ensure(at, 1);
            _buffer[at++] = (byte)',';
            if (!TryAppend(value, ref at))
            {
                SightFrom(fields, i + 1, null);
                return false;
            }

            Ensure(at, 1);
            _buffer[at++] = (byte)']';
        }

        Ensure(at, 1);
        _buffer[at++] = (byte)']';
        json = _buffer.AsSpan(0, at);
        return true;
    }

    /// <summary>Shows the cache the strings an abandoned array did not reach.</summary>
    private void SightFrom(IReadOnlyList<(string Name, string Value)> fields, int index, string? value)
    {
        if (value is not null)
        {
            tokens.TryGet(value, out _);
        }

        for (int i = index; i < fields.Count; i++)
        {
            tokens.TryGet(fields[i].Name, out _);
            tokens.TryGet(fields[i].Value, out _);
        }
    }

    private bool TryAppend(string text, ref int at)
    {
        if (tokens.TryGet(text, out var encoded))
        {
            var bytes = encoded.EncodedUtf8Bytes;
            Ensure(at, bytes.Length + 2);
            _buffer[at] = (byte)'"';
            bytes.CopyTo(_buffer.AsSpan(at + 1));
            _buffer[at + 1 + bytes.Length] = (byte)'"';
            at += bytes.Length + 2;
            return true;
        }

        if (!JsonAsciiStrings.IsPlain(text))
        {
            return false;
        }

        Ensure(at, text.Length + 2);
        at += JsonAsciiStrings.Quoted(text, _buffer.AsSpan(at));
        return true;
    }

    private void Ensure(int at, int more)
    {
        if (at + more > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(at + more, 2 * _buffer.Length));
        }
    }
}
