using System.Security.Cryptography;
using TlsScope.Bpf.Elf;
using TlsScope.Sources.Tls.Keys.Layout;
using TlsScope.Sources.Tls.Keys.Calibration;

namespace TlsScope.Sources.Tls.Keys.Resolution;

/// <summary>
/// Finds the key layout of a TLS library file: a shared library is calibrated once per build
/// (cached by ELF build id, else SHA-256 of the file); an executable (statically linked, e.g.
/// node), or a library whose calibration failed, gets the known layout of its OpenSSL version
/// series. Thread-safe; concurrent resolutions are serialised.
/// </summary>
public sealed class LayoutResolver(LayoutCache? cache = null, ILayoutCalibrator? calibrator = null)
{
    private readonly LayoutCache _cache = cache ?? new LayoutCache();
    private readonly ILayoutCalibrator _calibrator = calibrator ?? new HelperProcessCalibrator();
    private readonly Lock _lock = new();

    /// <param name="symbols">The file's symbols when the caller parsed them already (the capture
    /// has, for every library it attaches): they are not read again.</param>
    /// <exception cref="KeyLayoutException">No layout; the message is one line naming the file.</exception>
    public KeyLayout Resolve(string libraryPath, ElfSymbols? symbols = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(libraryPath);
        lock (_lock)
        {
            return ResolveLocked(libraryPath, symbols ?? OpenElf(libraryPath));
        }
    }

    /// <summary><see cref="Resolve"/> without the exception: null and the one-line reason.</summary>
    public KeyLayout? TryResolve(string libraryPath, out string? error, ElfSymbols? symbols = null)
    {
        try
        {
            error = null;
            return Resolve(libraryPath, symbols);
        }
        catch (KeyLayoutException e)
        {
            error = e.Message;
            return null;
        }
    }

    private KeyLayout ResolveLocked(string path, ElfSymbols elf)
    {
        if (!elf.TryGetFunction("SSL_read", out _) || !elf.TryGetFunction("SSL_write", out _))
        {
            throw Fail(path, "no SSL_read/SSL_write (not an OpenSSL or BoringSSL build)");
        }

        string? calibrationError = null;
        if (IsSharedLibrary(path) && TrustedFile.Check(path) is { } untrusted)
        {
            calibrationError = $"not calibrated: {untrusted} (loading it would run its code as root)";
        }
        else if (IsSharedLibrary(path))
        {
            var id = elf.BuildId ?? Sha256(path);
            if (_cache.Load(id) is { } cached)
            {
                return cached;
            }

            try
            {
                var layout = _calibrator.Calibrate(path);
                _cache.Store(id, layout);
                return layout;
            }
            catch (CalibrationException e)
            {
                calibrationError = e.Message;
            }
        }
        var version = ReadVersion(path);
        if (version != null && KnownLayouts.Find(version) is { } known)
        {
            return known;
        }

        var why = calibrationError != null ? $"calibration failed ({calibrationError})" : "not a shared library TlsScope can calibrate";
        var table = version != null ? $"version '{version}' is not in the table" : "no OpenSSL version text in it";
        throw Fail(path, $"{why}, and {table}");
    }

    private static ElfSymbols OpenElf(string path)
    {
        try
        {
            return ElfSymbols.Open(path);
        }
        catch (FileNotFoundException)
        {
            throw Fail(path, "file not found");
        }
        catch (DirectoryNotFoundException)
        {
            throw Fail(path, "file not found");
        }
        catch (UnauthorizedAccessException)
        {
            throw Fail(path, "permission denied");
        }
        catch (ElfFormatException e)
        {
            throw Fail(path, e.Message.StartsWith(path + ": ", StringComparison.Ordinal) ? e.Message[(path.Length + 2)..] : e.Message);
        }
        catch (IOException e)
        {
            throw Fail(path, e.Message.Split('\n')[0]);
        }
    }

    /// <summary>Only a shared object can be dlopened by the calibration helper; an executable
    /// (even a position-independent one) cannot.</summary>
    private static bool IsSharedLibrary(string path)
    {
        var name = Path.GetFileName(path);
        return name.EndsWith(".so", StringComparison.Ordinal) || name.Contains(".so.", StringComparison.Ordinal);
    }

    /// <summary>The version text of the file, or of the libcrypto next to a libssl (OpenSSL
    /// keeps it there: libssl.so.3 -> libcrypto.so.3).</summary>
    private static string? ReadVersion(string path)
    {
        var name = Path.GetFileName(path);
        var crypto = name.StartsWith("libssl", StringComparison.Ordinal)
            ? Path.Combine(Path.GetDirectoryName(path) ?? "", "libcrypto" + name["libssl".Length..])
            : null;
        foreach (var file in (ReadOnlySpan<string?>)[path, crypto])
        {
            try
            {
                if (file != null && File.Exists(file) && VersionScanner.Find(file) is { } version)
                {
                    return version;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
        return null;
    }

    private static string Sha256(string path)
    {
        using var file = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(file));
    }

    private static KeyLayoutException Fail(string path, string reason) => new($"no key layout for {path}: {reason}");
}
