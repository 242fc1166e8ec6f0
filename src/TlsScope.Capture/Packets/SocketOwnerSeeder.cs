using System.Globalization;
using System.Text;
using TlsScope.Capture.Events;

namespace TlsScope.Capture.Packets;

/// <summary>
/// The kernel learns a socket's owner when a process connects or listens. Sockets opened before
/// the capture started are found here instead: /proc/net/tcp{,6} gives each socket's inode and
/// endpoints, /proc/PID/fd which process holds that inode.
/// </summary>
public static class SocketOwnerSeeder
{
    public sealed record Seed(SockAddr Key, SocketOwner Owner);

    /// <summary>Owners of the TCP sockets held by processes passing the capture's filters.</summary>
    public static unsafe List<Seed> Scan(CaptureOptions filter)
    {
        var sockets = new Dictionary<ulong, SockAddr>();
        ReadTable("/proc/net/tcp", 2, sockets);
        ReadTable("/proc/net/tcp6", 10, sockets);
        var seeds = new List<Seed>();
        if (sockets.Count == 0)
            return seeds;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
                continue;
            if (filter.Pid is { } want && want != pid)
                continue;
            try
            {
                var comm = File.ReadAllText(Path.Combine(dir, "comm")).TrimEnd('\n');
                var uid = ReadUid(dir);
                if ((filter.Uid is { } u && u != uid) || (filter.Comm is { } c && c != comm))
                    continue;
                foreach (var fd in Directory.EnumerateFileSystemEntries(Path.Combine(dir, "fd")))
                {
                    var target = new FileInfo(fd).LinkTarget;
                    if (target is null || !target.StartsWith("socket:[", StringComparison.Ordinal))
                        continue;
                    if (!ulong.TryParse(target.AsSpan(8, target.Length - 9), CultureInfo.InvariantCulture, out var inode))
                        continue;
                    if (!sockets.TryGetValue(inode, out var key))
                        continue;
                    var owner = new SocketOwner { Pid = (uint)pid, Uid = uid };
                    var bytes = Encoding.UTF8.GetBytes(comm);
                    bytes.AsSpan(0, Math.Min(bytes.Length, ChunkHeader.CommLength - 1)).CopyTo(new Span<byte>(owner.Comm, ChunkHeader.CommLength));
                    seeds.Add(new Seed(key, owner));
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // the process exited while we looked
            }
        }
        return seeds;
    }

    private static uint ReadUid(string dir)
    {
        foreach (var line in File.ReadLines(Path.Combine(dir, "status")))
            if (line.StartsWith("Uid:", StringComparison.Ordinal))
                return uint.Parse(line.Split('\t', ' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        return uint.MaxValue;
    }

    /// <summary>Parses "sl local rem st ... inode" rows; a listener's remote end stays zero,
    /// as the kernel's key for it has.</summary>
    private static unsafe void ReadTable(string path, ushort family, Dictionary<ulong, SockAddr> into)
    {
        if (!File.Exists(path))
            return;
        foreach (var line in File.ReadLines(path).Skip(1))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 10 || !ulong.TryParse(f[9], CultureInfo.InvariantCulture, out var inode) || inode == 0)
                continue;
            var listen = f[3] == "0A";
            var key = new SockAddr { Family = family };
            ParseEndpoint(f[1], new Span<byte>(key.LocalAddr, 16), out key.LocalPort);
            if (!listen)
                ParseEndpoint(f[2], new Span<byte>(key.RemoteAddr, 16), out key.RemotePort);
            into[inode] = key;
        }
    }

    /// <summary>"0100007F:1F90": the address as the kernel's 32-bit words printed in host
    /// (little-endian) order, the port in hex.</summary>
    internal static void ParseEndpoint(string text, Span<byte> addr, out ushort port)
    {
        var colon = text.IndexOf(':');
        var hex = text.AsSpan(0, colon);
        for (var word = 0; word < hex.Length / 8; word++)
            for (var b = 0; b < 4; b++)
                addr[word * 4 + b] = byte.Parse(hex.Slice(word * 8 + (3 - b) * 2, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        port = ushort.Parse(text.AsSpan(colon + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    }
}
