using TlsScope.Bpf;
using TlsScope.Engine;
using TlsScope.Engine.Kernel;
using TlsScope.Engine.Model;
using TlsScope.Engine.Reading;
using TlsScope.Engine.Sources;
using TlsScope.Sources.Sql.Kernel;
using TlsScope.Sources.Sql.Mysql;
using TlsScope.Sources.Sql.Postgres;

namespace TlsScope.Sources.Sql;

/// <summary>
/// The SQL source (--sql): bpf/sql's probes on every MariaDB/MySQL server binary found (known
/// paths, --sql-binary, running servers, and servers started later: their exec), statements
/// read on a thread of its own. Uprobes on a file apply to every process that runs it, later
/// ones included. A binary that cannot be probed is named with its reason in the summary.
/// </summary>
public sealed class SqlSource(IReadOnlyList<string> named) : ICaptureSource, IRingBufferConsumer
{
    private const int PollMilliseconds = 20;

    private BpfObject? _obj;
    private SourceContext? _context;
    private IEventPublisher? _events;
    private SqlRecordDecoder? _decoder;
    private RingBuffer? _ring;
    private SourceReaderThread? _reader;
    private SqlStats? _stats;
    private long _published;
    private readonly Lock _gate = new();
    private readonly List<BpfLink> _links = [];
    private readonly List<ServerPlan> _servers = []; // index = attach cookie
    private readonly HashSet<FileIdentity> _seen = [];
    private readonly List<string> _refused = [];

    public string Name => "sql";

    public bool WantsExecEvents => true;

    /// <summary>A server starts seconds before its first statement: its probes are in long before
    /// that without holding every new program of the machine.</summary>
    public bool HoldsAtExec => false;

    public string ReadyText
    {
        get
        {
            lock (_gate)
            {
                return $"SQL probes on {_servers.Count} server binar{(_servers.Count == 1 ? "y" : "ies")} ({string.Join(", ", _servers.Select(s => s.Server).Distinct())})";
            }
        }
    }

    public bool LostAny => _stats is { } s && (s.LostQueries > 0 || s.LostText > 0 || s.CutText > 0 || s.Unreadable > 0 || s.BusyDrops > 0 || s.MissedStarts > 0);

    public void Attach(SourceContext context)
    {
        _context = context;
        var config = new KernelConfig { WakeupBytes = EmbeddedObjects.RingSize(context.RingBufferMiB) / 8 };
        context.Target.WriteTo(ref config);
        _obj = EmbeddedObjects.Load(typeof(SqlSource).Assembly, "sql.bpf.o", config, scratchMap: "sql_scratch",
            ringMap: "sql_events", context.RingBufferMiB, context.Processes.ShareTargetMaps);
        var clock = new ClockOffset();
        _decoder = new SqlRecordDecoder(ServerName, clock.ToUnixNs, context.Cgroups);
        _ring = RingBuffer.Open(_obj, "sql_events", this);
        _links.Add(BpfLink.AttachRawTracepoint(_obj, "sql_exit", "sched_process_exit"));
        foreach (var path in named.Concat(ServerLocator.Candidates()))
        {
            Consider(path, explicitly: named.Contains(path));
        }
    }

    public void Start(EventOutlets outlets)
    {
        _events = outlets.Events;
        _reader = new SourceReaderThread("tlsscope sql reader", _ring!, PollMilliseconds, outlets.Chunks, e => _context?.Failed(e));
        _reader.Start();
    }

    /// <summary>A server started after us, from a file not probed yet.</summary>
    public void OnExec(ExecEvent exec)
    {
        if (ServerLocator.IsServerName(exec.Filename) || ServerLocator.IsServerName(exec.Process.Comm))
        {
            Consider($"/proc/{exec.Process.Pid}/exe", explicitly: false);
        }
    }

    private string ServerName(uint index)
    {
        lock (_gate)
        {
            return index < _servers.Count ? _servers[(int)index].Server : "mysql";
        }
    }

