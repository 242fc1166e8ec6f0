using System.Net;
using TlsScope.Engine.Model;
using TlsScope.Engine.Collections;

namespace TlsScope.Outputs.Pcapng;

/// <summary>
/// Writes the captured plaintext (--pcapng-plaintext) as TCP packets on each connection's real
/// 4-tuple, so Wireshark shows the HTTP inside TLS without any keys: a handshake when a
/// connection is first seen, data segments whose sequence numbers follow the stream offsets
/// (lost and dropped bytes stay missing sequence space), and FINs both ways when it closes.
/// Calls come from one thread.
/// </summary>
public sealed class PlaintextPcapngSink : IEveryChunkSink
{
    private const string InterfaceName = "tlsscope-plaintext";
    private const byte DataFlags = TcpFlags.Push | TcpFlags.Ack;
    private const byte FinFlags = TcpFlags.Fin | TcpFlags.Ack;
    private const int MadeUpPortsPerAddress = 60000;

    private readonly PcapngWriter _writer;
    private readonly SyntheticPacketBuilder _packets;
    private readonly ProcessDescriber _describer;
    private readonly int _interfaceId;
    private readonly Dictionary<ulong, SyntheticConnection> _connections = [];
    private const int MaxRememberedTuples = 65536;
    private readonly Dictionary<ConnectionKey, (ulong Connection, TcpEndpoint Local)> _tupleOwners = [];
    private readonly RecentSet<ulong> _mirrored = new(MaxRememberedTuples);
    private long _madeUpCount;
    private bool _disposed;

    /// <summary>Creates <paramref name="path"/> (mode 0600): it holds plaintext.</summary>
    /// <param name="linkType"><see cref="LinkType.RawIp"/> or <see cref="LinkType.Ethernet"/>.</param>
    /// <exception cref="TlsScope.Outputs.OutputException">The file cannot be created.</exception>
    public PlaintextPcapngSink(string path, int linkType = LinkType.RawIp, ProcessDescriber? describer = null)
        : this(PcapngWriter.Create(path), linkType, describer)
    {
    }

    /// <summary>Writes through <paramref name="writer"/>, which the sink then owns.</summary>
    public PlaintextPcapngSink(PcapngWriter writer, int linkType = LinkType.RawIp, ProcessDescriber? describer = null)
    {
        ArgumentNullException.ThrowIfNull(writer);
        _packets = new SyntheticPacketBuilder(linkType);
        _writer = writer;
        _describer = describer ?? new ProcessDescriber();
        _interfaceId = writer.AddInterface(linkType, InterfaceName);
    }

    public long PacketsWritten { get; private set; }

    /// <summary>Connections whose address was unknown and got a made-up 4-tuple.</summary>
    public long MadeUpConnections => _madeUpCount;

    /// <summary>Chunks not written because the other end of the same connection (both traced)
    /// is written already: one TCP stream, shown once.</summary>
    public long MirroredChunks { get; private set; }

