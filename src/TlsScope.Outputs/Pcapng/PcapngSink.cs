using TlsScope.Engine.Model;
using TlsScope.Engine.Collections;


namespace TlsScope.Outputs.Pcapng;

/// <summary>
/// Writes captured packets and TLS key sets to a pcapng file, so Wireshark decrypts the
/// packets on its own. The kernel reads a connection's keys only after its handshake, so a TLS
/// connection's packets are held from its ClientHello until the key set with that client
/// random arrives; then its decryption secrets block is written before them. Packets come from
/// one thread and keys from another: every call takes the one lock. Waits for keys are counted on
/// the key path's own clock (<see cref="KeysThrough"/>), so keys decoded late are not lost.
/// </summary>
public sealed class PcapngSink : IPacketSink, IKeySink
{
    private readonly PcapngWriter _writer;
    private readonly PcapngSinkOptions _options;
    private readonly ProcessDescriber _describer;
    private readonly Lock _lock = new();
    private readonly Dictionary<CaptureInterface, int> _interfaceIds = [];
    private readonly Dictionary<ConnectionKey, HeldConnection> _held = [];
    private long _heldBytes; // over every held connection, bounded by MaxHeldBytes
    private readonly Dictionary<string, HeldConnection> _heldByClientRandom = [];
    private readonly RecentSet<string> _keyedClientRandoms = new(65536);
    private long _packetsWritten;
    private long _packetsFilteredOut;
    private long _releasedWithKeys;
    private long _releasedWithoutKeys;
    private long _connectionsWithoutKeys;
    private long _keySetsWritten;
    private DateTimeOffset? _keysThrough; // how far the key path has read, once it says
    private bool _disposed;

    /// <summary>Creates <paramref name="path"/> (mode 0600) and writes its section header.</summary>
    /// <exception cref="TlsScope.Outputs.OutputException">The file cannot be created.</exception>
    public PcapngSink(string path, PcapngSinkOptions? options = null)
        : this(PcapngWriter.Create(path), options)
    {
    }

    /// <summary>Writes through <paramref name="writer"/>, which the sink then owns.</summary>
    public PcapngSink(PcapngWriter writer, PcapngSinkOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(writer);
        _writer = writer;
        _options = options ?? new PcapngSinkOptions();
        _describer = _options.Describer ?? new ProcessDescriber();
    }

    public PcapngSinkCounters Counters
    {
        get
        {
            lock (_lock)
            {
                return new PcapngSinkCounters(_packetsWritten, _packetsFilteredOut, _releasedWithKeys,
                    _releasedWithoutKeys, _connectionsWithoutKeys, _keySetsWritten);
            }
        }
    }

    public void OnPacket(CapturedPacket packet)
    {
        ArgumentNullException.ThrowIfNull(packet);
        ReadOnlySpan<byte> data = packet.Data.Span;
        int linkType = packet.Interface.LinkType;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_options.Filter is { } filter && !filter.Matches(linkType, data, packet.OriginalLength))
            {
                _packetsFilteredOut++;
                return;
            }

            int interfaceId = InterfaceId(packet.Interface);
            if (!TcpSegment.TryParse(linkType, data, out TcpSegment segment))
            {
                Write(interfaceId, packet, data);
                return;
            }

            if (_held.TryGetValue(segment.Connection, out HeldConnection? held))
            {
                Hold(held, interfaceId, packet, segment);
                return;
            }

            if (ClientHelloReader.TryStart(segment) is not { } hello || IsKeyed(hello))
            {
                Write(interfaceId, packet, data);
                return;
            }

