using System.Text;

namespace TlsScope.Engine.Reading;

/// <summary>The kernel's NUL-padded 16-byte process names: compared with a cached string
/// without decoding (every record carries one), decoded only when new.</summary>
public static unsafe class KernelComm
{
    public static ReadOnlySpan<byte> Bytes(byte* comm)
    {
        var name = new ReadOnlySpan<byte>(comm, Kernel.KernelConfig.CommLength);
        var end = name.IndexOf((byte)0);
        return end >= 0 ? name[..end] : name;
    }

    /// <summary>Whether <paramref name="cached"/> is these bytes (process names are ASCII in practice;
    /// anything else only makes the comparison fail and the name be decoded again).</summary>
    public static bool Same(string cached, ReadOnlySpan<byte> bytes)
    {
        if (cached.Length != bytes.Length)
        {
            return false;
        }

        for (var i = 0; i < bytes.Length; i++)
        {
            if (cached[i] != bytes[i])
            {
                return false;
            }
        }

        return true;
    }

    public static string Decode(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);
}
