using TlsScope.Bpf;
using TlsScope.Engine;
using TlsScope.Engine.Kernel;
using TlsScope.Engine.Model;
using TlsScope.Engine.Reading;
using TlsScope.Engine.Sources;
using TlsScope.Sources.Shell.Records;

namespace TlsScope.Sources.Shell;

/// <summary>
/// The shell source: bpf/audit/shell.bpf.c with the target's filters, uprobes in each shell
/// binary (<see cref="ShellBinary"/>), the exec and exit tracepoints, and one reader thread that
/// publishes <see cref="ExecAudit"/> and, through <see cref="ShellAssembler"/>,
/// <see cref="ShellCommand"/>. With no binaries (--exec) only exec events are captured.
/// </summary>
/// <param name="binaries">The shells to probe.</param>
/// <param name="refused">Why a default shell is not probed, one line each (for the summary).</param>
public sealed class ShellSource(IReadOnlyList<ShellBinary> binaries, IReadOnlyList<string> refused) : ICaptureSource, IRingBufferConsumer
{
    private const int PollMilliseconds = 50;

    /// <summary>TSCOPE_MAX_SHELL_BINARIES: the shell_layouts map's size.</summary>
    public const int MaxBinaries = 64;

    private readonly List<BpfLink> _links = [];
    private readonly ClockOffset _clock = new();
    private readonly object _detachGate = new();
    private BpfObject? _obj;
    private RingBuffer? _ring;
    private SourceContext? _context;
    private TaskDecoder _tasks = new();
    private ShellAssembler? _assembler;
    private IEventPublisher? _events;
    private SourceReaderThread? _reader;
    private ShellStats? _stats;
    private long _execs;
    private bool _disposed;

    public string Name => "shell";

    public bool WantsExecEvents => false;

    public bool LinesWanted => binaries.Count > 0 || refused.Count > 0;

    public string ReadyText => binaries.Count == 0 ? "exec events" : $"shell lines of {Attached}; exec events";

    public bool LostAny => _stats is { Lost: > 0 };

    /// <summary>"bash (/usr/bin/bash), zsh (/usr/bin/zsh)".</summary>
    public string Attached => binaries.Count == 0 ? "none" : string.Join(", ", binaries.Select(b => $"{b.Name} ({b.Path})"));

    public void Attach(SourceContext context)
    {
        if (binaries.Count > MaxBinaries)
        {
            throw new CaptureException($"--shell-binary: at most {MaxBinaries} shells");
        }

        _context = context;
        _tasks = new TaskDecoder(context.Cgroups);
        var config = new KernelConfig { WakeupBytes = EmbeddedObjects.RingSize(context.RingBufferMiB) / 8 };
        context.Target.WriteTo(ref config);
        _obj = EmbeddedObjects.Load(typeof(ShellSource).Assembly, "shell.bpf.o", config, scratchMap: "shell_stats",
            ringMap: "shell_events", context.RingBufferMiB, context.Processes.ShareTargetMaps);
        try
        {
            AttachProbes(context);
        }
        catch (BpfException e)
        {
            DetachProbes();
            throw new CaptureException(e.Message);
        }
        catch
        {
            DetachProbes();
            throw;
        }
    }

    private unsafe void AttachProbes(SourceContext context)
    {
        var obj = _obj!;
        _ring = RingBuffer.Open(obj, "shell_events", this);
        if (binaries.Count > 0)
        {
            _links.Add(BpfLink.AttachRawTracepoint(obj, "shell_exit", "sched_process_exit"));
        }

        _links.Add(BpfLink.AttachRawTracepoint(obj, "shell_exec", "sched_process_exec"));
        for (uint i = 0; i < binaries.Count; i++)
        {
            var b = binaries[(int)i];
            var layout = b.Layout;
            obj.Update("shell_layouts", new ReadOnlySpan<byte>(&i, 4), new ReadOnlySpan<byte>(&layout, sizeof(ShellLayout)));
            foreach (var p in b.Probes)
            {
                var file = p.Library ?? b.Path;
                _links.Add(BpfLink.AttachUprobe(obj, p.Program, file, p.FileOffset, p.IsReturn, cookie: i));
                if (context.Verbose)
                {
                    context.Log($"tlsscope: shell: {(p.IsReturn ? "uretprobe" : "uprobe")} {p.Function} in {file}");
                }
            }
        }
    }

    public void Start(EventOutlets outlets)
    {
        if (_events is not null || _ring is null)
        {
            throw new InvalidOperationException("the shell source is started already, or not attached");
        }

        _events = outlets.Events;
        _assembler = new ShellAssembler(c =>
        {
            _events.Publish(c);
            _reader!.Delivered();
        });
        _reader = new SourceReaderThread("tlsscope shell reader", _ring, PollMilliseconds, outlets.Chunks, e =>
        {
            DetachProbes();
            _context?.Failed(e);
        })
        {
            Drained = () => _assembler.Finish((DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100),
        };
        _reader.Start();
    }

    public void OnExec(ExecEvent exec)
    {
    }

    public void OnRecord(ReadOnlySpan<byte> record) => ShellRecordReader.Dispatch(record, _tasks, _clock, _assembler!, OnExecAudit);

    private void OnExecAudit(ExecAudit exec)
    {
        _execs++;
        _events!.Publish(exec);
        _reader!.Delivered();
        _assembler!.OnExec(exec);
    }

    public void Stop()
    {
        if (_stats is not null)
        {
            return;
        }

        DetachProbes();
        _reader?.Stop();
        _stats = _obj is null ? default : EmbeddedObjects.SumPerCpu<ShellStats>(_obj, "shell_stats");
        if (_reader?.Error is { } e)
        {
            throw new CaptureException("shell capture failed: " + e.Message);
        }
    }

    public IEnumerable<string> Summary()
    {
        if (LinesWanted)
        {
            yield return $"tlsscope: shell: {Attached}";
            foreach (var reason in refused.Concat(binaries.Where(b => b.Missing.Length > 0).Select(b => $"{b.Path}: {b.Missing}")))
            {
                yield return $"tlsscope: shell: {reason}";
            }
        }

        if (_stats is { } s)
        {
            var lines = LinesWanted
                ? $"{_assembler?.Commands ?? 0} commands, {_assembler?.InputLinesSkipped ?? 0} lines read by `read -e`/select/vared skipped, "
                    + $"{s.Truncated} lines cut at {LineRecord.Chunk - 1}x16 bytes, "
                : "";
            yield return $"tlsscope: shell: {lines}{_execs} exec events ({s.ArgsCut} argument lists cut at {ExecAuditRecord.ArgsMax} bytes), "
                + $"{s.Lost} records lost (ring buffer full), {s.Unreadable} unreadable";
        }
    }

    private void DetachProbes()
    {
        lock (_detachGate)
        {
            foreach (var link in _links)
            {
                link.Dispose();
            }

            _links.Clear();
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        DetachProbes();
        _reader?.Stop();

        _ring?.Dispose();
        _obj?.Dispose();
    }
}
