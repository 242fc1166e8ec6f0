using TlsScope.Sources.Shell;

namespace TlsScope.Tests.Shell;

/// <summary>zsh's metafication undone: Meta (0x83) then the byte XOR 0x20 (zsh.h), as verified
/// against zsh 5.9: bytes 0x83-0x9f and NUL are metafied, other non-ASCII (é) passes unchanged.</summary>
public sealed class ZshMetaTests
{
    [Theory]
    [InlineData(new byte[] { 0x83, 0xa3 }, new byte[] { 0x83 })] // Meta itself
    [InlineData(new byte[] { 0x83, 0x20 }, new byte[] { 0x00 })] // NUL
    [InlineData(new byte[] { 0x83, 0xbf }, new byte[] { 0x9f })] // the last metafied byte
    [InlineData(new byte[] { 0xc3, 0xa9 }, new byte[] { 0xc3, 0xa9 })] // é: unchanged
    [InlineData(new byte[] { (byte)'a', 0xe2, 0x83, 0xa3, 0x83, 0xb3, (byte)'\n' }, new byte[] { (byte)'a', 0xe2, 0x83, 0x93, (byte)'\n' })] // U+20D3 (e2 83 93): its 0x83 and 0x93 both metafied
    [InlineData(new byte[] { (byte)'x', 0x83 }, new byte[] { (byte)'x' })] // a Meta cut off at the end
    [InlineData(new byte[0], new byte[0])]
    public void UnmetafyGivesTheBytesAsTyped(byte[] metafied, byte[] typed) => Assert.Equal(typed, ZshMeta.Unmetafy(metafied));
}
