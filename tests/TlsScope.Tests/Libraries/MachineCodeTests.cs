using Iced.Intel;
using TlsScope.Sources.Tls.Probes;

namespace TlsScope.Tests.Libraries;

/// <summary>The finders' first-instruction checks see past a CET landing pad: every exported
/// function of a -fcf-protection build (Ubuntu, Fedora, Debian 13) starts with endbr64.</summary>
public sealed class MachineCodeTests
{
    // mov [rdi+0x660], rsi; ret: gnutls_session_set_keylog_function on Debian 12's 3.7.9
    private static readonly byte[] Store = [0x48, 0x89, 0xB7, 0x60, 0x06, 0x00, 0x00, 0xC3];

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { 0xF3, 0x0F, 0x1E, 0xFA })]              // endbr64
    [InlineData(new byte[] { 0xF3, 0x0F, 0x1E, 0xFA, 0x0F, 0x1F, 0x00 })] // endbr64; nop dword [rax]
    public void FirstReal_IsTheStore_WhateverPrecedesIt(byte[] prefix)
    {
        var code = MachineCode.Decode([.. prefix, .. Store], 0x52b80);

        var first = MachineCode.FirstReal(code);

        Assert.Equal(Mnemonic.Mov, first.Mnemonic);
        Assert.Equal(Register.RDI, first.MemoryBase);
        Assert.Equal(0x660ul, first.MemoryDisplacement64);
        Assert.Equal(0x52b80ul + (ulong)prefix.Length, first.IP);
    }

    [Fact]
    public void Decode_StopsAtTheFirstInvalidInstruction()
    {
        var code = MachineCode.Decode([0xC3, 0x06, 0xC3], 0x1000); // ret; (push es: invalid in 64-bit); ret

        Assert.Equal(Mnemonic.Ret, Assert.Single(code).Mnemonic);
    }
}
