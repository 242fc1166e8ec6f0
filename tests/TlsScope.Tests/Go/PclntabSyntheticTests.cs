using TlsScope.Sources.Tls.Go.Binary;

namespace TlsScope.Tests.Go;

/// <summary>Each pclntab layout decoded from a hand-built table, and the Go 1.26 case whose header
/// has no text start, resolved through a hand-built runtime.moduledata.</summary>
public sealed class PclntabSyntheticTests
{
    private const ulong Text = 0x401000;
    private const ulong End = 0x401200;

    private static readonly PclntabFixture.Function[] Functions =
    [
        new("runtime.text", 0x401000),
        new("main.main", 0x401040),
        new("crypto/tls.(*Conn).Read", 0x401100),
    ];

    [Theory]
    [InlineData(PclntabHeader.MagicGo12, 1, 2)]
    [InlineData(PclntabHeader.MagicGo116, 1, 16)]
    [InlineData(PclntabHeader.MagicGo118, 1, 18)]
    [InlineData(PclntabHeader.MagicGo120, 1, 20)]
    public void EachMagic_DecodesNamesEntriesAndEnds(uint magic, int major, int minor)
    {
        var bytes = PclntabFixture.Build(magic, Functions, End, Text);

        Assert.True(PclntabHeader.TryParse(bytes, out var header, out var reason), reason);
        Assert.Equal(magic, header.Magic);
        Assert.Equal(new GoVersion(major, minor, 0), header.FirstVersion);
        Assert.Equal(Functions.Length, header.FunctionCount);
        Assert.True(Pclntab.TryDecode(bytes, 0x500000, header, header.TextStart, out var table, out reason), reason);

        Assert.Equal(Functions.Length, table!.Count);
        for (var i = 0; i < Functions.Length; i++)
        {
            Assert.Equal(Functions[i].Name, table.Name(i));
            Assert.Equal(Functions[i].Entry, table.Entry(i));
            Assert.Equal(i + 1 < Functions.Length ? Functions[i + 1].Entry : End, table.End(i));
        }
        Assert.Equal(header.HasTextRelativeEntries ? Text : 0, table.TextStart);
    }

    [Theory]
    [InlineData(PclntabHeader.MagicGo12)]
    [InlineData(PclntabHeader.MagicGo116)]
    [InlineData(PclntabHeader.MagicGo118)]
    [InlineData(PclntabHeader.MagicGo120)]
    public void Scan_FindsTheHeaderOnlyAtAnEightByteBoundary(uint magic)
    {
        var table = PclntabFixture.Build(magic, Functions, End, Text);
        // A misaligned copy first (must be passed over), then the real one at offset 64.
        var region = new byte[64 + table.Length];
        table.AsSpan(0, 40).CopyTo(region.AsSpan(3));
        table.CopyTo(region, 64);

        var found = PclntabLocator.Find(region, 0x600000);

        Assert.NotNull(found);
        Assert.Equal(64, found.Value.Offset);
        Assert.Equal(magic, found.Value.Header.Magic);
    }

    [Theory]
    [InlineData(1, 0, 1, 8)]  // pad byte not zero
    [InlineData(0, 0, 3, 8)]  // minLC not 1, 2 or 4
    [InlineData(0, 0, 1, 4)]  // 32-bit pointers
    public void BadHeaderBytes_AreRejected(byte pad, byte pad2, byte minLC, byte pointerSize)
    {
        var bytes = PclntabFixture.Build(PclntabHeader.MagicGo120, Functions, End, Text);
        bytes[4] = pad;
        bytes[5] = pad2;
        bytes[6] = minLC;
        bytes[7] = pointerSize;

        Assert.False(PclntabHeader.TryParse(bytes, out _, out _));
        Assert.Null(PclntabLocator.Find(bytes, 0x600000));
    }

