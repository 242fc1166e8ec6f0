using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace TlsScope.Keys.Calibration;

/// <summary>
/// What the library's callbacks told about each connection object: its key log lines (the
/// truth calibration looks for) and its handshake messages (for the transcript hash). The
/// callbacks are plain C function pointers, so the state is static, keyed by the SSL pointer.
/// </summary>
internal static unsafe class HandshakeLog
{
    private const int HandshakeContentType = 22;

    private static readonly Dictionary<nint, Side> Sides = [];
    private static readonly Lock Gate = new();

    public sealed class Side
    {
        public List<string> Lines { get; } = [];
        public List<byte[]> Messages { get; } = [];
    }

    public static nint KeylogCallback => (nint)(delegate* unmanaged[Cdecl]<nint, byte*, void>)&OnKeylog;

    public static nint MessageCallback =>
        (nint)(delegate* unmanaged[Cdecl]<int, int, int, byte*, nuint, nint, nint, void>)&OnMessage;

    public static Side For(nint ssl)
    {
        lock (Gate)
        {
            if (!Sides.TryGetValue(ssl, out var side))
                Sides[ssl] = side = new Side();
            return side;
        }
    }

    public static void Forget(nint ssl)
    {
        lock (Gate)
            Sides.Remove(ssl);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnKeylog(nint ssl, byte* line)
    {
        var text = Marshal.PtrToStringUTF8((nint)line);
        if (text != null)
            lock (Gate)
                For(ssl).Lines.Add(text);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnMessage(int writeP, int version, int contentType, byte* buf, nuint len, nint ssl, nint arg)
    {
        if (contentType != HandshakeContentType || buf == null || len == 0 || len > int.MaxValue)
            return;
        var message = new ReadOnlySpan<byte>(buf, (int)len).ToArray();
        lock (Gate)
            For(ssl).Messages.Add(message);
    }
}
