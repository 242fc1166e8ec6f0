using System.Runtime.InteropServices;
using TlsScope.Sources.Tls.Keys.Decoding;
using TlsScope.Sources.Tls.Keys.Layout;

namespace TlsScope.Sources.Tls.Keys.Calibration;

/// <summary>
/// Finds a libssl build's key layout in this process: handshakes of every
/// <see cref="HandshakeCase"/>, client-first and server-first, each side searched at its first
/// transfer and again after the exchange (and, for values that exist only then, during the
/// handshake); the chosen layout is then proven by decoding every object at its paths and
/// comparing with the key log callback's lines, its handshake-phase slots by reading them the
/// way the kernel does in fresh TLS 1.3 handshakes (dropped, with a note, if that fails).
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
                    var probe = new HandshakeSecretProbe();
                    var live = LiveHandshake.Run(libraryPath, c, serverFirst, (h, server) => observations.Add(Observe(h, server)), probe);
                    handshakes.Add(live);
                    observations.Add(Observe(live, server: false, probe));
                    observations.Add(Observe(live, server: true, probe));
                }
            }
            var layout = LayoutChooser.Choose(observations, $"calibrated {VersionText(libraryPath)} ({libraryPath})");
            foreach (var live in handshakes)
            {
                Prove(layout, live.Client, live.ClientLines, "client");
                Prove(layout, live.Server, live.ServerLines, "server");
            }
            return layout.HandshakeMask == 0 ? layout : ProveDuringHandshake(libraryPath, layout);
        }
        finally
        {
            foreach (var live in handshakes)
            {
                live.Dispose();
            }
        }
    }

    /// <summary>The lines decoded from the object at the layout's paths; each must be one the
    /// library's callback wrote.</summary>
    public static IReadOnlyList<string> DecodeLive(KeyLayout layout, nint ssl, HandshakeTrafficSecrets? duringHandshake = null)
    {
        using var memory = ProcessMemory.Self();
        var (slots, mask) = LayoutReader.Read(memory, (ulong)ssl, layout);
        if (!KeyDecoder.TryDecode(layout, slots, mask, out var keys, out var reason, duringHandshake))
        {
            throw new CalibrationException($"the layout does not decode: {reason}");
        }

        return keys!.Lines;
    }

    private static void Prove(KeyLayout layout, nint ssl, IReadOnlyList<string> expected, string side)
    {
        foreach (var line in DecodeLive(layout, ssl))
        {
            if (!expected.Contains(line))
            {
                throw new CalibrationException($"the layout decodes a {side} line the library did not log ({line.Split(' ')[0]})");
            }
        }
    }

    /// <summary>Reads the handshake-phase slots as the kernel does in fresh TLS 1.3 handshakes of
    /// both ends; together with the record after the handshake they must give exactly the
    /// callback's lines. A layout failing that loses its handshake-phase slots.</summary>
    private static KeyLayout ProveDuringHandshake(string libraryPath, KeyLayout layout)
    {
        try
        {
            foreach (var c in HandshakeCase.All.Where(c => c.MaxVersion == 0))
            {
                var probe = new HandshakeReadProbe(layout);
                using var live = LiveHandshake.Run(libraryPath, c, probe: probe);
                foreach (var (ssl, expected) in (ReadOnlySpan<(nint, IReadOnlyList<string>)>)[(live.Client, live.ClientLines), (live.Server, live.ServerLines)])
                {
                    var lines = DecodeLive(layout, ssl, probe.Secrets(ssl));
                    if (lines.Count != expected.Count || lines.Any(l => !expected.Contains(l)))
                    {
                        throw new CalibrationException("the lines read during and after the handshake differ from the library's");
                    }
                }
            }
            return layout;
        }
        catch (CalibrationException e)
        {
            var slots = layout.Slots.Where(s => s.Phase != SlotPhase.Handshake).ToList();
            return new KeyLayout($"{layout.Origin}; no handshake traffic secrets: {e.Message}", slots);
        }
    }

    private static Observation Observe(LiveHandshake live, bool server, HandshakeSecretProbe? probe = null)
    {
        // The maps are read anew: the heap may have grown since the last search.
        using var memory = ProcessMemory.Self();
        var ssl = server ? live.Server : live.Client;
        var observation = SecretSearch.Search(memory, (ulong)ssl, live.Describe(server));
        if (probe != null)
        {
            foreach (var (kind, paths) in probe.Paths(ssl))
            {
                observation.HandshakePaths[kind] = paths;
            }
        }

        return observation;
    }

    private static unsafe string VersionText(string libraryPath)
    {
        if (!NativeLibrary.TryLoad(libraryPath, out var handle)
            || !NativeLibrary.TryGetExport(handle, "OpenSSL_version", out var address))
        {
            return "libssl";
        }

        var text = ((delegate* unmanaged<int, nint>)address)(0);
        return Marshal.PtrToStringUTF8(text) ?? "libssl";
    }
}
