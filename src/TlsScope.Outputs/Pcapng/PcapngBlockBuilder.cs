using System.Buffers.Binary;
using System.Text;

namespace TlsScope.Outputs.Pcapng;

/// <summary>
/// Lays out one pcapng block at a time, little endian: type, total length, body, options, the
/// end-of-options marker when there were options, and the total length again. Every field and
/// option value is padded to 32 bits, as the format requires.
/// </summary>
internal sealed class PcapngBlockBuilder
{
    private const ushort EndOfOptions = 0;

    // An option's length field is 16 bits; keep the value and its padding within it.
    private const int MaxOptionValueLength = ushort.MaxValue - 3;

    private byte[] _buffer = new byte[4096];
    private int _length;
    private bool _hasOptions;

    public void Begin(uint blockType)
    {
        _length = 0;
        _hasOptions = false;
        UInt32(blockType);
        UInt32(0); // total length, filled in by Finish
    }

    public void UInt16(ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(Take(2), value);

    public void UInt32(uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Take(4), value);

    public void UInt64(ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(Take(8), value);

    /// <summary>Appends <paramref name="bytes"/> and zeros up to the next multiple of 4.</summary>
    public void Padded(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(Take(bytes.Length));
        Take(PaddingFor(bytes.Length)).Clear();
    }

    public void Option(ushort code, ReadOnlySpan<byte> value)
    {
        _hasOptions = true;
        UInt16(code);
        UInt16((ushort)value.Length);
        Padded(value);
    }

    /// <summary>A UTF-8 string option, cut at a character boundary if it would not fit.</summary>
    public void Option(ushort code, string value)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(value);
        int length = Math.Min(utf8.Length, MaxOptionValueLength);
        while (length < utf8.Length && length > 0 && (utf8[length] & 0xC0) == 0x80)
        {
            length--; // do not split a multi-byte character
        }

        Option(code, utf8.AsSpan(0, length));
    }

    public void Option(ushort code, uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        Option(code, bytes);
    }

    /// <summary>Closes the block and returns its bytes, valid until the next <see cref="Begin"/>.</summary>
    public ReadOnlySpan<byte> Finish()
    {
        if (_hasOptions)
        {
            UInt16(EndOfOptions);
            UInt16(0);
        }

        uint total = (uint)(_length + 4);
        UInt32(total);
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(4, 4), total);
        return _buffer.AsSpan(0, _length);
    }

    public static int PaddingFor(int length) => (4 - (length & 3)) & 3;

    private Span<byte> Take(int count)
    {
        if (_length + count > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + count));
        }

        Span<byte> span = _buffer.AsSpan(_length, count);
        _length += count;
        return span;
    }
}