    [Fact]
    public void FunctionTableBeyondTheData_IsRejected()
    {
        var bytes = PclntabFixture.Build(PclntabHeader.MagicGo120, Functions, End, Text);
        PclntabFixture.U64(bytes, 8, 1000); // nfunc far larger than the table

        Assert.True(PclntabHeader.TryParse(bytes, out var header, out _));
        Assert.False(Pclntab.TryDecode(bytes, 0, header, Text, out _, out var reason));
        Assert.Contains("beyond", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void ZeroTextStart_IsResolvedThroughModuleData()
    {
        const ulong HeaderAddress = 0x500000;
        const ulong DataAddress = 0x700000;
        var bytes = PclntabFixture.Build(PclntabHeader.MagicGo120, Functions, End, Text, headerTextStart: 0);
        Assert.True(PclntabHeader.TryParse(bytes, out var header, out _));
        Assert.Equal(0UL, header.TextStart);

        // A decoy word equal to the header's address (an unrelated pointer), then moduledata.
        var data = new byte[0x400];
        PclntabFixture.U64(data, 0x10, HeaderAddress);
        const int Module = 0x100;
        PclntabFixture.U64(data, Module, HeaderAddress);
        Slice(data, Module + 8, HeaderAddress + header.FuncNameOffset, 10);      // funcnametab
        Slice(data, Module + 80, HeaderAddress + header.PcTabOffset, 10);        // pctab
        Slice(data, Module + 104, HeaderAddress + header.PclnOffset, 10);        // pclntable
        Slice(data, Module + 128, HeaderAddress + header.PclnOffset, (ulong)Functions.Length + 1); // ftab
        PclntabFixture.U64(data, Module + 160, Functions[0].Entry);             // minpc
        PclntabFixture.U64(data, Module + 168, End);                            // maxpc
        PclntabFixture.U64(data, Module + 176, Text);                           // text
        PclntabFixture.U64(data, Module + 184, End);                            // etext
        var memory = new FakeAddressSpace().Add(HeaderAddress, bytes).Add(DataAddress, data);

        Assert.True(Pclntab.TryDecode(bytes, HeaderAddress, header, 0, out var offsets, out _));
        var text = ModuleData.FindText(memory, header, HeaderAddress, offsets!.Entry(0), offsets.End(offsets.Count - 1),
            ModuleData.WordsEqualTo(data, DataAddress, HeaderAddress));

        Assert.Equal(Text, text);
        Assert.True(Pclntab.TryDecode(bytes, HeaderAddress, header, text!.Value, out var table, out _));
        Assert.Equal(Functions.Select(f => f.Entry), Enumerable.Range(0, table!.Count).Select(table.Entry));
    }

    [Fact]
    public void ModuleData_WithTheWrongFunctionCount_IsNotAccepted()
    {
        const ulong HeaderAddress = 0x500000;
        var bytes = PclntabFixture.Build(PclntabHeader.MagicGo120, Functions, End, Text, headerTextStart: 0);
        Assert.True(PclntabHeader.TryParse(bytes, out var header, out _));
        var data = new byte[0x200];
        PclntabFixture.U64(data, 0, HeaderAddress);
        Slice(data, 8, HeaderAddress + header.FuncNameOffset, 10);
        Slice(data, 80, HeaderAddress + header.PcTabOffset, 10);
        Slice(data, 104, HeaderAddress + header.PclnOffset, 10);
        Slice(data, 128, HeaderAddress + header.PclnOffset, (ulong)Functions.Length); // one short
        PclntabFixture.U64(data, 176, Text);
        var memory = new FakeAddressSpace().Add(HeaderAddress, bytes).Add(0x700000, data);

        Assert.Null(ModuleData.FindText(memory, header, HeaderAddress, 0, End - Text, [0x700000UL]));
    }

    private static void Slice(byte[] data, int at, ulong pointer, ulong length)
    {
        PclntabFixture.U64(data, at, pointer);
        PclntabFixture.U64(data, at + 8, length);
        PclntabFixture.U64(data, at + 16, length);
    }
}
