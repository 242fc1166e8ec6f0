using System.Collections.Concurrent;
using System.Globalization;
using TlsScope.Bpf.Elf;
using TlsScope.Engine.Files;
using TlsScope.Sources.Tls.Keys.Calibration;
using TlsScope.Sources.Tls.Keys.Resolution;

namespace TlsScope.Sources.Tls.Nss;

/// <summary>
/// Where NSS's SSL layer methods (ssl_Close, ssl_Read, ssl_Write, ssl_Recv, ssl_Send) are in a
/// libssl3: asked of the library itself in a helper process (<see cref="NssMethodsHelper"/>),
/// checked against the file (each in .text, all distinct), kept per build id next to the key
/// layouts so that a library is asked once. Only TLS sockets reach these methods, whatever NSPR
/// layers sit above them (Firefox's PSM layer calls the lower methods directly), never files or pipes.
/// </summary>
public static class NssMethods
{
    public const string Close = "tlsscope:nss:ssl_Close";
    public const string Read = "tlsscope:nss:ssl_Read";
    public const string Write = "tlsscope:nss:ssl_Write";
    public const string Recv = "tlsscope:nss:ssl_Recv";
    public const string Send = "tlsscope:nss:ssl_Send";

    /// <summary>Raised when what is asked of the helper changes.</summary>
    private const int FormatVersion = 1;

    private static readonly Dictionary<string, string> NameOf = new()
    {
        ["close"] = Close, ["read"] = Read, ["write"] = Write, ["recv"] = Recv, ["send"] = Send,
    };

    private static readonly ConcurrentDictionary<string, string> Problems = new();
    private const int MaxProblemsKept = 256; // the reasons Explain gives, by path

    /// <summary>Null when the helper may load the file, else why not; replaced by tests.</summary>
    public static Func<string, string?> Trusted { get; set; } = TrustedFile.Check;

    /// <summary>Asks the library; replaced by tests.</summary>
    public static Func<string, string> Ask { get; set; } = path =>
        HelperProcessCalibrator.RunHelper(HelperProcessCalibrator.HelperCommand(NssMethodsHelper.Command, path), HelperProcessCalibrator.DefaultTimeout);

    /// <summary>The family's function reader: null for a file that is not NSS's libssl3; the
    /// file's symbols plus the five methods when they were found, else the symbols alone (the
    /// family then does not match, and <see cref="Explain"/> says why).</summary>
    public static ElfSymbols? AddTo(string path, ElfSymbols elf)
    {
        if (!elf.HasFunctions("SSL_ImportFD"))
        {
            return null;
        }

        try
        {
            var found = Find(path, elf);
            Problems.TryRemove(path, out _);
            return elf.WithFunctions(found);
        }
        catch (Exception e) when (e is CalibrationException or ElfFormatException or IOException or FormatException or UnauthorizedAccessException)
        {
            if (Problems.Count >= MaxProblemsKept)
            {
                Problems.Clear(); // a host full of broken copies must not grow this without end
            }

            Problems[path] = e.Message;
            return elf;
        }
    }

    public static string? Explain(string path) =>
        Problems.TryGetValue(path, out var why) ? $"NSS's SSL layer methods not found: {why}" : null;

    /// <summary>Where answers are kept: with the key layouts; replaced by tests.</summary>
    public static Func<string> CacheDirectory { get; set; } = () => new LayoutCache().Directory;

    /// <summary>The five methods as functions of the file: cached, or asked and then cached. Only
    /// a file root alone could have written is loaded by the helper (it runs the library's code)
    /// and has its answer cached; any other (a container's copy, say) may use a cached answer of
    /// the same build, checked against its own code like every answer.</summary>
    public static List<ElfFunction> Find(string path, ElfSymbols elf)
    {
        var cacheName = elf.BuildId is { } id ? $"{id}.nss-methods.v{FormatVersion}" : null;
        var cache = CacheDirectory();
        var text = cacheName is not null ? PrivateDirectory.Read(cache, cacheName) : null;
        var fresh = text is null;
        if (fresh && Trusted(path) is { } untrusted)
        {
            throw new CalibrationException($"not loaded to ask it: {untrusted}");
        }

        text ??= Ask(path);
        var found = Check(path, Parse(text));
        if (fresh && cacheName is not null)
        {
            PrivateDirectory.Write(cache, cacheName, text);
        }

        return found;
    }

    /// <summary>"name 0xADDRESS" lines, one per method.</summary>
    public static Dictionary<string, ulong> Parse(string text)
    {
        var methods = new Dictionary<string, ulong>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = line.Split(' ');
            if (parts.Length != 2 || !NameOf.ContainsKey(parts[0]) || !parts[1].StartsWith("0x", StringComparison.Ordinal)
                || !ulong.TryParse(parts[1].AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var address))
            {
                throw new FormatException($"unexpected helper output '{line}'");
            }

            methods[parts[0]] = address;
        }

        return NameOf.Keys.All(methods.ContainsKey) ? methods : throw new FormatException("the helper named too few methods");
    }

    private static List<ElfFunction> Check(string path, Dictionary<string, ulong> methods)
    {
        using var image = ElfImage.Open(path);
        var text = image.FindSection(".text") ?? throw new ElfFormatException(path, "no .text section");
        if (methods.Values.Distinct().Count() != methods.Count)
        {
            throw new FormatException("two methods at one address");
        }

        var functions = new List<ElfFunction>();
        foreach (var (name, address) in methods)
        {
            if (!text.Contains(address) || !image.TryMapToFile(address, out var offset))
            {
                throw new FormatException($"{name} at 0x{address:x} is not in the library's code");
            }

            functions.Add(new ElfFunction(NameOf[name], address, 0, offset));
        }

        return functions;
    }
}