    /// <summary>Probes a binary once per file (by inode). One found without the functions is
    /// named in the summary with its reason; one named with --sql-binary is a one-line error.</summary>
    private void Consider(string path, bool explicitly)
    {
        if (FileIdentity.Of(path) is not { } id)
        {
            return;
        }

        lock (_gate)
        {
            if (!_seen.Add(id))
            {
                return;
            }

            var shown = path.StartsWith("/proc/", StringComparison.Ordinal) ? Resolve(path) : path;
            var (binary, reason) = Examine(path);
            if (binary is null || _servers.Count >= SqlServerRecord.MaxServers)
            {
                if (explicitly)
                {
                    throw new CaptureException($"--sql-binary {path}: {reason ?? "too many server binaries"}");
                }

                _refused.Add($"{shown}: {reason ?? "too many server binaries"}");
                return;
            }

            try
            {
                AttachTo(binary, (uint)_servers.Count);
                _servers.Add(binary);
                if (_context!.Verbose)
                {
                    _context.Log($"tlsscope: sql: {binary.Server} {shown} ({binary.Kind}){(binary.Missing.Count > 0 ? "; without " + string.Join(", ", binary.Missing) : "")}");
                }
            }
            catch (BpfException e)
            {
                if (explicitly)
                {
                    throw new CaptureException($"--sql-binary {path}: {e.Message}");
                }

                _refused.Add($"{shown}: {e.Message}");
            }
        }
    }

    /// <summary>A PostgreSQL server by its name, else MariaDB/MySQL.</summary>
    private static (ServerPlan? Plan, string? Reason) Examine(string path)
    {
        if (PostgresServerBinary.IsCandidate(path.StartsWith("/proc/", StringComparison.Ordinal) ? Resolve(path) : path))
        {
            return PostgresServerBinary.Examine(path);
        }

        var (binary, reason) = MysqlServerBinary.Examine(path);
        return (binary?.Plan(), reason);
    }

    private static string Resolve(string procExe)
    {
        try
        {
            return File.ResolveLinkTarget(procExe, returnFinalTarget: false)?.FullName ?? procExe;
        }
        catch (IOException)
        {
            return procExe;
        }
    }

    /// <summary>One process (--pid): its breakpoints go into it alone; other servers run untouched.</summary>
    private unsafe void AttachTo(ServerPlan b, uint index)
    {
        var record = b.Record;
        _obj!.Update("sql_servers", new ReadOnlySpan<byte>(&index, 4), new ReadOnlySpan<byte>(&record, sizeof(SqlServerRecord)));
        var links = new List<BpfLink>();
        try
        {
            foreach (var p in b.Probes)
            {
                links.Add(BpfLink.AttachUprobe(_obj, p.Program, b.Path, p.Function.FileOffset, p.Return, _context!.Target.SinglePid ?? -1, index));
            }
        }
        catch
        {
            links.ForEach(l => l.Dispose());
            throw;
        }

        _links.AddRange(links);
    }

    public void OnRecord(ReadOnlySpan<byte> record)
    {
        if (_decoder!.Decode(record) is { } query)
        {
            _published++;
            _events!.Publish(query);
            _reader!.Delivered();
        }
    }

    public void Stop()
    {
        if (_stats is not null)
        {
            return;
        }

        Detach();
        _reader?.Stop();
        _stats = _obj is null ? default : EmbeddedObjects.SumPerCpu<SqlStats>(_obj, "sql_stats");
        if (_reader?.Error is { } e)
        {
            throw new CaptureException("sql capture failed: " + e.Message);
        }
    }

    public IEnumerable<string> Summary()
    {
        if (_stats is not { } s)
        {
            return [];
        }

        var lines = new List<string>
        {
            $"tlsscope: sql: {_published} statements, {s.LostQueries} lost (ring buffer full); text: {s.LostText} bytes lost, "
            + $"{s.CutText} bytes cut beyond {SqlTextHeader.Chunk * 256} per statement, {s.Unreadable} unreadable, {s.BusyDrops} dropped (busy); "
            + $"{_decoder?.TextIncomplete ?? 0} statements with incomplete text",
        };
        lock (_gate)
        {
            lines.AddRange(_servers.Where(b => b.Missing.Count > 0).Select(b => $"tlsscope: sql: {b.Path}: without {string.Join(", ", b.Missing)}"));
            lines.AddRange(_refused.Select(r => $"tlsscope: sql: not probed: {r}"));
        }

        return lines;
    }

    private void Detach()
    {
        lock (_gate)
        {
            foreach (var l in _links)
            {
                l.Dispose();
            }

            _links.Clear();
        }
    }

    private bool _disposed;

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Detach();
        _reader?.Stop();

        _ring?.Dispose();
        _obj?.Dispose();
    }
}
