using System.Buffers.Binary;
using System.Text;
using TlsScope.Bpf.Elf;

namespace TlsScope.Sources.Tls.Go.Binary;

/// <summary>
/// What the Go linker records in <c>.go.buildinfo</c>: the toolchain version ("go1.19.8") and the
/// module information text that <c>go version -m</c> prints (lines "path", "mod", "dep", "build").
/// </summary>
public sealed class GoBuildInfo
{
    /// <summary>"\xff Go buildinf:": the header's first 14 bytes; the header is 32 bytes, 16-aligned.</summary>
    internal static ReadOnlySpan<byte> Magic => [0xff, (byte)' ', (byte)'G', (byte)'o', (byte)' ', (byte)'b', (byte)'u', (byte)'i', (byte)'l', (byte)'d', (byte)'i', (byte)'n', (byte)'f', (byte)':'];

    internal const int HeaderSize = 32;
    internal const int Alignment = 16;

    private const byte FlagBigEndian = 1;
    private const byte FlagInlineStrings = 2; // Go 1.18+: varint-prefixed strings follow the header

    // Sentinels the linker wraps the module text in (16 bytes each side); only their length matters.
    private const int ModInfoSentinelLength = 16;

    // Version and module strings are short; a longer one is a damaged header.
    private const ulong MaxStringLength = 1 << 20;

    internal GoBuildInfo(string version, string? moduleInfo)
    {
        Version = version;
        ModuleInfo = moduleInfo;
        ParsedVersion = GoVersion.TryParse(version, out var parsed) ? parsed : null;
        Settings = ParseSettings(moduleInfo);
    }

    /// <summary>The toolchain's version string, as <c>go version</c> prints it.</summary>
    public string Version { get; }

    /// <summary><see cref="Version"/> as numbers; null for development toolchains.</summary>
    public GoVersion? ParsedVersion { get; }

    /// <summary><see cref="ParsedVersion"/> as a <see cref="System.Version"/> (major.minor.patch), or null.</summary>
    public System.Version? Release => ParsedVersion is { } v ? new System.Version(v.Major, v.Minor, v.Patch) : null;

    /// <summary>The module text (tab-separated lines), or null when the binary was built without module support.</summary>
    public string? ModuleInfo { get; }

    /// <summary>The "path" line: the main package's import path.</summary>
    public string? Path => Line("path")?.FirstOrDefault();

    /// <summary>The "mod" line: the main module's path, version and (optional) sum.</summary>
    public IReadOnlyList<string>? MainModule => Line("mod");

    /// <summary>The "build" lines as key/value (e.g. "-buildmode" → "pie", "CGO_ENABLED" → "1").</summary>
    public IReadOnlyDictionary<string, string> Settings { get; }

    /// <summary>Reads the build info of an ELF image: the <c>.go.buildinfo</c> section, or without
    /// one, the magic at a 16-byte boundary in a writable segment. Null when there is none.</summary>
    /// <exception cref="ElfFormatException">The header is there but damaged.</exception>
    public static GoBuildInfo? Read(ElfImage image)
    {
        var blob = Find(image, out var address);
        return blob is null ? null : Parse(blob, new ElfAddressSpace(image), image.Path, address);
    }

    /// <summary>Opens <paramref name="path"/> and reads its build info; null when it has none.</summary>
    /// <exception cref="ElfFormatException">Not an x86-64 ELF file, or damaged.</exception>
    public static GoBuildInfo? TryRead(string path)
    {
        using var image = ElfImage.Open(path);
        return Read(image);
    }

    /// <summary>The bytes from the header on (at most the section or the rest of the segment).</summary>
    internal static byte[]? Find(ElfImage image, out ulong address)
    {
        address = 0;
        if (image.FindSection(".go.buildinfo") is { } section && section.Size >= HeaderSize)
        {
            var bytes = image.ReadSection(section);
            if (bytes.AsSpan().StartsWith(Magic))
            {
                address = section.Address;
                return bytes;
            }
        }

        if (image.Sections.Count > 0 && image.FindSection(".go.buildinfo") is not null)
        {
            return null;
        }

        foreach (var load in image.LoadSegments)
        {
            if (!load.IsWritable || load.FileSize < HeaderSize)
            {
                continue;
            }

            var bytes = image.ReadFile(load.Offset, load.FileSize);
            var at = FindMagic(bytes, load.VirtualAddress);
            if (at >= 0)
            {
                address = load.VirtualAddress + (ulong)at;
                return bytes[at..];
            }
        }
        return null;
    }

    /// <summary>Index of the magic at an address that is a multiple of 16, or -1.</summary>
    internal static int FindMagic(ReadOnlySpan<byte> bytes, ulong address)
    {
        var from = 0;
        while (from < bytes.Length)
        {
            var hit = bytes[from..].IndexOf(Magic);
            if (hit < 0)
            {
                return -1;
            }

            var at = from + hit;
            if ((address + (ulong)at) % Alignment == 0 && bytes.Length - at >= HeaderSize)
            {
                return at;
            }
            from = at + 1;
        }
        return -1;
    }

