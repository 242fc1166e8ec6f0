using TlsScope.Engine.Processes;
using TlsScope.Engine.Targets;

namespace TlsScope.Engine.Sources;

/// <summary>What every source is given: the target and its shared kernel maps, the run's settings,
/// where to log, and how to end the run when it cannot go on.</summary>
/// <param name="Failed">Ends the run at once (a reader that died); the source's Stop reports why.</param>
public sealed record SourceContext(
    Target Target,
    ProcessWatch Processes,
    CgroupNames Cgroups,
    int RingBufferMiB,
    bool Verbose,
    Action<string> Log,
    Action<Exception> Failed);