            held = new HeldConnection(segment.Connection, hello, _options.Clock.GetUtcNow() + _options.HoldTimeout);
            _held.Add(held.Key, held);
            Hold(held, interfaceId, packet, segment);
        }
    }

    public void OnKeys(TlsKeySet keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        string clientRandom = Convert.ToHexString(keys.ClientRandom);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_keyedClientRandoms.Add(clientRandom))
            {
                return; // each key set once
            }

            _writer.WriteKeyLog(keys.Lines);
            _keySetsWritten++;
            if (_heldByClientRandom.TryGetValue(clientRandom, out HeldConnection? held))
            {
                Release(held, withKeys: true);
            }
        }
    }

    public bool FollowsKeyProgress => true;

    /// <summary>Only notes the key path's clock: the packet reader's next <see cref="Flush"/>
    /// (every poll) writes out what is late, so held packets are never written on the key path.</summary>
    public void KeysThrough(DateTimeOffset drainedAt)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_keysThrough is not { } known || drainedAt > known)
            {
                _keysThrough = drainedAt;
            }
        }
    }

    /// <summary>Writes out connections whose keys did not come in time, then buffers.</summary>
    public void Flush()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            ReleaseLate();
            _writer.Flush();
        }
    }

    /// <summary>
    /// Connections past their deadline go out without keys. The deadline is read on the key
    /// path's clock when it reports one: keys decoded late (a starved decoder, a burst) are still
    /// in time, and the key path being up to date is what proves keys are not coming.
    /// </summary>
    private void ReleaseLate()
    {
        if (_held.Count == 0)
        {
            return;
        }

        DateTimeOffset now = _options.Clock.GetUtcNow();
        DateTimeOffset keyTime = _keysThrough is { } known && known < now ? known : now;
        foreach (HeldConnection held in _held.Values.Where(h => h.Deadline <= keyTime || h.Deadline + _options.MaxKeyLag <= now).ToList())
        {
            Release(held, withKeys: false);
        }
    }

    /// <summary>Writes out every held packet and closes the file.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            try
            {
                foreach (HeldConnection held in _held.Values.ToList())
                {
                    Release(held, withKeys: false);
                }
            }
            finally
            {
                _disposed = true;
                _writer.Dispose();
            }
        }
    }

    private void Hold(HeldConnection held, int interfaceId, CapturedPacket packet, in TcpSegment segment)
    {
        held.Add(new HeldPacket(interfaceId, packet.TimeUnixNs, packet.Data.ToArray(), packet.OriginalLength,
            DirectionOf(packet), Comment(packet)), segment);
        _heldBytes += packet.Data.Length;
        while (_heldBytes > _options.MaxHeldBytes && _held.Count > 1)
        {
            // Many connections waiting at once (a flood of ClientHellos): the one nearest its
            // deadline goes out without keys rather than memory growing.
            Release(_held.Values.Where(h => h != held).MinBy(h => h.Deadline)!, withKeys: false);
        }

        held.Hello.Add(segment);
        if (!held.WaitsForKeys && held.Hello.Random is { } random)
        {
            if (IsKeyed(held.Hello))
            {
                Release(held, withKeys: true); // the keys came while the hello was incomplete
                return;
            }

            _heldByClientRandom[Convert.ToHexString(random)] = held;
            held.WaitsForKeys = true;
        }

        if (held.Hello.Failed || held.HeldBytes > _options.MaxHeldBytesPerConnection)
        {
            Release(held, withKeys: false);
        }
        else if (held.Ended && held.WaitsForKeys)
        {
            // Keys travel another path (the TLS probes' ring and decoder): a short connection can
            // end before its keys are decoded. Wait a little for them, not the whole hold time.
            var end = _options.Clock.GetUtcNow() + _options.EndGrace;
            if (end < held.Deadline)
            {
                held.Deadline = end;
            }
        }
        else if (held.Ended)
        {
            Release(held, withKeys: false);
        }
    }

    private void Release(HeldConnection held, bool withKeys)
    {
        _held.Remove(held.Key);
        _heldBytes -= held.HeldBytes;
        if (held.WaitsForKeys && held.Hello.Random is { } random)
        {
            _heldByClientRandom.Remove(Convert.ToHexString(random));
        }

        foreach (HeldPacket packet in held.Packets)
        {
            _writer.WritePacket(packet.InterfaceId, packet.TimeUnixNs, packet.Data, packet.OriginalLength,
                packet.Direction, packet.Comment);
            _packetsWritten++;
        }

        if (withKeys)
        {
            _releasedWithKeys += held.Packets.Count;
        }
        else
        {
            _releasedWithoutKeys += held.Packets.Count;
            _connectionsWithoutKeys++;
        }
    }

    private void Write(int interfaceId, CapturedPacket packet, ReadOnlySpan<byte> data)
    {
        _writer.WritePacket(interfaceId, packet.TimeUnixNs, data, packet.OriginalLength, DirectionOf(packet), Comment(packet));
        _packetsWritten++;
    }

    private bool IsKeyed(ClientHelloReader hello) =>
        hello.Random is { } random && _keyedClientRandoms.Contains(Convert.ToHexString(random));

    private int InterfaceId(CaptureInterface captureInterface)
    {
        if (!_interfaceIds.TryGetValue(captureInterface, out int id))
        {
            id = _writer.AddInterface(captureInterface.LinkType, captureInterface.Name);
            _interfaceIds.Add(captureInterface, id);
        }

        return id;
    }

    private string? Comment(CapturedPacket packet) =>
        packet.Owner is { } owner ? _describer.Describe(owner.Pid, owner.Comm, owner.CommandLine, owner.Container) : null;

    private static PacketDirection DirectionOf(CapturedPacket packet) =>
        packet.Egress ? PacketDirection.Outbound : PacketDirection.Inbound;
}
