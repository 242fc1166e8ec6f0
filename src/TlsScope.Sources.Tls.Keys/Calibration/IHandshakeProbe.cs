namespace TlsScope.Sources.Tls.Keys.Calibration;

/// <summary>
/// Looks at a connection object while its handshake runs, from inside the library's callbacks
/// (the only moments the handshake state is reachable). Called on the handshaking thread; must
/// not throw (an exception cannot cross back into the library).
/// </summary>
public interface IHandshakeProbe
{
    /// <summary>The key log callback wrote <paramref name="line"/> for <paramref name="ssl"/>.</summary>
    void OnKeylog(nint ssl, string line);

    /// <summary>A handshake message was written (<paramref name="written"/>) or read: a write
    /// stands for the socket send the kernel reads at.</summary>
    void OnMessage(nint ssl, bool written);

    /// <summary>The handshake is complete; its state is freed right after.</summary>
    void OnHandshakeDone(nint ssl);
}
