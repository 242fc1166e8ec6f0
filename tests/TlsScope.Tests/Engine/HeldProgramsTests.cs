using System.Diagnostics;
using TlsScope.Engine.Processes;

namespace TlsScope.Tests.Engine;

/// <summary>A program a killed run left stopped is continued by the next run, and only that one.</summary>
public sealed class HeldProgramsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tlsscope-held-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static char State(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return stat[stat.LastIndexOf(')') + 2];
    }

    [Fact]
    public void WhatADeadRunHeldIsContinuedAndItsFileRemoved()
    {
        using var sleeper = Process.Start("sh", ["-c", "kill -STOP $$; exec sleep 30"])!;
        var deadline = Stopwatch.StartNew();
        while (State(sleeper.Id) != 'T' && deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            Thread.Sleep(5);
        }

        // A run that held it, then died: its pid no longer exists.
        using var held = new HeldPrograms(_dir);
        held.Held(sleeper.Id);
        var file = Assert.Single(Directory.GetFiles(_dir, "held-*"));
        File.Move(file, Path.Combine(_dir, "held-999999999"));

        Assert.Equal(1, HeldPrograms.ReleaseLeftovers(_dir));
        deadline.Restart();
        while (State(sleeper.Id) == 'T' && deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            Thread.Sleep(5);
        }

        Assert.NotEqual('T', State(sleeper.Id));
        Assert.Empty(Directory.GetFiles(_dir, "held-*"));
        sleeper.Kill();
    }

    [Fact]
    public void NoProgramIsHeldPastTheLimitEvenIfItsProbesNeverCome()
    {
        using var sleeper = Process.Start("sh", ["-c", "kill -STOP $$; exec sleep 30"])!;
        while (State(sleeper.Id) != 'T')
        {
            Thread.Sleep(5);
        }

        using var held = new HeldPrograms(_dir);
        held.Held(sleeper.Id); // and nobody releases it
        var clock = Stopwatch.StartNew();
        while (State(sleeper.Id) == 'T' && clock.Elapsed < TimeSpan.FromSeconds(5))
        {
            Thread.Sleep(5);
        }

        Assert.NotEqual('T', State(sleeper.Id));
        Assert.Equal(1, held.Overdue);
        sleeper.Kill();
    }

    [Fact]
    public void ALivingRunsFileIsLeftAloneAndReleasingForgetsThePid()
    {
        using var held = new HeldPrograms(_dir);
        held.Held(Environment.ProcessId); // this process, "held" by this living run

        Assert.Equal(0, HeldPrograms.ReleaseLeftovers(_dir));
        Assert.Single(Directory.GetFiles(_dir, $"held-{Environment.ProcessId}"));
        held.Release(Environment.ProcessId); // SIGCONT to a running process changes nothing
        Assert.Empty(Directory.GetFiles(_dir, "held-*"));
    }
}
