using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace TlsScope.Sources.Tls.Keys.Calibration;

/// <summary>
/// What the library's callbacks told about each connection object: its key log lines (the
/// truth calibration looks for) and its handshake messages (for the transcript hash); each
/// callback is passed on to the object's <see cref="IHandshakeProbe"/>, if it has one. The
/// callbacks are plain C function pointers, so the state is static, keyed by the SSL pointer.
/// </summary>
internal static unsafe class HandshakeLog
{
    private const int HandshakeContentType = 22;
    private const int InfoExit = 0x02, InfoHandshakeDone = 0x20; // SSL_CB_EXIT, SSL_CB_HANDSHAKE_DONE

    private static readonly Dictionary<nint, Side> Sides = [];
    private static readonly Lock Gate = new();

    public sealed class Side
    {
        public List<string> Lines { get; } = [];
        public List<byte[]> Messages { get; } = [];
        public IHandshakeProbe? Probe { get; set; }
    }

    public static nint KeylogCallback => (nint)(delegate* unmanaged[Cdecl]<nint, byte*, void>)&OnKeylog;

    public static nint MessageCallback =>
        (nint)(delegate* unmanaged[Cdecl]<int, int, int, byte*, nuint, nint, nint, void>)&OnMessage;

    public static nint InfoCallback => (nint)(delegate* unmanaged[Cdecl]<nint, int, int, void>)&OnInfo;

    public static Side For(nint ssl)
    {
        lock (Gate)
        {
            if (!Sides.TryGetValue(ssl, out var side))
            {
                Sides[ssl] = side = new Side();
            }

            return side;
        }
    }

    public static void Forget(nint ssl)
    {
        lock (Gate)
        {
            Sides.Remove(ssl);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnKeylog(nint ssl, byte* line)
    {
        var text = Marshal.PtrToStringUTF8((nint)line);
        if (text == null)
        {
            return;
        }

        IHandshakeProbe? probe;
        lock (Gate)
        {
            var side = For(ssl);
            side.Lines.Add(text);
            probe = side.Probe;
        }
        probe?.OnKeylog(ssl, text);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnMessage(int writeP, int version, int contentType, byte* buf, nuint len, nint ssl, nint arg)
    {
        if (contentType != HandshakeContentType || buf == null || len == 0 || len > int.MaxValue)
        {
            return;
        }

        var message = new ReadOnlySpan<byte>(buf, (int)len).ToArray();
        IHandshakeProbe? probe;
        lock (Gate)
        {
            var side = For(ssl);
            side.Messages.Add(message);
            probe = side.Probe;
        }
        probe?.OnMessage(ssl, writeP != 0);
    }

    // The end of the handshake (done, or SSL_do_handshake returning 1): its state still exists.
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnInfo(nint ssl, int where, int value)
    {
        if ((where & InfoHandshakeDone) == 0 && ((where & InfoExit) == 0 || value != 1))
        {
            return;
        }

        IHandshakeProbe? probe;
        lock (Gate)
        {
            probe = For(ssl).Probe;
        }

        probe?.OnHandshakeDone(ssl);
    }
}
