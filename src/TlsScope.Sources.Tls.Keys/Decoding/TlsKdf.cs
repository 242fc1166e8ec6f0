using System.Security.Cryptography;
using System.Text;

namespace TlsScope.Sources.Tls.Keys.Decoding;

/// <summary>The TLS 1.3 key schedule step TlsScope needs (RFC 8446 §7.1).</summary>
public static class TlsKdf
{
    /// <summary>HKDF-Expand-Label(secret, label, context, length) with the "tls13 " prefix.</summary>
    public static byte[] ExpandLabel(HashAlgorithmName hash, ReadOnlySpan<byte> secret, string label, ReadOnlySpan<byte> context, int length)
    {
        var output = new byte[length];
        ExpandLabel(hash, secret, label, context, output);
        return output;
    }

    public static void ExpandLabel(HashAlgorithmName hash, ReadOnlySpan<byte> secret, string label, ReadOnlySpan<byte> context, Span<byte> output)
    {
        var fullLabel = "tls13 " + label;
        // struct HkdfLabel { uint16 length; opaque label<7..255>; opaque context<0..255>; }
        Span<byte> info = stackalloc byte[2 + 1 + 255 + 1 + 255];
        var n = 0;
        info[n++] = (byte)(output.Length >> 8);
        info[n++] = (byte)output.Length;
        info[n++] = (byte)fullLabel.Length;
        n += Encoding.ASCII.GetBytes(fullLabel, info[n..]);
        info[n++] = (byte)context.Length;
        context.CopyTo(info[n..]);
        n += context.Length;
        HKDF.Expand(hash, secret, output, info[..n]);
    }
}
