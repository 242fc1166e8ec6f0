using TlsScope.Bpf.Elf;

namespace TlsScope.Tests.Elf;

/// <summary>
/// ElfSymbols against small programs compiled by gcc at test time, for the cases the system
/// libraries do not cover: functions only in .symtab, and non-PIE executables whose virtual
/// addresses differ from their file offsets. Each test returns early if gcc is not installed.
/// </summary>
public sealed class ElfSymbolsCompiledTests : IDisposable
{
    // -O0 with a frame pointer and no CET makes every function start with push %rbp; mov %rsp,%rbp.
    private static readonly string[] CodeFlags = ["-O0", "-fno-omit-frame-pointer", "-fcf-protection=none"];
    private static readonly byte[] FramePointerPrologue = [0x55, 0x48, 0x89, 0xe5];

    private const string ProbeSource = """
        int probe_target(int x) { return x * 3 + 1; }
        int main(int argc, char **argv) { (void)argv; return probe_target(argc); }
        """;

    private readonly TempDirectory _temp = new();
    private readonly string? _gcc = ElfTool.FindProgram("gcc");

    public void Dispose() => _temp.Dispose();

    private string Compile(string name, string source, params string[] flags)
    {
        var sourcePath = _temp.File(name + ".c");
        File.WriteAllText(sourcePath, source);
        var output = _temp.File(name);
        ElfTool.Run(_gcc!, [.. CodeFlags, .. flags, "-o", output, sourcePath]);
        return output;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SymtabOnlyFunction_IsFound_AtTheRightFileOffset(bool pie)
    {
        if (_gcc is null)
        {
            return; // no compiler on this machine
        }

        var path = Compile(pie ? "probe-pie" : "probe-nopie", ProbeSource, pie ? ["-fPIE", "-pie"] : ["-fno-pie", "-no-pie"]);

        // probe_target is not exported, so only .symtab can provide it.
        Assert.DoesNotContain(ElfTool.ReadelfSymbols(path, dynamicOnly: true), s => s.Name == "probe_target");
        var expected = ElfTool.ReadelfSymbols(path, dynamicOnly: false).Single(s => s.Name == "probe_target");
        Assert.Equal(".symtab", expected.Table);

        var elf = ElfSymbols.Open(path);

        Assert.Equal(pie, elf.IsSharedObject);
        Assert.True(elf.TryGetFunction("probe_target", out var function));
        Assert.Equal("probe_target", function.Name);
        Assert.Equal(expected.Value, function.Address);
        Assert.True(function.Size > 0);
        Assert.Equal(ElfTool.ExpectedFileOffset(path, function.Address), function.FileOffset);
        Assert.Equal(FramePointerPrologue, ElfTool.FileBytes(path, function.FileOffset, FramePointerPrologue.Length));
        Assert.Equal(ElfTool.ObjdumpBytes(path, function.Address, 8), ElfTool.FileBytes(path, function.FileOffset, 8));
        if (!pie)
        {
            // Linked at 0x400000: the address is not a file offset, so the PT_LOAD arithmetic mattered.
            Assert.NotEqual(function.Address, function.FileOffset);
            Assert.True(function.FileOffset < (ulong)new FileInfo(path).Length);
        }
        Assert.True(elf.HasFunctions("main", "probe_target"));
        Assert.False(elf.TryGetFunction("printf", out _)); // not referenced, and imports are never definitions
    }

    [Fact]
    public void ImportedFunction_IsNotADefinition_EvenWithAnAddress()
    {
        if (_gcc is null)
        {
            return;
        }
        // Non-PIC code taking puts' address makes the linker give the undefined symbol a non-zero
        // value (its canonical PLT entry), so only st_shndx == SHN_UNDEF tells it is an import.
        var path = Compile("imports", """
            #include <stdio.h>
            int main(void) { int (*f)(const char *) = puts; return f("hi") + (f == puts); }
            """, "-fno-pic", "-no-pie");
        var puts = Assert.Single(ElfTool.ReadelfSymbols(path, dynamicOnly: true), s => s.Name == "puts");
        Assert.Equal("UND", puts.SectionIndex);
        Assert.NotEqual(0UL, puts.Value);

        var elf = ElfSymbols.Open(path);

        Assert.False(elf.TryGetFunction("puts", out _));
        Assert.True(elf.TryGetFunction("main", out _));
    }

    [Fact]
    public void SameNameLocalAndGlobal_TheGlobalWins()
    {
        if (_gcc is null)
        {
            return;
        }
        // .symtab lists locals before globals, so the static helper comes first.
        var other = _temp.File("other.c");
        File.WriteAllText(other, """
            static int helper(int x) { return x - 7; }
            int call_static_helper(int x) { return helper(x); }
            """);
        var path = Compile("helpers", """
            int call_static_helper(int x);
            int helper(int x) { return x + 7; }
            int main(int argc, char **argv) { (void)argv; return helper(argc) + call_static_helper(argc); }
            """, "-no-pie", other);
        var helpers = ElfTool.ReadelfSymbols(path, dynamicOnly: false).Where(s => s.Table == ".symtab" && s.Name == "helper").ToList();
        var global = Assert.Single(helpers, s => s.Bind == "GLOBAL");
        Assert.Single(helpers, s => s.Bind == "LOCAL" && s.Value != global.Value);

        var elf = ElfSymbols.Open(path);

        Assert.True(elf.TryGetFunction("helper", out var helper));
        Assert.Equal(global.Value, helper.Address);
        Assert.Equal(ElfTool.ExpectedFileOffset(path, helper.Address), helper.FileOffset);
    }

    [Fact]
    public void StrippedExecutable_HasNoSymtabFunctions_ButKeepsItsBuildId()
    {
        if (_gcc is null || ElfTool.FindProgram("strip") is not { } strip)
        {
            return;
        }

        var path = Compile("probe-stripped", ProbeSource, "-no-pie", "-Wl,--build-id=sha1");
        ElfTool.Run(strip, "--strip-all", path);

        var elf = ElfSymbols.Open(path);

        Assert.False(elf.TryGetFunction("probe_target", out _));
        Assert.False(elf.TryGetFunction("main", out _));
        Assert.NotNull(elf.BuildId);
        Assert.Equal(ElfTool.ReadelfBuildId(path), elf.BuildId);
    }

    [Fact]
    public void WithoutBuildId_BuildIdIsNull()
    {
        if (_gcc is null)
        {
            return;
        }

        var path = Compile("probe-no-build-id", ProbeSource, "-no-pie", "-Wl,--build-id=none");
        Assert.Null(ElfTool.ReadelfBuildId(path));

        Assert.Null(ElfSymbols.Open(path).BuildId);
    }

    [Fact]
    public void VersionedSymtabNames_AreStripped_AndTheDefaultVersionWins()
    {
        if (_gcc is null)
        {
            return;
        }
        // The linker names the two definitions "foo@VER_1" (local, non-default) and "foo@@VER_2"
        // (global, default) in .symtab; the executable exports neither in .dynsym.
        File.WriteAllText(_temp.File("versions.map"), """
            VER_1 { global: foo; local: *; };
            VER_2 { global: foo; } VER_1;
            """);
        var path = Compile("versioned", """
            int foo_v1(int x) { return x + 1; }
            int foo_v2(int x) { return x + 2; }
            __asm__(".symver foo_v1, foo@VER_1");
            __asm__(".symver foo_v2, foo@@VER_2");
            int main(void) { return foo_v1(1) + foo_v2(2); }
            """, "-no-pie", "-Wl,--version-script=" + _temp.File("versions.map"));
        var symtab = ElfTool.ReadelfSymbols(path, dynamicOnly: false).Where(s => s.Table == ".symtab").ToList();
        var defaultFoo = Assert.Single(symtab, s => s.RawName == "foo@@VER_2");
        var oldFoo = Assert.Single(symtab, s => s.RawName == "foo@VER_1");
        Assert.NotEqual(defaultFoo.Value, oldFoo.Value);

        var elf = ElfSymbols.Open(path);

        Assert.True(elf.TryGetFunction("foo", out var foo));
        Assert.Equal(defaultFoo.Value, foo.Address);
        Assert.Equal(ElfTool.ExpectedFileOffset(path, foo.Address), foo.FileOffset);
        Assert.True(elf.TryGetFunction("foo_v1", out var fooV1));
        Assert.Equal(oldFoo.Value, fooV1.Address);
        Assert.False(elf.TryGetFunction("foo@@VER_2", out _));
        Assert.Single(elf.Functions, f => f.Name == "foo");
        Assert.DoesNotContain(elf.Functions, f => f.Name.Contains('@'));
    }
}
