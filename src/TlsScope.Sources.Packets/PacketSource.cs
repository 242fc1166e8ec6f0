using System.Runtime.InteropServices;
using System.Text;
using TlsScope.Bpf;
using TlsScope.Engine;
using TlsScope.Engine.Model;
using TlsScope.Engine.Reading;
using TlsScope.Engine.Kernel;
using TlsScope.Engine.Processes;
using TlsScope.Engine.Sources;
using TlsScope.Engine.Targets;

namespace TlsScope.Sources.Packets;

/// <summary>
/// The packet source (outputs that take packets: --pcapng): bpf/packets, socket owners learned
/// in the kernel and seeded from /proc, one TC filter per interface and direction (loopback:
/// egress only, where each packet passes once), packets read on a thread of its own. Dispose
/// detaches every filter; stale filters of a killed run are removed by <see cref="Attach(SourceContext)"/>.
/// </summary>
/// <param name="chosen">From <see cref="NetworkInterfaces.Select"/>, their hooks free (<see cref="TcHookClaims.EnsureFree"/>).</param>
public sealed class PacketSource(IReadOnlyList<NetworkInterfaces.Entry> chosen) : ICaptureSource, IRingBufferConsumer
{
    private const int PollMilliseconds = 20; // as the TLS reader: woken early for bursts only

    private BpfObject? _obj;
    private SourceContext? _context;
    private IPacketSink? _sink;
    private readonly List<TcFilter> _filters = [];
    private readonly Dictionary<int, CaptureInterface> _interfaces = [];
    private TaskDecoder _tasks = new();
    private readonly Dictionary<ProcessInfo, PacketOwner> _owners = [];
    private readonly ClockOffset _clock = new();
    private readonly byte[] _copy = new byte[PacketHeader.Max];
    private BpfLink? _stateLink;
    private TcHookClaims? _claims;
    private RingBuffer? _ring;
    private Thread? _reader;
    private readonly object _detachGate = new();
    private volatile bool _stopping;
    private Exception? _readerError;
    private PacketStats? _stats;

    public string Name => "packets";

    public bool WantsExecEvents => false;

    public string ReadyText => $"packets on {string.Join(", ", chosen.Select(e => e.Interface.Name))}";

    public bool LostAny => _stats is { LostPackets: > 0 };

    /// <summary>The TC hooks for these interfaces: loopback egress only (each packet passes
    /// there once), others both ways.</summary>
    public static List<(int IfIndex, bool Egress)> Hooks(IReadOnlyList<NetworkInterfaces.Entry> chosen) =>
        chosen.SelectMany(e => e.IsLoopback ? [(e.Interface.Index, true)] : new[] { (e.Interface.Index, false), (e.Interface.Index, true) }).ToList();

    /// <summary>Loads the packet programs with the target's filters, learns socket owners and
    /// attaches the filters: from here on, packets wait in the ring buffer for <see cref="Start"/>.
    /// Refusals (a hook another run took since the check) happen here, before the caller's
    /// outputs are touched.</summary>
    public void Attach(SourceContext context)
    {
        if (chosen.Count == 0)
        {
            throw new CaptureException("--pcapng: no network interface is up");
        }

        _context = context;
        _tasks = new TaskDecoder(context.Cgroups);
        var config = new KernelConfig { WakeupBytes = EmbeddedObjects.RingSize(context.RingBufferMiB) / 8 };
        context.Target.WriteTo(ref config);
        _obj = EmbeddedObjects.Load(typeof(PacketSource).Assembly, "packets.bpf.o", config, scratchMap: "packet_scratch",
            ringMap: "packets", context.RingBufferMiB, context.Processes.ShareTargetMaps);
        try
        {
            Attach(context.Target, context.Processes.Contains, context.Log, context.Verbose);
        }
        catch (BpfException e)
        {
            DetachFilters();
            throw new CaptureException(e.Message);
        }
        catch
        {
            DetachFilters();
            throw;
        }
    }

    /// <summary>Reads the packets into the outputs on a thread of its own.</summary>
    public void Start(EventOutlets outlets)
    {
        if (_sink is not null || _ring is null)
        {
            throw new InvalidOperationException("the packet source is started already, or not attached");
        }

        _sink = outlets.Packets;
        _reader = new Thread(ReadLoop) { Name = "tlsscope packet reader", IsBackground = true };
        _reader.Start();
    }

    public void OnExec(ExecEvent exec)
    {
    }

