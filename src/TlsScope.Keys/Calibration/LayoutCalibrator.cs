using System.Runtime.InteropServices;
using TlsScope.Keys.Decoding;
using TlsScope.Keys.Layout;

namespace TlsScope.Keys.Calibration;

/// <summary>
/// Finds a libssl build's key layout in this process: handshakes of every
/// <see cref="HandshakeCase"/>, client-first and server-first, each side searched at its first
/// transfer and again after the exchange; the chosen layout is then proven by decoding every
/// object at its paths and comparing with the key log callback's lines.
/// </summary>
public static class LayoutCalibrator
{
    /// <exception cref="CalibrationException">One line saying why.</exception>
    public static KeyLayout Calibrate(string libraryPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(libraryPath);
        var handshakes = new List<LiveHandshake>();
        try
        {
            var observations = new List<Observation>();
            foreach (var serverFirst in (ReadOnlySpan<bool>)[false, true])
            {
                foreach (var c in HandshakeCase.All)
                {
                    var live = LiveHandshake.Run(libraryPath, c, serverFirst, (h, server) => observations.Add(Observe(h, server)));
                    handshakes.Add(live);
                    observations.Add(Observe(live, server: false));
                    observations.Add(Observe(live, server: true));
                }
            }
            var layout = LayoutChooser.Choose(observations, $"calibrated {VersionText(libraryPath)} ({libraryPath})");
            foreach (var live in handshakes)
            {
                Prove(layout, live.Client, live.ClientLines, "client");
                Prove(layout, live.Server, live.ServerLines, "server");
            }
            return layout;
        }
        finally
        {
            foreach (var live in handshakes)
                live.Dispose();
        }
    }

    /// <summary>The lines decoded from the object at the layout's paths; each must be one the
    /// library's callback wrote.</summary>
    public static IReadOnlyList<string> DecodeLive(KeyLayout layout, nint ssl)
    {
        using var memory = ProcessMemory.Self();
        var (slots, mask) = LayoutReader.Read(memory, (ulong)ssl, layout);
        if (!KeyDecoder.TryDecode(layout, slots, mask, out var keys, out var reason))
            throw new CalibrationException($"the layout does not decode: {reason}");
        return keys!.Lines;
    }

    private static void Prove(KeyLayout layout, nint ssl, IReadOnlyList<string> expected, string side)
    {
        foreach (var line in DecodeLive(layout, ssl))
            if (!expected.Contains(line))
                throw new CalibrationException($"the layout decodes a {side} line the library did not log ({line.Split(' ')[0]})");
    }

    private static Observation Observe(LiveHandshake live, bool server)
    {
        // The maps are read anew: the heap may have grown since the last search.
        using var memory = ProcessMemory.Self();
        return SecretSearch.Search(memory, (ulong)(server ? live.Server : live.Client), live.Describe(server));
    }

    private static unsafe string VersionText(string libraryPath)
    {
        if (!NativeLibrary.TryLoad(libraryPath, out var handle)
            || !NativeLibrary.TryGetExport(handle, "OpenSSL_version", out var address))
            return "libssl";
        var text = ((delegate* unmanaged<int, nint>)address)(0);
        return Marshal.PtrToStringUTF8(text) ?? "libssl";
    }
}
