using System.Runtime.CompilerServices;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace TlsScope.Outputs.Json;

/// <summary>
/// The JSON-escaped UTF-8 of strings the sink writes again and again, keyed by the string object
/// itself. The parsers hand back the same string objects for text a connection repeats (every
/// header name and most values of a keep-alive connection, its URL, the method), so a hit costs a
/// reference compare instead of an escape scan and a transcode per write. A string is encoded on
/// its second sighting: text seen once (a date, a request id) costs one remembered reference and
/// no allocation. Direct-mapped, so it never grows; a collision only costs a re-encode.
/// </summary>
internal sealed class JsonTokenCache(JavaScriptEncoder encoder)
{
    private const int Slots = 4096; // a power of two

    /// <summary>Longer text is never cached: the cache holds at most 4 096 strings of up to 512
    /// characters and their escaped bytes (about 16 MB in the worst case of all-escaped text).</summary>
    public const int MaxCachedLength = 512;

    private readonly Entry[] _entries = new Entry[Slots];

    /// <summary>The encoded text of <paramref name="text"/> when it was seen before (the same object);
    /// false the first time, when the caller writes it the ordinary way.</summary>
    public bool TryGet(string text, out JsonEncodedText encoded)
    {
        if (text.Length > MaxCachedLength)
        {
            encoded = default;
            return false;
        }

        ref var entry = ref _entries[RuntimeHelpers.GetHashCode(text) & (Slots - 1)];
        if (ReferenceEquals(entry.Key, text))
        {
            if (!entry.Encoded && !entry.Unencodable)
            {
                try
                {
                    entry.Text = JsonEncodedText.Encode(text, encoder);
                    entry.Encoded = true;
                }
                catch (ArgumentException)
                {
                    // Invalid UTF-16 (a lone surrogate): Encode refuses it, while the writer puts
                    // U+FFFD in its place. The writer's way it is, every time.
                    entry.Unencodable = true;
                }
            }

            encoded = entry.Text;
            return entry.Encoded;
        }

        entry = new Entry { Key = text };
        encoded = default;
        return false;
    }

    private struct Entry
    {
        public string? Key;
        public bool Encoded;
        public bool Unencodable;
        public JsonEncodedText Text;
    }
}
