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

    private BpfObject? obj;
    private SourceContext? context;
    private IPacketSink? sink;
    private readonly List<TcFilter> filters = [];
    private readonly Dictionary<int, CaptureInterface> interfaces = [];
    private TaskDecoder tasks = new();
    private readonly Dictionary<ProcessInfo, PacketOwner> owners = [];
    private readonly ClockOffset clock = new();
    private readonly byte[] copy = new byte[PacketHeader.Max];
    private BpfLink? stateLink;
    private TcHookClaims? claims;
    private RingBuffer? ring;
    private Thread? reader;
    private readonly object detachGate = new();
    private volatile bool stopping;
    private Exception? readerError;
    private PacketStats? stats;

    public string Name => "packets";

    public bool WantsExecEvents => false;

    public string ReadyText => $"packets on {string.Join(", ", chosen.Select(e => e.Interface.Name))}";

    public bool LostAny => stats is { LostPackets: > 0 };

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
            throw new CaptureException("--pcapng: no network interface is up");
        this.context = context;
        tasks = new TaskDecoder(context.Cgroups);
        var config = new KernelConfig { WakeupBytes = EmbeddedObjects.RingSize(context.RingBufferMiB) / 8 };
        context.Target.WriteTo(ref config);
        obj = EmbeddedObjects.Load(typeof(PacketSource).Assembly, "packets.bpf.o", config, scratchMap: "packet_scratch",
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
        if (sink is not null || ring is null)
            throw new InvalidOperationException("the packet source is started already, or not attached");
        sink = outlets.Packets;
        reader = new Thread(ReadLoop) { Name = "tlsscope packet reader", IsBackground = true };
        reader.Start();
    }

    public void OnExec(ExecEvent exec)
    {
    }

    private unsafe void Attach(Target target, Func<int, bool> traced, Action<string> log, bool verbose)
    {
        var obj = this.obj!;
        // Owners first: from here on connect()/listen() are seen, and older sockets are seeded.
        stateLink = BpfLink.AttachTracepoint(obj, "tp_sock_state", "sock", "inet_sock_set_state");
        foreach (var seed in SocketOwnerSeeder.Scan(target, traced))
        {
            var key = seed.Key;
            var owner = seed.Owner;
            obj.Update("owners", new ReadOnlySpan<byte>(&key, sizeof(SockAddr)), new ReadOnlySpan<byte>(&owner, sizeof(KernelTask)));
        }
        var hooks = Hooks(chosen);
        (claims, var stale) = TcHookClaims.Take(hooks);
        if (stale > 0)
            log($"tlsscope: removed {stale} TC filter(s) left by a killed run");
        foreach (var e in chosen)
        {
            interfaces[e.Interface.Index] = e.Interface;
            var index = (uint)e.Interface.Index;
            var l2 = (uint)e.LinkHeaderLength;
            obj.Update("link_header", new ReadOnlySpan<byte>(&index, 4), new ReadOnlySpan<byte>(&l2, 4));
        }
        ring = RingBuffer.Open(obj, "packets", this);
        foreach (var (ifIndex, egress) in hooks)
            filters.Add(TcFilter.Attach(obj, egress ? "tscope_egress" : "tscope_ingress", ifIndex, egress));
        if (verbose)
            log($"tlsscope: capturing packets on {string.Join(", ", chosen.Select(e => e.Interface.Name))}");
    }

    private void ReadLoop()
    {
        try
        {
            while (!stopping)
            {
                ring!.Poll(PollMilliseconds);
                sink!.Flush();
            }
            ring!.Consume();
            sink!.Flush();
        }
        catch (Exception e)
        {
            // Stop copying packets nobody reads, and end the capture now rather than at its end.
            readerError = e;
            DetachFilters();
            context?.Failed(e);
        }
    }

    public unsafe void OnRecord(ReadOnlySpan<byte> record)
    {
        if (record.Length < sizeof(PacketHeader))
            return;
        ref readonly var h = ref MemoryMarshal.AsRef<PacketHeader>(record);
        if (h.Head.Kind != EventKind.Packet || !interfaces.TryGetValue((int)h.IfIndex, out var iface))
            return;
        var len = (int)Math.Min(h.CapLen, (uint)(record.Length - sizeof(PacketHeader)));
        record.Slice(sizeof(PacketHeader), len).CopyTo(copy);
        var flags = (PacketFlags)(uint)h.Head.Flags;
        var owner = (flags & PacketFlags.Owned) != 0 ? Owner(in h) : null;
        sink!.OnPacket(new CapturedPacket(clock.ToUnixNs(h.Head.TimeNs), iface, (flags & PacketFlags.Egress) != 0,
            (int)h.Len, new ReadOnlyMemory<byte>(copy, 0, len), owner));
    }

    private PacketOwner Owner(in PacketHeader h)
    {
        var task = tasks.Decode(in h.Head.Task);
        if (owners.TryGetValue(task, out var known))
            return known;
        if (owners.Count > 65536)
            owners.Clear();
        return owners[task] = new PacketOwner(task.Pid, task.Uid, task.Comm, CommandLine(h.Head.Task.Pid), task.Cgroup, task.Container);
    }

    /// <summary>Read from the kernel's copy: the process may be gone already.</summary>
    private unsafe string? CommandLine(uint pid)
    {
        var record = default(CommandLineRecord);
        if (!obj!.Lookup("cmdlines", new ReadOnlySpan<byte>(&pid, 4), new Span<byte>(&record, sizeof(CommandLineRecord))))
            return null;
        var args = new ReadOnlySpan<byte>(record.Args, (int)Math.Min(record.Len, (uint)CommandLineRecord.Max)).TrimEnd((byte)0);
        return args.IsEmpty ? null : Encoding.UTF8.GetString(args).Replace('\0', ' ');
    }

    /// <summary>Detaches the filters, drains what the kernel produced, stops the reader.</summary>
    /// <exception cref="CaptureException">Reading packets failed during the capture.</exception>
    public void Stop()
    {
        if (stats is not null)
            return;
        DetachFilters();
        stopping = true;
        reader?.Join();
        reader = null;
        stats = obj is null ? default : EmbeddedObjects.SumPerCpu<PacketStats>(obj, "packet_stats");
        if (readerError is { } e)
            throw new CaptureException("packet capture failed: " + e.Message);
    }

    public IEnumerable<string> Summary()
    {
        if (stats is { } s)
            yield return $"tlsscope: packets: {s.Packets} captured, {s.Filtered} not from traced processes, "
                + $"{s.LostPackets} lost (ring buffer full), {s.Truncated} cut at {PacketHeader.Max} bytes";
    }

    public void DetachWhatOutlivesUs() => DetachFilters();

    /// <summary>Removes every TC filter of this run and its claim. Safe from any thread, any
    /// number of times: a second Ctrl-C calls it before the process dies.</summary>
    public void DetachFilters()
    {
        lock (detachGate)
        {
            foreach (var f in filters)
                f.Dispose();
            filters.Clear();
            claims?.Dispose();
            claims = null;
            stateLink?.Dispose();
            stateLink = null;
        }
    }

    private bool disposed;

    public void Dispose()
    {
        if (disposed)
            return;
        disposed = true;
        DetachFilters();
        stopping = true;
        if (reader is { IsAlive: true })
            reader.Join();
        ring?.Dispose();
        obj?.Dispose();
    }
}
