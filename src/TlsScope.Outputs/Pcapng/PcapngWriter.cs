using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using TlsScope.Outputs.Files;

namespace TlsScope.Outputs.Pcapng;

/// <summary>
/// Writes a pcapng file (draft-ietf-opsawg-pcapng): a section header, interface descriptions
/// with nanosecond timestamps, enhanced packet blocks and decryption secrets blocks. Not
/// thread-safe: the sinks serialise their calls.
/// </summary>
public sealed class PcapngWriter : IDisposable
{
    /// <summary>The snap length written to interface descriptions.</summary>
    public const int DefaultSnapLength = 262144;

    private const uint SectionHeaderType = 0x0A0D0D0A;
    private const uint InterfaceDescriptionType = 0x00000001;
    private const uint EnhancedPacketType = 0x00000006;
    private const uint DecryptionSecretsType = 0x0000000A;
    private const uint ByteOrderMagic = 0x1A2B3C4D;
    private const uint TlsKeyLogSecrets = 0x544C534B; // "TLSK"

    private const ushort OptComment = 1;
    private const ushort ShbOs = 3;
    private const ushort ShbUserApplication = 4;
    private const ushort IfName = 2;
    private const ushort IfTimestampResolution = 9;
    private const ushort EpbFlags = 2;
    private const byte NanosecondResolution = 9;

    private readonly Stream _output;
    private readonly string? _path;
    private readonly PcapngBlockBuilder _block = new();
    private int _interfaceCount;
    private bool _disposed;

    /// <summary>Writes the section header to <paramref name="output"/> at once.</summary>
    /// <param name="path">Named in error messages; null for a stream of no file.</param>
    public PcapngWriter(Stream output, string? path = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        _output = output;
        _path = path;
        WriteSectionHeader();
    }

    /// <summary>Creates <paramref name="path"/> with mode 0600 (it may hold keys and plaintext).</summary>
    /// <exception cref="OutputException">The file cannot be created or written.</exception>
    public static PcapngWriter Create(string path)
    {
        FileStream file = SecureFile.CreateFile(path);
        try
        {
            return new PcapngWriter(file, path);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>"TlsScope 1.2.3" from this assembly's informational version.</summary>
    public static string UserApplication { get; } = "TlsScope " + AssemblyVersion();

    /// <summary>Writes an interface description block and returns the interface's id.</summary>
    public int AddInterface(int linkType, string name, int snapLength = DefaultSnapLength)
    {
        ArgumentNullException.ThrowIfNull(name);
        _block.Begin(InterfaceDescriptionType);
        _block.UInt16((ushort)linkType);
        _block.UInt16(0); // reserved
        _block.UInt32((uint)snapLength);
        _block.Option(IfName, name);
        _block.Option(IfTimestampResolution, [NanosecondResolution]);
        Emit();
        return _interfaceCount++;
    }

    /// <summary>Writes an enhanced packet block; <paramref name="data"/> is the captured part of
    /// a packet of <paramref name="originalLength"/> bytes.</summary>
    public void WritePacket(
        int interfaceId,
        long timeUnixNs,
        ReadOnlySpan<byte> data,
        int originalLength,
        PacketDirection direction,
        string? comment)
    {
        if ((uint)interfaceId >= (uint)_interfaceCount)
        {
            throw new ArgumentOutOfRangeException(nameof(interfaceId), "no such interface was added");
        }

        ulong time = (ulong)timeUnixNs;
        _block.Begin(EnhancedPacketType);
        _block.UInt32((uint)interfaceId);
        _block.UInt32((uint)(time >> 32));
        _block.UInt32((uint)time);
        _block.UInt32((uint)data.Length);
        _block.UInt32((uint)Math.Max(originalLength, data.Length));
        _block.Padded(data);
        if (direction != PacketDirection.Unknown)
        {
            _block.Option(EpbFlags, (uint)direction);
        }

        if (!string.IsNullOrEmpty(comment))
        {
            _block.Option(OptComment, comment);
        }

        Emit();
    }

    /// <summary>Writes a decryption secrets block of NSS key log lines (without newlines).</summary>
    public void WriteKeyLog(IEnumerable<string> keyLogLines)
    {
        ArgumentNullException.ThrowIfNull(keyLogLines);
        var text = new StringBuilder();
        foreach (string line in keyLogLines)
        {
            text.Append(line).Append('\n');
        }

        byte[] secrets = Encoding.ASCII.GetBytes(text.ToString());
        _block.Begin(DecryptionSecretsType);
        _block.UInt32(TlsKeyLogSecrets);
        _block.UInt32((uint)secrets.Length);
        _block.Padded(secrets);
        Emit();
    }

    public void Flush() => Guard(() => _output.Flush());

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            Flush();
        }
        finally
        {
            _output.Dispose();
        }
    }

    private void WriteSectionHeader()
    {
        _block.Begin(SectionHeaderType);
        _block.UInt32(ByteOrderMagic);
        _block.UInt16(1); // major version
        _block.UInt16(0); // minor version
        _block.UInt64(ulong.MaxValue); // section length: not known
        _block.Option(ShbOs, RuntimeInformation.OSDescription);
        _block.Option(ShbUserApplication, UserApplication);
        Emit();
    }

    private void Emit()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ReadOnlySpan<byte> bytes = _block.Finish();
        try
        {
            _output.Write(bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw OutputException.CannotWrite(_path ?? "pcapng output", e);
        }
    }

    private void Guard(Action action)
    {
        try
        {
            action();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw OutputException.CannotWrite(_path ?? "pcapng output", e);
        }
    }

    private static string AssemblyVersion()
    {
        Assembly assembly = typeof(PcapngWriter).Assembly;
        string? version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? assembly.GetName().Version?.ToString();
        // Drop the "+commit" build metadata the SDK appends.
        return version is null ? "unknown" : version.Split('+')[0];
    }
}
