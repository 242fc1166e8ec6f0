namespace TlsScope.Sources.Shell;

/// <summary>zsh keeps strings "metafied": a byte zsh uses internally (NUL and 0x83-0x9f) is stored
/// as Meta (0x83) followed by the byte XOR 0x20 (zsh.h). A line zleentry returns is in that form.</summary>
public static class ZshMeta
{
    public const byte Meta = 0x83;

    /// <summary>The bytes as typed: each Meta pair back to its byte. A Meta at the very end (a
    /// line cut there) is dropped.</summary>
    public static byte[] Unmetafy(ReadOnlySpan<byte> metafied)
    {
        var first = metafied.IndexOf(Meta);
        if (first < 0)
        {
            return metafied.ToArray();
        }

        var plain = new byte[metafied.Length];
        metafied[..first].CopyTo(plain);
        int n = first;
        for (int i = first; i < metafied.Length; i++)
        {
            if (metafied[i] != Meta)
            {
                plain[n++] = metafied[i];
            }
            else if (++i < metafied.Length)
            {
                plain[n++] = (byte)(metafied[i] ^ 0x20);
            }
        }

        return plain[..n];
    }
}