    public void OnData(DataChunk chunk)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_connections.TryGetValue(chunk.Connection, out SyntheticConnection? connection))
        {
            // Decided once per connection: written, or the other end of one that is.
            if (_mirrored.Contains(chunk.Connection) || IsOtherEndOfAWrittenConnection(chunk))
            {
                _mirrored.Add(chunk.Connection);
                MirroredChunks++;
                return;
            }

            connection = NewConnection(chunk);
        }

        string comment = CommentFor(connection, chunk);
        bool fromLocal = chunk.Direction == Direction.Write;
        int maxPayload = SyntheticPacketBuilder.MaxPayload(connection.Family);

        ReadOnlySpan<byte> data = chunk.Data.Span;
        long offset = chunk.StreamOffset;
        while (!data.IsEmpty)
        {
            int take = Math.Min(data.Length, maxPayload);
            bool last = take == data.Length;
            string segmentComment = last && chunk.Truncated ? $"{comment} (truncated: {chunk.DroppedBytes} more bytes not captured)" : comment;
            Emit(connection, fromLocal, connection.Sequence(fromLocal, offset), connection.Acknowledgment(fromLocal),
                DataFlags, data[..take], chunk.TimeUnixNs, segmentComment);
            data = data[take..];
            offset += take;
        }

        connection.Advance(chunk.Direction, chunk.StreamOffset + chunk.Length + (chunk.Truncated ? chunk.DroppedBytes : 0));
    }

    public void OnGap(StreamGap gap)
    {
        ArgumentNullException.ThrowIfNull(gap);
        // An unseen connection needs nothing: its first chunk's offset already lies past the gap.
        if (_connections.TryGetValue(gap.Connection, out SyntheticConnection? connection))
        {
            connection.Advance(gap.Direction, gap.StreamOffset + gap.Length);
        }
    }

    /// <summary>On loopback both ends of a connection are often traced: the first end seen is
    /// written, and the other end (the same 4-tuple seen the other way round) is not, even after
    /// the first closed (its chunks may still be on their way). A new connection reusing the
    /// 4-tuple from the same side takes over.</summary>
    private bool IsOtherEndOfAWrittenConnection(DataChunk chunk)
    {
        if (!chunk.Address.IsKnown)
        {
            return false;
        }

        var (local, remote) = (TcpEndpoint.Of(chunk.Address.Local!), TcpEndpoint.Of(chunk.Address.Remote!));
        var key = ConnectionKey.Of(local, remote);
        if (_tupleOwners.TryGetValue(key, out var owner) && owner.Connection != chunk.Connection && owner.Local == remote)
        {
            return true;
        }

        if (_tupleOwners.Count >= MaxRememberedTuples)
        {
            _tupleOwners.Clear();
        }

        _tupleOwners[key] = (chunk.Connection, local);
        return false;
    }

    /// <summary>FIN from the local end, FIN back, last ACK; the kernel's totals move each
    /// direction's end past bytes never delivered as chunks.</summary>
    public void OnClose(ConnectionClosed closed)
    {
        ArgumentNullException.ThrowIfNull(closed);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_connections.Remove(closed.Connection, out SyntheticConnection? connection))
        {
            return;
        }


        connection.Advance(Direction.Write, closed.WriteBytes);
        connection.Advance(Direction.Read, closed.ReadBytes);
        uint localFin = connection.Sequence(true, connection.WrittenEnd);
        uint remoteFin = connection.Sequence(false, connection.ReadEnd);
        long time = closed.TimeUnixNs;
        Emit(connection, true, localFin, remoteFin, FinFlags, [], time, connection.Comment);
        Emit(connection, false, remoteFin, unchecked(localFin + 1), FinFlags, [], time, connection.Comment);
        Emit(connection, true, unchecked(localFin + 1), unchecked(remoteFin + 1), TcpFlags.Ack, [], time, connection.Comment);
    }

    public void Flush()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _writer.Flush();
    }

    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _writer.Dispose();
        }
    }

    private SyntheticConnection NewConnection(DataChunk chunk)
    {
        string comment = Describe(chunk.Process, chunk.Address);
        SyntheticConnection connection = chunk.Address is { Local: { } local, Remote: { } remote }
            ? new SyntheticConnection(local, remote, madeUp: false, comment)
            : MadeUp(comment);
        connection.DescribedFor = (chunk.Process, chunk.Address.Inferred);
        _connections.Add(chunk.Connection, connection);
        Handshake(connection, chunk.TimeUnixNs);
        return connection;
    }

    /// <summary>The connection's comment, rebuilt only when its process or address kind changed
    /// (the decoder hands the same ProcessInfo instance for a thread's chunks).</summary>
    private string CommentFor(SyntheticConnection connection, DataChunk chunk)
    {
        var key = (chunk.Process, chunk.Address.Inferred);
        if (!ReferenceEquals(connection.DescribedFor.Process, key.Process) || connection.DescribedFor.Inferred != key.Inferred)
        {
            connection.Comment = Describe(chunk.Process, chunk.Address);
            connection.DescribedFor = key;
        }

        return connection.Comment;
    }

    // Documentation addresses (RFC 5737), a port per connection, the server on port 80 so that
    // Wireshark dissects HTTP by default.
    private SyntheticConnection MadeUp(string comment)
    {
        long n = _madeUpCount++;
        var local = new IPEndPoint(new IPAddress([192, 0, 2, (byte)(1 + n / MadeUpPortsPerAddress % 254)]), 1024 + (int)(n % MadeUpPortsPerAddress));
        var remote = new IPEndPoint(new IPAddress([198, 51, 100, 1]), 80);
        return new SyntheticConnection(local, remote, madeUp: true, comment);
    }

    private void Handshake(SyntheticConnection connection, long time)
    {
        bool client = connection.LocalIsClient;
        uint clientIsn = connection.InitialSequence(client);
        uint serverIsn = connection.InitialSequence(!client);
        Emit(connection, client, clientIsn, 0, TcpFlags.Syn, [], time, connection.Comment);
        Emit(connection, !client, serverIsn, unchecked(clientIsn + 1), TcpFlags.Syn | TcpFlags.Ack, [], time, connection.Comment);
        Emit(connection, client, unchecked(clientIsn + 1), unchecked(serverIsn + 1), TcpFlags.Ack, [], time, connection.Comment);
    }

    private void Emit(
        SyntheticConnection connection, bool fromLocal, uint sequence, uint acknowledgment, byte flags, ReadOnlySpan<byte> payload, long time, string comment)
    {
        IPEndPoint source = fromLocal ? connection.Local : connection.Remote;
        IPEndPoint destination = fromLocal ? connection.Remote : connection.Local;
        ReadOnlySpan<byte> packet = _packets.Build(source, destination, fromLocal, sequence, acknowledgment, flags, payload);
        _writer.WritePacket(_interfaceId, time, packet, packet.Length,
            fromLocal ? PacketDirection.Outbound : PacketDirection.Inbound, comment);
        PacketsWritten++;
    }

    private string Describe(ProcessInfo process, ConnectionAddress address)
    {
        string text = _describer.Describe(process.Pid, process.Comm, container: process.Container);
        if (!address.IsKnown)
        {
            return text + " (address unknown: made-up 4-tuple)";
        }

        return address.Inferred ? text + " (address inferred from the socket's next send)" : text;
    }
}
