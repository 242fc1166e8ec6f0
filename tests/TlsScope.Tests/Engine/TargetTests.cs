using TlsScope.Engine;
using TlsScope.Engine.Kernel;
using TlsScope.Engine.Targets;

namespace TlsScope.Tests.Engine;

/// <summary>One target, read alike by the kernel's .rodata and user space's /proc scans.</summary>
public sealed class TargetTests
{
    [Fact]
    public void EachScopeIsWhatTheKernelReads()
    {
        var config = new KernelConfig();
        Target.Everything.WriteTo(ref config);
        Assert.Equal(KernelScope.All, config.Scope);

        new Target { Scope = TargetScope.Processes, Pids = [42] }.WriteTo(ref config);
        Assert.Equal((KernelScope.Pid, 42u), (config.Scope, config.TargetPid));

        new Target { Scope = TargetScope.Processes, Pids = [42, 43] }.WriteTo(ref config);
        Assert.Equal((KernelScope.Pids, 0u), (config.Scope, config.TargetPid));

        new Target { Scope = TargetScope.Processes, Pids = [42], FollowForks = true }.WriteTo(ref config);
        Assert.Equal((KernelScope.Pids, 1u), (config.Scope, config.FollowForks)); // a tree is a set the kernel grows

        new Target { Scope = TargetScope.Cgroup, CgroupDirectory = "/sys/fs/cgroup/x", Uid = 7, Comm = "curl" }.WriteTo(ref config);
        Assert.Equal((KernelScope.Cgroup, 1u, 7u, 1u), (config.Scope, config.FilterUid, config.TargetUid, config.FilterComm));
    }

    [Fact]
    public void OnlyOneProcessWithoutItsChildrenIsASinglePid()
    {
        Assert.Equal(42, new Target { Scope = TargetScope.Processes, Pids = [42] }.SinglePid);
        Assert.Null(new Target { Scope = TargetScope.Processes, Pids = [42], FollowForks = true }.SinglePid);
        Assert.Null(new Target { Scope = TargetScope.Processes, Pids = [42, 43] }.SinglePid);
        Assert.False(Target.Everything.IsRestricted);
        Assert.True((Target.Everything with { Uid = 0 }).IsRestricted);
    }

    [Fact]
    public void ThisProcessMatchesWhatItIs()
    {
        var self = Environment.ProcessId;
        var comm = File.ReadAllText($"/proc/{self}/comm").Trim();
        Assert.True(new Target { Scope = TargetScope.Processes, Pids = [self], Comm = comm }.Matches(self));
        Assert.False(new Target { Scope = TargetScope.Processes, Pids = [self], Comm = "not-" + comm[..Math.Min(comm.Length, 10)] }.Matches(self));
        Assert.False(new Target { Scope = TargetScope.Processes, Pids = [self + 100000] }.Matches(self));
        Assert.True(new Target { Scope = TargetScope.Processes, Pids = [1] }.Matches(self, traced: pid => pid == self)); // the kernel's live set decides
        Assert.True(Target.Everything.Matches(self)); // nothing to read when nothing filters
        Assert.False((Target.Everything with { Uid = 0 }).Matches(int.MaxValue)); // gone: nothing to match
    }

    [Fact]
    public void RefusalsNameTheOption()
    {
        Assert.Equal("--comm a-name-longer-than-15: longer than the kernel's 15-byte process name",
            Assert.Throws<CaptureException>(() => new Target { Comm = "a-name-longer-than-15" }.Check()).Message);
        Assert.Equal("--pid 999999999: no such process",
            Assert.Throws<CaptureException>(() => new Target { Scope = TargetScope.Processes, Pids = [999999999] }.Check()).Message);
        Assert.Equal("--cgroup /no/such: no such cgroup",
            Assert.Throws<CaptureException>(() => new Target { Scope = TargetScope.Cgroup, CgroupDirectory = "/no/such" }.Check()).Message);
        Assert.Equal("pid 1, 2, uid 0", new Target { Scope = TargetScope.Processes, Pids = [1, 2], Uid = 0 }.Describe());
    }
}
