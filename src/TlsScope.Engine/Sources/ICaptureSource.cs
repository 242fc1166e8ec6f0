using TlsScope.Engine.Model;

namespace TlsScope.Engine.Sources;

/// <summary>
/// One kind of event producer (TLS, packets; next shell and SQL): it owns its BPF programs, its
/// decoders and its options (<see cref="ISourceDefinition"/>). The engine drives every source
/// through the same steps: <see cref="Attach"/> (load and attach; events wait in the source's
/// ring buffers; every refusal that needs the kernel is here, before any output file is
/// replaced), <see cref="Start"/> (deliver into the outputs), <see cref="Stop"/> (detach, drain),
/// then its <see cref="Summary"/>. Dispose detaches whatever is left.
/// </summary>
public interface ICaptureSource : IDisposable
{
    string Name { get; }

    /// <summary>Whether this source follows execs (exec-time attach): the engine then asks the kernel for them.</summary>
    bool WantsExecEvents { get; }

    /// <summary>Whether a never-seen program must be held at its exec until this source has
    /// attached to it (TLS: its first bytes come at once). A source that only watches for
    /// programs that take seconds to do what it captures (a database server) says no: the
    /// machine's other programs are then never stopped for it.</summary>
    bool HoldsAtExec => WantsExecEvents;

    /// <exception cref="CaptureException">A one-line refusal.</exception>
    void Attach(SourceContext context);

    void Start(EventOutlets outlets);

    /// <summary>A new program started in a traced process (on the engine's exec thread).</summary>
    void OnExec(ExecEvent exec);

    /// <summary>A program is about to be launched (launch mode): attach to it and what it loads
    /// now, before it runs.</summary>
    void PrepareLaunch(string program, IReadOnlyList<string> libraryPath)
    {
    }

    /// <summary>What the ready line says of this source ("17 probes on 2 libraries").</summary>
    string ReadyText { get; }

    /// <summary>Removes at once what would outlive the process (TC filters do; uprobes and
    /// tracepoints do not): a second signal ends the process right after. Any thread.</summary>
    void DetachWhatOutlivesUs()
    {
    }

    void Stop();

    /// <summary>The summary lines, final after <see cref="Stop"/>.</summary>
    IEnumerable<string> Summary();

    /// <summary>Something was transferred and not captured (exit status 3).</summary>
    bool LostAny { get; }
}