    private unsafe void Attach(Target target, Func<int, bool> traced, Action<string> log, bool verbose)
    {
        var obj = _obj!;
        // Owners first: from here on connect()/listen() are seen, and older sockets are seeded.
        _stateLink = BpfLink.AttachTracepoint(obj, "tp_sock_state", "sock", "inet_sock_set_state");
        foreach (var seed in SocketOwnerSeeder.Scan(target, traced))
        {
            var key = seed.Key;
            var owner = seed.Owner;
            obj.Update("owners", new ReadOnlySpan<byte>(&key, sizeof(SockAddr)), new ReadOnlySpan<byte>(&owner, sizeof(KernelTask)));
        }
        var hooks = Hooks(chosen);
        (_claims, var stale) = TcHookClaims.Take(hooks);
        if (stale > 0)
        {
            log($"tlsscope: removed {stale} TC filter(s) left by a killed run");
        }

        foreach (var e in chosen)
        {
            _interfaces[e.Interface.Index] = e.Interface;
            var index = (uint)e.Interface.Index;
            var l2 = (uint)e.LinkHeaderLength;
            obj.Update("link_header", new ReadOnlySpan<byte>(&index, 4), new ReadOnlySpan<byte>(&l2, 4));
        }
        _ring = RingBuffer.Open(obj, "packets", this);
        foreach (var (ifIndex, egress) in hooks)
        {
            _filters.Add(TcFilter.Attach(obj, egress ? "tscope_egress" : "tscope_ingress", ifIndex, egress));
        }

        if (verbose)
        {
            log($"tlsscope: capturing packets on {string.Join(", ", chosen.Select(e => e.Interface.Name))}");
        }
    }

    private void ReadLoop()
    {
        try
        {
            while (!_stopping)
            {
                _ring!.Poll(PollMilliseconds);
                _sink!.Flush();
            }
            _ring!.Consume();
            _sink!.Flush();
        }
        catch (Exception e)
        {
            // Stop copying packets nobody reads, and end the capture now rather than at its end.
            _readerError = e;
            DetachFilters();
            _context?.Failed(e);
        }
    }

    public unsafe void OnRecord(ReadOnlySpan<byte> record)
    {
        if (record.Length < sizeof(PacketHeader))
        {
            return;
        }

        ref readonly var h = ref MemoryMarshal.AsRef<PacketHeader>(record);
        if (h.Head.Kind != EventKind.Packet || !_interfaces.TryGetValue((int)h.IfIndex, out var iface))
        {
            return;
        }

        var len = (int)Math.Min(h.CapLen, (uint)(record.Length - sizeof(PacketHeader)));
        record.Slice(sizeof(PacketHeader), len).CopyTo(_copy);
        var flags = (PacketFlags)(uint)h.Head.Flags;
        var owner = (flags & PacketFlags.Owned) != 0 ? Owner(in h) : null;
        _sink!.OnPacket(new CapturedPacket(_clock.ToUnixNs(h.Head.TimeNs), iface, (flags & PacketFlags.Egress) != 0,
            (int)h.Len, new ReadOnlyMemory<byte>(_copy, 0, len), owner));
    }

    private PacketOwner Owner(in PacketHeader h)
    {
        var task = _tasks.Decode(in h.Head.Task);
        if (_owners.TryGetValue(task, out var known))
        {
            return known;
        }

        if (_owners.Count > 65536)
        {
            _owners.Clear();
        }

        return _owners[task] = new PacketOwner(task.Pid, task.Uid, task.Comm, CommandLine(h.Head.Task.Pid), task.Cgroup, task.Container);
    }

    /// <summary>Read from the kernel's copy: the process may be gone already.</summary>
    private unsafe string? CommandLine(uint pid)
    {
        var record = default(CommandLineRecord);
        if (!_obj!.Lookup("cmdlines", new ReadOnlySpan<byte>(&pid, 4), new Span<byte>(&record, sizeof(CommandLineRecord))))
        {
            return null;
        }

        var args = new ReadOnlySpan<byte>(record.Args, (int)Math.Min(record.Len, (uint)CommandLineRecord.Max)).TrimEnd((byte)0);
        return args.IsEmpty ? null : Encoding.UTF8.GetString(args).Replace('\0', ' ');
    }

    /// <summary>Detaches the filters, drains what the kernel produced, stops the reader.</summary>
    /// <exception cref="CaptureException">Reading packets failed during the capture.</exception>
    public void Stop()
    {
        if (_stats is not null)
        {
            return;
        }

        DetachFilters();
        _stopping = true;
        _reader?.Join();
        _reader = null;
        _stats = _obj is null ? default : EmbeddedObjects.SumPerCpu<PacketStats>(_obj, "packet_stats");
        if (_readerError is { } e)
        {
            throw new CaptureException("packet capture failed: " + e.Message);
        }
    }

    public IEnumerable<string> Summary()
    {
        if (_stats is { } s)
        {
            yield return $"tlsscope: packets: {s.Packets} captured, {s.Filtered} not from traced processes, "
                + $"{s.LostPackets} lost (ring buffer full), {s.Truncated} cut at {PacketHeader.Max} bytes";
        }
    }

    public void DetachWhatOutlivesUs() => DetachFilters();

    /// <summary>Removes every TC filter of this run and its claim. Safe from any thread, any
    /// number of times: a second Ctrl-C calls it before the process dies.</summary>
    public void DetachFilters()
    {
        lock (_detachGate)
        {
            foreach (var f in _filters)
            {
                f.Dispose();
            }

            _filters.Clear();
            _claims?.Dispose();
            _claims = null;
            _stateLink?.Dispose();
            _stateLink = null;
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
        DetachFilters();
        _stopping = true;
        if (_reader is { IsAlive: true })
        {
            _reader.Join();
        }

        _ring?.Dispose();
        _obj?.Dispose();
    }
}
