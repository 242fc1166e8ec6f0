using TlsScope.Sources.Sql.Mysql;

namespace TlsScope.Tests.Sql;

/// <summary>THD paths read out of accessor code: the bytes are MariaDB 10.11.19's (Debian 12
/// mariadbd), whose offsets were checked with bpftrace against a running server.</summary>
public sealed class AccessorReaderTests
{
    private static AccessorReader.Value? Read(string hex) => AccessorReader.Returned(Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal)), 0x7de2a0);

    [Fact]
    public void UserNameIsTwoLoads()
    {
        // mov rax,[rdi+0x25f8]; test rax,rax; je +4; mov rax,[rax+8]; ret
        var v = Read("48 8b 87 f8 25 00 00 48 85 c0 74 04 48 8b 40 08 c3");
        Assert.NotNull(v);
        Assert.Equal([0x25f8u, 8u], v.Loads);
        Assert.Equal(0u, v.Add);
    }

    [Fact]
    public void ClientHostIsTheFirstFieldOfTheSecurityContext()
    {
        var v = Read("48 8b 87 f8 25 00 00 48 85 c0 74 03 48 8b 00 c3");
        Assert.Equal([0x25f8u, 0u], v!.Loads);
    }

    [Fact]
    public void CurrentDbIsAnAddressInsideTheThd()
    {
        // lea rax,[rdi+0xa0]; ret: a LEX_CSTRING* into the THD
        var v = Read("48 8d 87 a0 00 00 00 c3");
        Assert.Empty(v!.Loads);
        Assert.Equal(0xa0u, v.Add);
    }

    [Fact]
    public void QueryStringWithAShortDisplacement() => Assert.Equal(0x68u, Read("48 8d 47 68 c3")!.Add);

    [Theory]
    [InlineData("48 8b 04 f7 c3")] // mov rax,[rdi+rsi*8]: an index
    [InlineData("e8 00 00 00 00 c3")] // a call
    [InlineData("8b 87 a0 00 00 00 c3")] // a 32-bit load
    [InlineData("48 8b 87 f8 25 00 00")] // no ret
    public void AnythingElseIsRefused(string hex) => Assert.Null(Read(hex));
}
