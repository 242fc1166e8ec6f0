using System.Globalization;
using TlsScope.Engine.Model;
using TlsScope.Engine;

namespace TlsScope.Sources.Packets;

/// <summary>The interfaces of this network namespace, from /sys/class/net.</summary>
public static class NetworkInterfaces
{
    private const string SysNet = "/sys/class/net";
    private const int IffUp = 0x1;

    /// <summary>A capturable interface and the length of its link-layer header.</summary>
    public sealed record Entry(CaptureInterface Interface, bool IsLoopback, bool IsUp)
    {
        /// <summary>Bytes before the IP header: Ethernet's 14, raw IP's none.</summary>
        public int LinkHeaderLength => Interface.LinkType == 1 ? 14 : 0;
    }

    public static IReadOnlyList<Entry> All()
    {
        var list = new List<Entry>();
        if (!Directory.Exists(SysNet))
        {
            return list;
        }

        foreach (var dir in Directory.GetDirectories(SysNet).Order(StringComparer.Ordinal))
        {
            var e = Read(Path.GetFileName(dir));
            if (e is not null)
            {
                list.Add(e);
            }
        }
        return list;
    }

    /// <summary>The interfaces named with -i, or, when none, every interface that is up.</summary>
    /// <exception cref="CaptureException">A name is unknown or its link type is not supported.</exception>
    public static IReadOnlyList<Entry> Select(IReadOnlyList<string> names)
    {
        if (names.Count == 0)
        {
            return All().Where(e => e.IsUp).ToList();
        }

        var chosen = new List<Entry>();
        foreach (var name in names.Distinct(StringComparer.Ordinal))
        {
            if (name.Contains('/') || !Directory.Exists(Path.Combine(SysNet, name)))
            {
                throw new CaptureException($"-i {name}: no such network interface");
            }

            chosen.Add(Read(name) ?? throw new CaptureException($"-i {name}: link type not supported (only Ethernet, loopback and raw IP)"));
        }
        return chosen;
    }

    private static Entry? Read(string name)
    {
        var dir = Path.Combine(SysNet, name);
        try
        {
            var index = int.Parse(File.ReadAllText(Path.Combine(dir, "ifindex")).Trim(), CultureInfo.InvariantCulture);
            var type = int.Parse(File.ReadAllText(Path.Combine(dir, "type")).Trim(), CultureInfo.InvariantCulture);
            var flags = Convert.ToInt32(File.ReadAllText(Path.Combine(dir, "flags")).Trim(), 16);
            // ARPHRD_ETHER (1) and ARPHRD_LOOPBACK (772) carry an Ethernet header; ARPHRD_NONE
            // (65534: tun, wireguard) starts at the IP header.
            int? linkType = type switch
            {
                1 or 772 => 1,
                65534 => 101,
                _ => null,
            };
            if (linkType is not { } l)
            {
                return null;
            }

            return new Entry(new CaptureInterface(index, name, l), type == 772, (flags & IffUp) != 0);
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException)
        {
            return null; // the interface went away while we looked
        }
    }
}
