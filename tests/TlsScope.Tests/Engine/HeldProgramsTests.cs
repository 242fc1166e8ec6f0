using System.Diagnostics;
using TlsScope.Engine.Processes;

namespace TlsScope.Tests.Engine;

/// <summary>A held program is continued on every path: by its run, by the watchdog, and when a run
/// was killed, by the next run; only the very process, and only while it is stopped.</summary>
public sealed class HeldProgramsTests : IDisposable
{
    private const int DeadRun = 999999999; // a pid that cannot exist

    private readonly string _dir = Directory.CreateTempSubdirectory("tlsscope-held-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A process stopped before it runs, as the kernel holds one.</summary>
    private static Process StoppedSleeper()
    {
        var sleeper = Process.Start("sh", ["-c", "kill -STOP $$; exec sleep 30"])!;
        WaitFor(() => ProcessFacts.State(sleeper.Id) == 'T');
        return sleeper;
    }

    private static bool WaitFor(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(10))
            {
                return false;
            }

            Thread.Sleep(5);
        }

        return true;
    }

    /// <summary>The file a run that died left: "pid start" lines.</summary>
    private void LeaveFile(params (int Pid, ulong Start)[] held) =>
        File.WriteAllLines(Path.Combine(_dir, $"held-{DeadRun}"), held.Select(h => $"{h.Pid} {h.Start}"));

    [Fact]
    public void WhatADeadRunHeldIsContinuedAndItsFileRemoved()
    {
        using var sleeper = StoppedSleeper();
        LeaveFile((sleeper.Id, ProcessFacts.StartTime(sleeper.Id)!.Value));

        Assert.Equal(1, HeldPrograms.ReleaseLeftovers(_dir));

        Assert.True(WaitFor(() => ProcessFacts.State(sleeper.Id) != 'T'));
        Assert.Empty(Directory.GetFiles(_dir, "held-*"));
        sleeper.Kill();
    }

    [Fact]
    public void ALaterProcessWithTheSamePidIsNotContinued()
    {
        using var sleeper = StoppedSleeper();
        LeaveFile((sleeper.Id, ProcessFacts.StartTime(sleeper.Id)!.Value - 1)); // another start: another process

        Assert.Equal(0, HeldPrograms.ReleaseLeftovers(_dir));

        Thread.Sleep(50);
        Assert.Equal('T', ProcessFacts.State(sleeper.Id));
        Assert.Empty(Directory.GetFiles(_dir, "held-*"));
        sleeper.Kill();
    }

    [Fact]
    public void ARunningProcessIsNotSignalled()
    {
        using var sleeper = Process.Start("sleep", ["30"])!;
        WaitFor(() => ProcessFacts.State(sleeper.Id) is 'S' or 'R');
        LeaveFile((sleeper.Id, ProcessFacts.StartTime(sleeper.Id)!.Value));

        Assert.Equal(0, HeldPrograms.ReleaseLeftovers(_dir)); // it was not stopped: nothing to continue
        sleeper.Kill();
    }

    [Fact]
    public void ADirectoryThatIsNotTlsScopesOwnIsNeverActedOn()
    {
        using var sleeper = StoppedSleeper();
        LeaveFile((sleeper.Id, ProcessFacts.StartTime(sleeper.Id)!.Value));
        File.SetUnixFileMode(_dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute);

        Assert.Equal(0, HeldPrograms.ReleaseLeftovers(_dir)); // anyone could have written that file

        Assert.Equal('T', ProcessFacts.State(sleeper.Id));
        sleeper.Kill();
    }

    [Fact]
    public void NoProgramIsHeldPastTheLimitEvenIfItsProbesNeverCome()
    {
        using var sleeper = StoppedSleeper();
        using var held = new HeldPrograms(_dir);
        var clock = Stopwatch.StartNew(); // before Held: its watchdog starts inside it
        held.Held(sleeper.Id); // and nobody releases it

        Assert.True(WaitFor(() => ProcessFacts.State(sleeper.Id) != 'T'));
        Assert.InRange(clock.Elapsed, HeldPrograms.MaxHold - TimeSpan.FromMilliseconds(70), TimeSpan.FromSeconds(5));
        Assert.True(WaitFor(() => held.Overdue == 1)); // counted just after the SIGCONT the loop above saw
        Assert.Equal(1, held.Overdue);
        Assert.Equal(0, held.Count);
        sleeper.Kill();
    }

    [Fact]
    public void TheRunsFileNamesWhatItHoldsWhileItHoldsIt()
    {
        using var sleeper = StoppedSleeper();
        using var held = new HeldPrograms(_dir);
        var hold = held.Held(sleeper.Id);
        var file = Path.Combine(_dir, $"held-{Environment.ProcessId}");

        Assert.Equal($"{sleeper.Id} {ProcessFacts.StartTime(sleeper.Id)}", File.ReadAllText(file));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        Assert.Equal(0, HeldPrograms.ReleaseLeftovers(_dir)); // a living run's file is left alone

        Assert.False(held.Release(sleeper.Id, hold + 1)); // not that hold
        Assert.Equal('T', ProcessFacts.State(sleeper.Id));
        Assert.True(held.Release(sleeper.Id, hold));
        Assert.False(File.Exists(file));
        Assert.True(WaitFor(() => ProcessFacts.State(sleeper.Id) != 'T'));
        Assert.Equal(0, held.Overdue);
        sleeper.Kill();
    }

    [Fact]
    public void AnOldHoldsReleaseDoesNotContinueANewerHoldOfTheSameProcess()
    {
        using var sleeper = StoppedSleeper();
        using var held = new HeldPrograms(_dir);
        var first = held.Held(sleeper.Id);
        var second = held.Held(sleeper.Id); // it exec'd again, and was held again

        Assert.False(held.Release(sleeper.Id, first)); // the first exec's handler finishes late
        Assert.Equal('T', ProcessFacts.State(sleeper.Id));
        Assert.Equal(1, held.Count);
        Assert.True(held.Release(sleeper.Id, second));
        Assert.True(WaitFor(() => ProcessFacts.State(sleeper.Id) != 'T'));
        sleeper.Kill();
    }

    [Fact]
    public void DisposingContinuesEverythingStillHeld()
    {
        using var first = StoppedSleeper();
        using var second = StoppedSleeper();
        var held = new HeldPrograms(_dir);
        held.Held(first.Id);
        held.Held(second.Id);

        held.Dispose();

        Assert.NotEqual('T', ProcessFacts.State(first.Id));
        Assert.NotEqual('T', ProcessFacts.State(second.Id));
        Assert.Empty(Directory.GetFiles(_dir, "held-*"));
        first.Kill();
        second.Kill();
    }
}
