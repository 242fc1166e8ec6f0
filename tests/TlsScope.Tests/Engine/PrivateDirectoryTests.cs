using System.Diagnostics;
using TlsScope.Engine.Files;
using TlsScope.Tests.Tools;

namespace TlsScope.Tests.Engine;

/// <summary>State TlsScope acts on later is only kept where no other user can write.</summary>
public sealed class PrivateDirectoryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tlsscope-private-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void AMissingDirectoryIsCreatedOwnerOnlyAndFilesAre0600()
    {
        var state = Path.Combine(_dir, "state");

        Assert.True(PrivateDirectory.Write(state, "a.json", "{}"));

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(state));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(state, "a.json")));
        Assert.Equal("{}", PrivateDirectory.Read(state, "a.json"));
        Assert.Single(Directory.GetFiles(state)); // no temporary left
    }

    [Fact]
    public void ADirectoryOthersCanWriteIsNeitherReadNorWritten()
    {
        File.WriteAllText(Path.Combine(_dir, "a.json"), "planted");
        File.SetUnixFileMode(_dir, File.GetUnixFileMode(_dir) | UnixFileMode.GroupWrite);

        Assert.False(PrivateDirectory.Prepare(_dir, create: false, out var problem));
        Assert.Equal($"{_dir} is writable by others", problem);
        Assert.Null(PrivateDirectory.Read(_dir, "a.json"));
        Assert.False(PrivateDirectory.Write(_dir, "a.json", "ours"));
        Assert.Equal("planted", File.ReadAllText(Path.Combine(_dir, "a.json")));
    }

    [Fact]
    public void ASymlinkIsNotFollowed()
    {
        var real = Directory.CreateDirectory(Path.Combine(_dir, "real")).FullName;
        var link = Path.Combine(_dir, "link");
        Directory.CreateSymbolicLink(link, real);

        Assert.False(PrivateDirectory.Write(link, "a.json", "x"));
        Assert.Empty(Directory.GetFiles(real));
        Assert.False(PrivateDirectory.Prepare(link, create: true, out var problem));
        Assert.Equal($"{link} is a symbolic link", problem);
    }

    [Fact]
    public void AFileLinkedInPlaceIsNotWrittenThrough()
    {
        var target = Path.Combine(_dir, "elsewhere");
        File.WriteAllText(target, "untouched");
        var state = Directory.CreateDirectory(Path.Combine(_dir, "state")).FullName;
        File.CreateSymbolicLink(Path.Combine(state, "a.json"), target);

        Assert.True(PrivateDirectory.Write(state, "a.json", "ours")); // the link is replaced, not followed

        Assert.Equal("untouched", File.ReadAllText(target));
        Assert.Equal("ours", File.ReadAllText(Path.Combine(state, "a.json")));
        Assert.Null(new FileInfo(Path.Combine(state, "a.json")).LinkTarget);
    }

    [RootFact]
    public void ADirectoryAnotherUserOwnsIsRefused()
    {
        var theirs = Directory.CreateDirectory(Path.Combine(_dir, "theirs")).FullName;
        File.SetUnixFileMode(theirs, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        using (var chown = Process.Start("chown", ["65534", theirs])!)
        {
            chown.WaitForExit();
        }

        Assert.False(PrivateDirectory.Prepare(theirs, create: false, out var problem));
        Assert.Equal($"{theirs} belongs to another user", problem);
        Assert.False(PrivateDirectory.Write(theirs, "a.json", "x"));
    }
}