    /// <summary>Decodes a header and its strings; <paramref name="memory"/> resolves the older,
    /// pointer-based encoding (before Go 1.18).</summary>
    internal static GoBuildInfo Parse(ReadOnlySpan<byte> blob, IAddressSpace memory, string path, ulong address)
    {
        if (blob.Length < HeaderSize || !blob.StartsWith(Magic))
        {
            throw new ElfFormatException(path, "Go build info: bad header");
        }

        var pointerSize = blob[14];
        var flags = blob[15];
        string version;
        string? modInfo;
        if ((flags & FlagInlineStrings) != 0)
        {
            var rest = blob[HeaderSize..];
            version = InlineString(ref rest, path);
            modInfo = InlineString(ref rest, path);
        }
        else
        {
            if (pointerSize != 8 || (flags & FlagBigEndian) != 0)
            {
                throw new ElfFormatException(path, $"Go build info: unsupported pointer size {pointerSize} or byte order (flags 0x{flags:x})");
            }

            version = PointedString(memory, address + 16, path);
            modInfo = PointedString(memory, address + 24, path);
        }

        if (version.Length == 0)
        {
            throw new ElfFormatException(path, "Go build info: empty version");
        }

        return new GoBuildInfo(version, StripSentinels(modInfo));
    }

    private static string InlineString(ref ReadOnlySpan<byte> rest, string path)
    {
        ulong length = 0;
        var shift = 0;
        var used = 0;
        while (true)
        {
            if (used >= rest.Length || shift > 63)
            {
                throw new ElfFormatException(path, "Go build info: truncated string length");
            }

            var b = rest[used++];
            length |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80)
            {
                break;
            }
            shift += 7;
        }

        if (length > (ulong)(rest.Length - used))
        {
            throw new ElfFormatException(path, $"Go build info: string of {length} bytes runs past the end");
        }

        var text = Encoding.UTF8.GetString(rest.Slice(used, (int)length));
        rest = rest[(used + (int)length)..];
        return text;
    }

    /// <summary>A string through a pointer to a Go string header {data pointer, length}.</summary>
    private static string PointedString(IAddressSpace memory, ulong at, string path)
    {
        Span<byte> length = stackalloc byte[8];
        if (!memory.TryReadPointer(at, out var header) || header == 0)
        {
            return "";
        }

        if (!memory.TryReadPointer(header, out var data) || !memory.TryRead(header + 8, length))
        {
            throw new ElfFormatException(path, $"Go build info: string header at 0x{header:x} is not in the file");
        }

        var size = BinaryPrimitives.ReadUInt64LittleEndian(length);
        if (size > MaxStringLength)
        {
            throw new ElfFormatException(path, $"Go build info: string of {size} bytes");
        }

        if (size == 0)
        {
            return ""; // an empty string's data pointer may be anything, nil included
        }

        var bytes = new byte[size];
        if (!memory.TryRead(data, bytes))
        {
            throw new ElfFormatException(path, $"Go build info: string at 0x{data:x} is not in the file");
        }
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>The linker brackets the module text with 16-byte sentinels, the last preceded by a newline.</summary>
    private static string? StripSentinels(string? modInfo)
    {
        if (string.IsNullOrEmpty(modInfo))
        {
            return null;
        }

        var bytes = Encoding.UTF8.GetBytes(modInfo);
        return bytes.Length >= 2 * ModInfoSentinelLength + 1 && bytes[^(ModInfoSentinelLength + 1)] == '\n'
            ? Encoding.UTF8.GetString(bytes, ModInfoSentinelLength, bytes.Length - 2 * ModInfoSentinelLength)
            : modInfo;
    }

    private IReadOnlyList<string>? Line(string key)
    {
        foreach (var line in (ModuleInfo ?? "").Split('\n'))
        {
            var fields = line.Split('\t');
            if (fields[0] == key)
            {
                return fields[1..];
            }
        }
        return null;
    }

    private static Dictionary<string, string> ParseSettings(string? modInfo)
    {
        var settings = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in (modInfo ?? "").Split('\n'))
        {
            if (!line.StartsWith("build\t", StringComparison.Ordinal))
            {
                continue;
            }

            var setting = line["build\t".Length..];
            var eq = setting.IndexOf('=');
            if (eq > 0)
            {
                settings[setting[..eq]] = Unquote(setting[(eq + 1)..]);
            }
        }
        return settings;
    }

    // Values with spaces are Go-quoted ("-ldflags=\"-s -w\""); plain escapes are enough here.
    private static string Unquote(string value) =>
        value.Length >= 2 && value[0] == '"' && value[^1] == '"'
            ? value[1..^1].Replace("\\\"", "\"", StringComparison.Ordinal).Replace("\\\\", "\\", StringComparison.Ordinal)
            : value;

    public override string ToString() => Version;
}
