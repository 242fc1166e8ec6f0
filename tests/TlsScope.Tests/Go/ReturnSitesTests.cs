using TlsScope.Sources.Tls.Go.Binary;

namespace TlsScope.Tests.Go;

/// <summary>The RET finder on hand-assembled x86-64, shaped like Go's code.</summary>
public sealed class ReturnSitesTests
{
    private const ulong Entry = 0x401000;

    [Fact]
    public void GoPrologueAndEpilogues_AreFoundWithoutComplaint()
    {
        byte[] code =
        [
            0x49, 0x3b, 0x66, 0x10,             // +0  cmp rsp, [r14+0x10]
            0x76, 0x0c,                         // +4  jbe +0x12 (stack check path)
            0x48, 0x83, 0xec, 0x18,             // +6  sub rsp, 0x18
            0x48, 0x83, 0xc4, 0x18,             // +10 add rsp, 0x18
            0xc3,                               // +14 ret
            0x31, 0xc0,                         // +15 xor eax, eax
            0xc3,                               // +17 ret
            0xe8, 0x00, 0x10, 0x00, 0x00,       // +18 call runtime.morestack_noctxt (outside)
            0xeb, 0xe7,                         // +23 jmp entry
            0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, // INT3 padding
        ];

        var result = ReturnSites.Find(code, Entry);

        Assert.True(result.IsComplete, result.Problem);
        Assert.Null(result.Problem);
        Assert.Equal([14UL, 17UL], result.Offsets);
    }

    [Fact]
    public void TailJumpOutOfTheFunction_IsReported()
    {
        byte[] code =
        [
            0x48, 0x85, 0xc0,                   // test rax, rax
            0x74, 0x01,                         // je +1
            0xc3,                               // ret
            0xe9, 0x00, 0x20, 0x00, 0x00,       // jmp elsewhere (tail call)
        ];

        var result = ReturnSites.Find(code, Entry);

        Assert.Equal(ReturnSiteProblem.TailJump, result.Kind);
        Assert.NotNull(result.Problem);
        Assert.Equal([5UL], result.Offsets);
    }

    [Fact]
    public void NoRet_IsReported()
    {
        byte[] code = [0x31, 0xc0, 0x0f, 0x0b]; // xor eax, eax; ud2

        var result = ReturnSites.Find(code, Entry);

        Assert.Equal(ReturnSiteProblem.NoReturn, result.Kind);
        Assert.Empty(result.Offsets);
    }

    [Fact]
    public void InstructionCutByTheEnd_IsReported()
    {
        byte[] code = [0xc3, 0x48, 0x8b]; // ret; then a mov missing its operands

        var result = ReturnSites.Find(code, Entry);

        Assert.Equal(ReturnSiteProblem.BadInstruction, result.Kind);
    }

    [Fact]
    public void JumpTable_IsNotATailJump()
    {
        byte[] code =
        [
            0xff, 0xe0,                         // jmp rax (a switch's jump table)
            0xc3,                               // ret
        ];

        Assert.True(ReturnSites.Find(code, Entry).IsComplete);
    }
}
