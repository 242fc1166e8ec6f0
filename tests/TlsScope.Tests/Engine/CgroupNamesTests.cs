using TlsScope.Engine.Processes;

namespace TlsScope.Tests.Engine;

public sealed class CgroupNamesTests
{
    private const string Id = "4f2c1a9b8e7d6c5b4a3928171615141312111009080706050403020100ffeedd";

    [Theory]
    [InlineData("/system.slice/docker-" + Id + ".scope")]
    [InlineData("/docker/" + Id)]
    [InlineData("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice/cri-containerd-" + Id + ".scope")]
    [InlineData("/kubepods/besteffort/pod1234/" + Id)]
    [InlineData("/machine.slice/libpod-" + Id + ".scope/container")]
    [InlineData("/kubepods.slice/crio-" + Id + ".scope")]
    public void ContainerIdsAreFoundInEveryRuntimesPaths(string path) => Assert.Equal(Id, CgroupNames.ContainerIn(path));

    [Theory]
    [InlineData("/user.slice/user-1000.slice/session-2.scope")]
    [InlineData("/machine.slice/libpod-conmon-" + Id + ".scope")]
    [InlineData("/")]
    public void OtherCgroupsHaveNoContainer(string path) => Assert.Null(CgroupNames.ContainerIn(path));

    [Fact]
    public void IdsAreTheInodesOfTheHierarchysDirectories()
    {
        if (CgroupNames.IdOf(CgroupNames.Hierarchy) is not { } rootId || !File.Exists("/proc/self/cgroup"))
        {
            return; // no cgroup v2 here
        }

        var names = new CgroupNames();
        Assert.Equal("/", names.PathOf(rootId));
        var own = File.ReadLines("/proc/self/cgroup").First(l => l.StartsWith("0::", StringComparison.Ordinal))[3..];
        var ownId = ProcMaps.CgroupId(Environment.ProcessId);
        Assert.NotNull(ownId);
        Assert.Equal(own.TrimEnd('/').Length == 0 ? "/" : own.TrimEnd('/'), names.PathOf(ownId.Value));
        Assert.Null(names.PathOf(0));
    }
}
