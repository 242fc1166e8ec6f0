using System.Buffers;
using System.IO.Compression;
using System.Runtime.InteropServices;

namespace TlsScope.Protocols.Http1;

/// <summary>Reverses HTTP content codings (Content-Encoding) with a bound on the decoded size.</summary>
public static class ContentDecoding
{
    /// <summary>Default cap on decoded output: larger results are treated as decompression bombs.</summary>
    public const long DefaultMaxDecodedBytes = 64L * 1024 * 1024;

    /// <summary>Decodes <paramref name="body"/> per <paramref name="contentEncoding"/> with the default cap.</summary>
    public static bool TryDecode(ReadOnlyMemory<byte> body, string? contentEncoding, out byte[] decoded) =>
        TryDecode(body, contentEncoding, DefaultMaxDecodedBytes, out decoded);

    /// <summary>
    /// Decodes <paramref name="body"/>. Codings are listed in the order they were applied ("gzip, br" means
    /// gzip then br), so they are undone last to first. Returns false for an unknown coding, corrupt data,
    /// or output beyond <paramref name="maxDecodedBytes"/>; <paramref name="decoded"/> is then empty.
    /// A body cut short may decode to its readable start (gzip and deflate streams do not always say they
    /// were cut): whether the body was whole is the parser's to say, not this method's.
    /// </summary>
    public static bool TryDecode(ReadOnlyMemory<byte> body, string? contentEncoding, long maxDecodedBytes, out byte[] decoded)
    {
        decoded = Array.Empty<byte>();
        var current = body;
        if (!string.IsNullOrWhiteSpace(contentEncoding))
        {
            var codings = contentEncoding.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            for (int i = codings.Length - 1; i >= 0; i--)
            {
                ReadOnlyMemory<byte>? next = codings[i].ToLowerInvariant() switch
                {
                    "identity" => current,
                    "gzip" or "x-gzip" => Inflate(current, maxDecodedBytes, s => new GZipStream(s, CompressionMode.Decompress)),
                    "br" => Inflate(current, maxDecodedBytes, s => new BrotliStream(s, CompressionMode.Decompress)),
                    "deflate" => Inflate(current, maxDecodedBytes, s => new ZLibStream(s, CompressionMode.Decompress))
                        ?? Inflate(current, maxDecodedBytes, s => new DeflateStream(s, CompressionMode.Decompress)),
                    _ => null,
                };
                if (next is null)
                {
                    return false;
                }

                current = next.Value;
            }
        }

        if (current.Length > maxDecodedBytes)
        {
            return false;
        }

        decoded = MemoryMarshal.TryGetArray(current, out var whole) && whole.Offset == 0 && whole.Count == whole.Array!.Length
            ? whole.Array
            : current.ToArray();
        return true;
    }

    /// <summary>Runs one decompressor; null on corrupt input or output beyond the cap.</summary>
    private static ReadOnlyMemory<byte>? Inflate(ReadOnlyMemory<byte> input, long max, Func<Stream, Stream> open)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(81920);
        try
        {
            // Read the caller's array in place: no copy of the encoded body.
            using var source = MemoryMarshal.TryGetArray(input, out var segment)
                ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
                : new MemoryStream(input.ToArray(), writable: false);
            using var decoder = open(source);
            // Compressed text typically expands 4-10x: start there rather than regrow from 256 bytes.
            using var output = new MemoryStream((int)Math.Min(Math.Min((long)input.Length * 4 + 256, max), 64L * 1024 * 1024));
            long total = 0;
            int n;
            while ((n = decoder.Read(buffer, 0, buffer.Length)) > 0)
            {
                total += n;
                if (total > max)
                {
                    return null;
                }

                output.Write(buffer, 0, n);
            }

            return output.Length == output.Capacity ? output.GetBuffer() : output.ToArray();
        }
        catch (Exception e) when (e is InvalidDataException or IOException or InvalidOperationException or NotSupportedException)
        {
            // Corrupt input (BrotliStream reports bad data as InvalidOperationException).
            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
