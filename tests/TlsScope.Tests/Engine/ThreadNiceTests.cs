using TlsScope.Engine.Processes;
using TlsScope.Tests.Tools;

namespace TlsScope.Tests.Engine;

/// <summary>The exec handler's urgency is relative to the thread's own nice value, is the
/// thread's alone, and is undone exactly.</summary>
public sealed class ThreadNiceTests
{
    [RootFact]
    public void RaisingMovesOnlyTheCallingThreadAheadOfItsOwnNiceAndRestoringUndoesIt()
    {
        var own = ThreadNice.Current();
        int started = 0, raised = 0, restored = 0, neighbour = 0;
        var thread = new Thread(() =>
        {
            ThreadNice.Restore(3); // as if TlsScope were started under `nice -n 3`
            started = ThreadNice.Current();
            var before = ThreadNice.RaiseForHeldProgram();
            raised = ThreadNice.Current();
            var other = new Thread(() => neighbour = ThreadNice.Current()); // made meanwhile: inherits it
            other.Start();
            other.Join();
            ThreadNice.Restore(before);
            restored = ThreadNice.Current();
        });
        thread.Start();
        thread.Join();

        Assert.Equal(3, started);
        Assert.Equal(3 - ThreadNice.Urgency, raised);
        Assert.Equal(raised, neighbour);
        Assert.Equal(3, restored);
        Assert.Equal(own, ThreadNice.Current()); // the test's own thread was never touched
    }
}
