using System.Text;
using TlsScope.Bpf.Elf;
using TlsScope.Sources.Tls.Go.Binary;

namespace TlsScope.Tests.Go;

/// <summary>Both build info encodings from hand-built headers, and the version parser.</summary>
public sealed class GoBuildInfoTests
{
    private const string ModText = "path\texample.com/gopeer\nmod\texample.com/gopeer\t(devel)\t\nbuild\t-buildmode=pie\nbuild\t-ldflags=\"-s -w\"\nbuild\tCGO_ENABLED=1\n";

    // The 16 bytes either side are sentinels; their content does not matter to the reader.
    private static readonly string Wrapped = new string('A', 16) + ModText + new string('B', 16);

    [Fact]
    public void InlineStrings_Go118()
    {
        var blob = new List<byte>(Header(flags: 2));
        foreach (var text in new[] { "go1.19.8", Wrapped })
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            for (var n = (ulong)bytes.Length; ; n >>= 7)
            {
                blob.Add((byte)(n < 0x80 ? n : (n & 0x7f) | 0x80));
                if (n < 0x80)
                {
                    break;
                }
            }
            blob.AddRange(bytes);
        }

        var info = GoBuildInfo.Parse(blob.ToArray(), new FakeAddressSpace(), "test", 0x1000);

        AssertParsed(info);
    }

    [Fact]
    public void PointedStrings_BeforeGo118()
    {
        // Header at 0x1000 points at two string headers at 0x2000, whose data is at 0x3000.
        const ulong HeaderAt = 0x1000, StringHeaders = 0x2000, Data = 0x3000;
        var header = Header(flags: 0);
        PclntabFixture.U64(header, 16, StringHeaders);
        PclntabFixture.U64(header, 24, StringHeaders + 16);
        var version = Encoding.UTF8.GetBytes("go1.15.15");
        var mod = Encoding.UTF8.GetBytes(Wrapped);
        var strings = new byte[32];
        PclntabFixture.U64(strings, 8, (ulong)version.Length);
        PclntabFixture.U64(strings, 24, (ulong)mod.Length);
        var memory = new FakeAddressSpace().Add(HeaderAt, header).Add(StringHeaders, strings).Add(Data, [.. version, .. mod]);
        // The data pointers as a PIE has them: zero in the file, set by R_X86_64_RELATIVE.
        memory.Relocations[StringHeaders] = Data;
        memory.Relocations[StringHeaders + 16] = Data + (ulong)version.Length;

        var info = GoBuildInfo.Parse(header, memory, "test", HeaderAt);

        Assert.Equal("go1.15.15", info.Version);
        Assert.Equal(new GoVersion(1, 15, 15), info.ParsedVersion);
        Assert.Equal(ModText, info.ModuleInfo);
    }

    [Fact]
    public void StringLengthPastTheEnd_IsAFormatError()
    {
        byte[] blob = [.. Header(flags: 2), 100, (byte)'g', (byte)'o'];

        Assert.Throws<ElfFormatException>(() => GoBuildInfo.Parse(blob, new FakeAddressSpace(), "test", 0));
    }

    [Fact]
    public void Magic_IsFoundOnlyAtSixteenByteBoundaries()
    {
        var region = new byte[128];
        Header(2).CopyTo(region, 8);  // misaligned
        Header(2).CopyTo(region, 64);

        Assert.Equal(64, GoBuildInfo.FindMagic(region, 0x4000));
        Assert.Equal(-1, GoBuildInfo.FindMagic(region.AsSpan(0, 60), 0x4000));
    }

    [Theory]
    [InlineData("go1.19.8", 1, 19, 8)]
    [InlineData("go1.20", 1, 20, 0)]
    [InlineData("go1.21rc2", 1, 21, 0)]
    [InlineData("go1.24.1 X:nosynchashtriggers", 1, 24, 1)]
    [InlineData("go1.26.10", 1, 26, 10)]
    public void Versions_Parse(string text, int major, int minor, int patch)
    {
        Assert.True(GoVersion.TryParse(text, out var version));
        Assert.Equal(new GoVersion(major, minor, patch), version);
    }

    [Theory]
    [InlineData("devel go1.23-abcdef")]
    [InlineData("go")]
    [InlineData("1.19")]
    public void NonReleaseVersions_DoNotParse(string text) => Assert.False(GoVersion.TryParse(text, out _));

    private static void AssertParsed(GoBuildInfo info)
    {
        Assert.Equal("go1.19.8", info.Version);
        Assert.Equal(new GoVersion(1, 19, 8), info.ParsedVersion);
        Assert.Equal(new Version(1, 19, 8), info.Release);
        Assert.Equal(ModText, info.ModuleInfo);
        Assert.Equal("example.com/gopeer", info.Path);
        Assert.Equal("example.com/gopeer", info.MainModule![0]);
        Assert.Equal("pie", info.Settings["-buildmode"]);
        Assert.Equal("-s -w", info.Settings["-ldflags"]);
        Assert.Equal("1", info.Settings["CGO_ENABLED"]);
    }

    private static byte[] Header(byte flags)
    {
        var header = new byte[32];
        GoBuildInfo.Magic.CopyTo(header);
        header[14] = 8;
        header[15] = flags;
        return header;
    }
}
