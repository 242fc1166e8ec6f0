using System.Runtime.InteropServices;
using System.Text;
using TlsScope.Bpf.Native;

namespace TlsScope.Bpf;

/// <summary>
/// Routes libbpf's own log into ours. With verbose on, everything (the verifier log included)
/// goes to the sink; otherwise warnings are kept so a load failure can be summarised.
/// </summary>
public static unsafe class LibBpfLog
{
    private const int LevelWarn = 0;
    private static readonly object Gate = new();
    private static readonly List<string> Recent = [];
    private static Action<string>? _sink;
    private static bool _verbose;
    private const int BufferSize = 4 << 20;
    private static byte* _buffer;

    /// <summary>Installs the router. <paramref name="output"/> receives whole lines.</summary>
    public static void Install(bool verboseOutput, Action<string> output)
    {
        _verbose = verboseOutput;
        _sink = output;
        LibBpf.SetPrint(&OnPrint);
    }

    /// <summary>Warnings libbpf printed since the last <see cref="Clear"/>.</summary>
    public static IReadOnlyList<string> Warnings
    {
        get
        {
            lock (Gate)
            {
                return Recent.ToArray();
            }
        }
    }

    public static void Clear()
    {
        lock (Gate)
        {
            Recent.Clear();
        }
    }

    /// <summary>The verifier's last words from a failed load: the line that names the problem.</summary>
    public static string? VerifierSummary() => VerifierSummary(Warnings);

    /// <summary>Finds, in libbpf's warnings, the verifier log's line that names the problem: the
    /// last one before "-- END PROG LOAD LOG --" that is not an instruction, a source line or the
    /// "processed N insns" tally.</summary>
    public static string? VerifierSummary(IEnumerable<string> warnings)
    {
        var lines = warnings.SelectMany(w => w.Split('\n')).Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        var end = lines.FindLastIndex(l => l.Contains("-- END PROG LOAD LOG --", StringComparison.Ordinal));
        if (end <= 0)
        {
            return null;
        }

        for (var i = end - 1; i >= 0 && i >= end - 4; i--)
        {
            var l = lines[i];
            if (!l.StartsWith("processed ", StringComparison.Ordinal) && !l.StartsWith(';') && !char.IsDigit(l[0]))
            {
                return l;
            }
        }
        return lines[end - 1];
    }

    [UnmanagedCallersOnly]
    private static int OnPrint(int level, byte* format, nint args)
    {
        try
        {
            if (level > LevelWarn && !_verbose)
            {
                return 0;
            }

            string text;
            lock (Gate)
            {
                // One message may hold a whole verifier log, whose last lines matter most.
                if (_buffer == null)
                {
                    _buffer = (byte*)NativeMemory.Alloc(BufferSize);
                }

                var n = Libc.VsnPrintf(_buffer, BufferSize, format, args);
                if (n <= 0)
                {
                    return 0;
                }

                text = Encoding.UTF8.GetString(_buffer, Math.Min(n, BufferSize - 1)).TrimEnd('\n');
            }
            if (level == LevelWarn)
            {
                lock (Gate)
                {
                    Recent.Add(text);
                    if (Recent.Count > 4096)
                    {
                        Recent.RemoveRange(0, 1024);
                    }
                }
            }
            if (_verbose)
            {
                _sink?.Invoke("libbpf: " + text);
            }
        }
        catch
        {
            // Never let an exception cross into native code.
        }
        return 0;
    }
}
