using System.Globalization;
using System.Text;
using TlsScope.Engine;
using TlsScope.Engine.Kernel;
using TlsScope.Engine.Processes;
using TlsScope.Engine.Targets;

namespace TlsScope.Sources.Packets;

/// <summary>
/// The kernel learns a socket's owner when a process connects or listens. Sockets opened before
/// the capture started are found here instead: /proc/net/tcp{,6} gives each socket's inode and
/// endpoints, /proc/PID/fd which process holds that inode.
/// </summary>
public static class SocketOwnerSeeder
{
    public sealed record Seed(SockAddr Key, KernelTask Owner);

    /// <summary>Owners of the TCP sockets held by processes in the target.</summary>
    /// <param name="traced">The kernel's live set of a pid target.</param>
    public static unsafe List<Seed> Scan(Target target, Func<int, bool> traced)
    {
        var sockets = new Dictionary<ulong, SockAddr[]>();
        ReadTable("/proc/net/tcp", 2, sockets);
        ReadTable("/proc/net/tcp6", 10, sockets);
        var seeds = new List<Seed>();
        if (sockets.Count == 0)
        {
            return seeds;
        }

        foreach (var pid in ProcMaps.AllPids())
        {
            if (!target.Matches(pid, traced))
            {
                continue;
            }

            var dir = $"/proc/{pid}";
            try
            {
                var comm = ProcessFacts.Comm(pid);
                var uid = ProcessFacts.Uid(pid);
                var owner = new KernelTask { Pid = (uint)pid, Uid = uid, CgroupId = ProcMaps.CgroupId(pid) ?? 0 };
                var name = Encoding.UTF8.GetBytes(comm);
                name.AsSpan(0, Math.Min(name.Length, KernelConfig.CommLength - 1)).CopyTo(new Span<byte>(owner.Comm, KernelConfig.CommLength));
                foreach (var fd in Directory.EnumerateFileSystemEntries(Path.Combine(dir, "fd")))
                {
                    var link = new FileInfo(fd).LinkTarget;
                    if (link is null || !link.StartsWith("socket:[", StringComparison.Ordinal))
                    {
                        continue;
                    }

                    if (!ulong.TryParse(link.AsSpan(8, link.Length - 9), CultureInfo.InvariantCulture, out var inode))
                    {
                        continue;
                    }

                    if (sockets.TryGetValue(inode, out var keys))
                    {
                        foreach (var key in keys)
                        {
                            seeds.Add(new Seed(key, owner));
                        }
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // the process exited while we looked
            }
        }
        return seeds;
    }


    /// <summary>Parses "sl local rem st ... inode" rows into the kernel's keys (packets.bpf.c):
    /// a listener's remote end stays zero, an IPv4 peer of a dual-stack socket is keyed as IPv4,
    /// and a listener on [::] has an IPv4 twin.</summary>
    private static unsafe void ReadTable(string path, ushort family, Dictionary<ulong, SockAddr[]> into)
    {
        if (!File.Exists(path))
        {
            return;
        }

        foreach (var line in File.ReadLines(path).Skip(1))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 10 || !ulong.TryParse(f[9], CultureInfo.InvariantCulture, out var inode) || inode == 0)
            {
                continue;
            }

            var listen = f[3] == "0A";
            var key = new SockAddr { Family = family };
            ParseEndpoint(f[1], new Span<byte>(key.LocalAddr, 16), out key.LocalPort);
            if (!listen)
            {
                ParseEndpoint(f[2], new Span<byte>(key.RemoteAddr, 16), out key.RemotePort);
            }

            into[inode] = AsKernelKeys(key, listen);
        }
    }

    private static unsafe SockAddr[] AsKernelKeys(SockAddr key, bool listen)
    {
        if (key.Family != 10)
        {
            return [key];
        }

        var local = new Span<byte>(key.LocalAddr, 16);
        var remote = new Span<byte>(key.RemoteAddr, 16);
        if (listen && !local.ContainsAnyExcept((byte)0))
        {
            var twin = key;
            twin.Family = 2;
            return [key, twin];
        }
        if (!IsV4Mapped(local) || (!listen && !IsV4Mapped(remote)))
        {
            return [key];
        }

        var v4 = new SockAddr { Family = 2, LocalPort = key.LocalPort, RemotePort = key.RemotePort };
        local[12..].CopyTo(new Span<byte>(v4.LocalAddr, 4));
        if (!listen)
        {
            remote[12..].CopyTo(new Span<byte>(v4.RemoteAddr, 4));
        }

        return [v4];
    }

    private static bool IsV4Mapped(ReadOnlySpan<byte> a) =>
        !a[..10].ContainsAnyExcept((byte)0) && a[10] == 0xff && a[11] == 0xff;

    /// <summary>"0100007F:1F90": the address as the kernel's 32-bit words printed in host
    /// (little-endian) order, the port in hex.</summary>
    internal static void ParseEndpoint(string text, Span<byte> addr, out ushort port)
    {
        var colon = text.IndexOf(':');
        var hex = text.AsSpan(0, colon);
        for (var word = 0; word < hex.Length / 8; word++)
        {
            for (var b = 0; b < 4; b++)
            {
                addr[word * 4 + b] = byte.Parse(hex.Slice(word * 8 + (3 - b) * 2, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            }
        }

        port = ushort.Parse(text.AsSpan(colon + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    }
}
