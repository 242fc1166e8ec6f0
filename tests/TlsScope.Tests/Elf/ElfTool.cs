using TlsScope.Tests.Tools;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace TlsScope.Tests.Elf;

/// <summary>
/// Independent answers from binutils (readelf, objdump) and gcc, to check ElfSymbols against.
/// Output is parsed with LC_ALL=C so that the format does not depend on the machine's locale.
/// </summary>
internal static partial class ElfTool
{
    public const string LibSsl = "/usr/lib/x86_64-linux-gnu/libssl.so.3";
    public const string LibC = "/usr/lib/x86_64-linux-gnu/libc.so.6";
    public const string Node = "/usr/bin/node";

    /// <summary>The file a path finally points at, following symlinks.</summary>
    public static string RealPath(string path) =>
        new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? Path.GetFullPath(path);

    public static string? FindProgram(string name) => ExternalProgram.Find(name);

    public static string Run(string program, params string[] args) => ExternalProgram.Run(program, args);

    public sealed record Symbol(string Table, string RawName, string Name, ulong Value, string Size, string Type, string Bind, string SectionIndex);

    /// <summary>Symbols as printed by <c>readelf -sW</c> (all tables) or <c>readelf -W --dyn-syms</c> (.dynsym only).</summary>
    public static List<Symbol> ReadelfSymbols(string path, bool dynamicOnly)
    {
        var output = dynamicOnly ? Run("readelf", "-W", "--dyn-syms", path) : Run("readelf", "-sW", "--dyn-syms", path);
        var symbols = new List<Symbol>();
        var table = "";
        foreach (var line in output.Split('\n'))
        {
            var header = SymbolTableHeader().Match(line);
            if (header.Success)
            {
                table = header.Groups[1].Value;
                continue;
            }
            // "   670: 0000000000035470   131 FUNC    GLOBAL DEFAULT   13 SSL_read@@OPENSSL_3.0.0"
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 8 || !fields[0].EndsWith(':') || !fields[0][..^1].All(char.IsAsciiDigit))
            {
                continue;
            }

            var raw = fields[7];
            var at = raw.IndexOf('@');
            symbols.Add(new Symbol(table, raw, at < 0 ? raw : raw[..at], ulong.Parse(fields[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                fields[2], fields[3], fields[4], fields[6]));
        }
        Assert.NotEmpty(symbols);
        return symbols;
    }

    public sealed record Load(ulong Offset, ulong VirtualAddress, ulong FileSize, bool Executable);

    /// <summary>PT_LOAD rows of <c>readelf -lW</c>.</summary>
    public static List<Load> ReadelfLoads(string path)
    {
        var loads = new List<Load>();
        foreach (var line in Run("readelf", "-lW", path).Split('\n'))
        {
            // "  LOAD           0x01f000 0x000000000001f000 0x000000000001f000 0x05cff1 0x05cff1 R E 0x1000"
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 8 || fields[0] != "LOAD")
            {
                continue;
            }

            var flags = string.Concat(fields[6..^1]);
            loads.Add(new Load(Hex(fields[1]), Hex(fields[2]), Hex(fields[4]), flags.Contains('E')));
        }
        Assert.NotEmpty(loads);
        return loads;
    }

    /// <summary>The file offset of a virtual address, computed from readelf's PT_LOAD rows.</summary>
    public static ulong ExpectedFileOffset(string path, ulong address)
    {
        var load = Assert.Single(ReadelfLoads(path),
            l => l.Executable && address >= l.VirtualAddress && address < l.VirtualAddress + l.FileSize);
        return address - load.VirtualAddress + load.Offset;
    }

    /// <summary>The "Build ID:" line of <c>readelf -n</c>, or null.</summary>
    public static string? ReadelfBuildId(string path)
    {
        var match = BuildIdLine().Match(Run("readelf", "-n", path));
        return match.Success ? match.Groups[1].Value : null;
    }

    /// <summary>
    /// The machine code objdump disassembles at [address, address + count). objdump finds the bytes
    /// through the section headers, not the program headers, so it is an independent check of a
    /// file offset computed from PT_LOAD.
    /// </summary>
    public static byte[] ObjdumpBytes(string path, ulong address, int count)
    {
        var output = Run("objdump", "-d",
            $"--start-address=0x{address:x}", $"--stop-address=0x{address + (ulong)count:x}", path);
        var bytes = new List<byte>();
        foreach (var line in output.Split('\n'))
        {
            // " 1a6b181:\t48 89 e5             \tmov    %rsp,%rbp"
            var match = DisassemblyLine().Match(line);
            if (!match.Success)
            {
                continue;
            }

            foreach (var hex in match.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                bytes.Add(byte.Parse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture));
            }
        }
        Assert.True(bytes.Count >= count, $"objdump printed {bytes.Count} bytes at 0x{address:x} in {path}:\n{output}");
        return bytes.Take(count).ToArray();
    }

    /// <summary>Reads bytes straight from the file.</summary>
    public static byte[] FileBytes(string path, ulong offset, int count)
    {
        using var file = File.OpenHandle(path);
        var buffer = new byte[count];
        Assert.Equal(count, RandomAccess.Read(file, buffer, (long)offset));
        return buffer;
    }

    private static ulong Hex(string text) =>
        ulong.Parse(text.StartsWith("0x", StringComparison.Ordinal) ? text[2..] : text, NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^Symbol table '([^']+)'")]
    private static partial Regex SymbolTableHeader();

    [GeneratedRegex(@"Build ID: ([0-9a-f]+)")]
    private static partial Regex BuildIdLine();

    [GeneratedRegex(@"^\s*[0-9a-f]+:\t((?:[0-9a-f]{2} )+)")]
    private static partial Regex DisassemblyLine();
}

/// <summary>A directory under /tmp that is removed with everything in it on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory() => Path = Directory.CreateTempSubdirectory("tlsscope-elf-").FullName;

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover temp directory must not fail a test.
        }
    }
}
