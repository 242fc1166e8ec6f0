using System.Buffers;
using System.IO.Compression;

namespace TlsScope.Protocols.Http1;

/// <summary>Reverses HTTP content codings (Content-Encoding) with a bound on the decoded size.</summary>
public static class ContentDecoding
{
    /// <summary>Default cap on decoded output: larger results are treated as decompression bombs.</summary>
    public const long DefaultMaxDecodedBytes = 64L * 1024 * 1024;

    /// <summary>Decodes <paramref name="body"/> per <paramref name="contentEncoding"/> with the default cap.</summary>
    public static bool TryDecode(byte[] body, string? contentEncoding, out byte[] decoded) =>
        TryDecode(body, contentEncoding, DefaultMaxDecodedBytes, out decoded);

    /// <summary>
    /// Decodes <paramref name="body"/>. Codings are listed in the order they were applied ("gzip, br" means
    /// gzip then br), so they are undone last to first. Returns false for an unknown coding, corrupt data,
    /// or output beyond <paramref name="maxDecodedBytes"/>; <paramref name="decoded"/> is then empty.
    /// </summary>
    public static bool TryDecode(byte[] body, string? contentEncoding, long maxDecodedBytes, out byte[] decoded)
    {
        decoded = Array.Empty<byte>();
        if (body is null)
        {
            return false;
        }

        var current = body;
        if (!string.IsNullOrWhiteSpace(contentEncoding))
        {
            var codings = contentEncoding.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            for (int i = codings.Length - 1; i >= 0; i--)
            {
                byte[]? next = codings[i].ToLowerInvariant() switch
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

                current = next;
            }
        }

        if (current.LongLength > maxDecodedBytes)
        {
            return false;
        }

        decoded = current;
        return true;
    }

    /// <summary>Runs one decompressor; null on corrupt input, truncation, or output beyond the cap.</summary>
    private static byte[]? Inflate(byte[] input, long max, Func<Stream, Stream> open)
    {
        try
        {
            using var source = new MemoryStream(input, writable: false);
            using var decoder = open(source);
            // Compressed text typically expands 4-10x: start there rather than regrow from 256 bytes.
            using var output = new MemoryStream((int)Math.Min(Math.Min((long)input.Length * 4 + 256, max), 64L * 1024 * 1024));
            var buffer = ArrayPool<byte>.Shared.Rent(81920);
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

            ArrayPool<byte>.Shared.Return(buffer);
            return output.Length == output.Capacity ? output.GetBuffer() : output.ToArray();
        }
        catch (Exception e) when (e is InvalidDataException or IOException or InvalidOperationException or NotSupportedException)
        {
            // Corrupt or truncated input (BrotliStream reports bad data as InvalidOperationException).
            return null;
        }
    }
}
