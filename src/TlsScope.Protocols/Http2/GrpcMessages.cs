using System.Buffers.Binary;

namespace TlsScope.Protocols.Http2;

/// <summary>gRPC length-prefixed message framing inside an HTTP/2 body: 1-byte compressed flag, 4-byte big-endian length, message.</summary>
public static class GrpcMessages
{
    /// <summary>Octets of the prefix before each message.</summary>
    public const int PrefixLength = 5;

    /// <summary>True when a content-type names gRPC ("application/grpc", "application/grpc+proto", ...).</summary>
    public static bool IsGrpcContentType(string? contentType) =>
        contentType is not null && contentType.TrimStart().StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Splits a body into length-prefixed messages. Returns true when the body is exactly a sequence of
    /// complete messages (an empty body included); false on a truncated message, an invalid flag octet
    /// or a length beyond int range. <paramref name="messages"/> holds the complete messages seen either way.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> body, out List<(bool Compressed, int Length)> messages)
    {
        messages = new List<(bool Compressed, int Length)>();
        int pos = 0;
        while (pos < body.Length)
        {
            if (body.Length - pos < PrefixLength)
            {
                return false;
            }

            byte flag = body[pos];
            uint length = BinaryPrimitives.ReadUInt32BigEndian(body[(pos + 1)..]);
            if (flag > 1 || length > int.MaxValue || length > (uint)(body.Length - pos - PrefixLength))
            {
                return false;
            }

            messages.Add((flag == 1, (int)length));
            pos += PrefixLength + (int)length;
        }

        return true;
    }
}
