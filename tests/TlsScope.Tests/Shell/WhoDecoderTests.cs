using System.Text;
using TlsScope.Sources.Shell;
using TlsScope.Sources.Shell.Records;

namespace TlsScope.Tests.Shell;

public sealed class WhoDecoderTests
{
    [Theory]
    [InlineData("pts3", "pts/3")]
    [InlineData("pts12", "pts/12")]
    [InlineData("tty1", "tty1")]
    [InlineData("ptsx", "ptsx")]
    [InlineData("", null)]
    public void TerminalsAreNamedAsUnderDev(string kernel, string? expected) =>
        Assert.Equal(expected, WhoDecoder.TtyName(Encoding.ASCII.GetBytes(kernel)));

    [Fact]
    public void TheWorkingDirectoryIsBuiltFromItsComponentsInnermostFirst()
    {
        Assert.Equal("/tmp/run é", WhoDecoder.Cwd(Parts("run é", "tmp"), 2));
        Assert.Equal("/", WhoDecoder.Cwd(Parts(), 0));
        var deep = Enumerable.Range(0, WhoRecord.CwdDepth).Select(i => $"d{WhoRecord.CwdDepth - 1 - i}").ToArray();
        Assert.Equal("/..." + string.Concat(Enumerable.Range(0, WhoRecord.CwdDepth).Select(i => $"/d{i}")),
            WhoDecoder.Cwd(Parts(deep), WhoRecord.CwdDepth + 1));
    }

    [Fact]
    public void ArgumentListsSplitAtNulKeepingEmptyArguments()
    {
        Assert.Equal(["bash", "-c", "echo x; /bin/true"], Split("bash\0-c\0echo x; /bin/true\0"));
        Assert.Equal(["a", "", "b", ""], Split("a\0\0b\0\0"));
        Assert.Equal(["ls", "cut-he"], Split("ls\0cut-he")); // cut by the cap: no final NUL
        Assert.Empty(Split(""));
    }

    private static string[] Split(string args) =>
        WhoDecoder.SplitArgs(Encoding.UTF8.GetBytes(args)).Select(Encoding.UTF8.GetString).ToArray();

    private static byte[] Parts(params string[] innermostFirst)
    {
        var parts = new byte[WhoRecord.CwdDepth * WhoRecord.CwdPart];
        for (int i = 0; i < innermostFirst.Length; i++)
        {
            Encoding.UTF8.GetBytes(innermostFirst[i]).CopyTo(parts, i * WhoRecord.CwdPart);
        }

        return parts;
    }
}
