using System.Globalization;
using System.Text.Json;

namespace TlsScope.KernelTests.Infrastructure;

/// <summary>A veth pair: Name (with Address) in the namespace, PeerName (with PeerAddress) in
/// the same namespace or on the host. Addresses are without the /24.</summary>
public sealed record Veth(string Name, string Address, string PeerName, string PeerAddress, bool PeerInside);

/// <summary>One TC filter as `tc -j filter show` lists it; ProgramId/ProgramName for eBPF ones.</summary>
public sealed record TcFilter(string Kind, string Protocol, int Pref, string? Handle, string? Name,
    int? ProgramId, string? ProgramName, bool DirectAction);

/// <summary>
/// A network namespace of the test's own, named tscope-&lt;owner pid&gt;-&lt;random&gt;, with lo up.
/// Dispose kills what runs inside and deletes it (its veths go with it). Needs root and iproute2.
/// </summary>
public sealed class NetNs : IDisposable
{
    private const string Prefix = "tscope-";
    private readonly List<Proc> _started = [];

    private NetNs(string name) => Name = name;

    public string Name { get; }

    public static NetNs Create()
    {
        Tools.Require("ip", "iproute2");
        var ns = new NetNs($"{Prefix}{Environment.ProcessId}-{Random.Shared.Next(0x1000000):x6}");
        Ip("netns", "add", ns.Name);
        try
        {
            ns.Check("ip", "link", "set", "lo", "up");
        }
        catch
        {
            ns.Dispose();
            throw;
        }
        return ns;
    }

    /// <summary>A veth pair on a random 10.x.y.0/24, both ends up. With the peer on the host,
    /// traffic between the two addresses crosses the pair. With both ends inside, both addresses
    /// are local to the namespace, so traffic between them goes over lo, not the pair.</summary>
    public Veth AddVeth(bool peerInside = false)
    {
        var id = Random.Shared.Next(0x1000000);
        var (name, peer) = ($"tsv{id:x6}i", $"tsv{id:x6}p");
        var net = $"10.{200 + (id >> 16) % 50}.{(id >> 8) & 0xff}";
        Check("ip", "link", "add", name, "type", "veth", "peer", "name", peer);
        Check("ip", "addr", "add", net + ".1/24", "dev", name);
        Check("ip", "link", "set", name, "up");
        if (peerInside)
        {
            Check("ip", "addr", "add", net + ".2/24", "dev", peer);
            Check("ip", "link", "set", peer, "up");
        }
        else
        {
            Check("ip", "link", "set", peer, "netns", "1");
            Ip("addr", "add", net + ".2/24", "dev", peer);
            Ip("link", "set", peer, "up");
        }
        return new Veth(name, net + ".1", peer, net + ".2", peerInside);
    }

    /// <summary>Starts a command inside (ip netns exec keeps the pid: it execs the command).
    /// Killed on Dispose if still running.</summary>
    public Proc Start(string file, IEnumerable<string> args, IDictionary<string, string>? env = null, bool redirectStdin = false)
    {
        var proc = Proc.Start("ip", ["netns", "exec", Name, file, .. args], redirectStdin: redirectStdin, env: env);
        lock (_started)
        {
            _started.Add(proc);
        }

        return proc;
    }

    /// <summary>Starts in <paramref name="ns"/>, or on the host when it is null.</summary>
    public static Proc StartIn(NetNs? ns, string file, IEnumerable<string> args, IDictionary<string, string>? env = null) =>
        ns is null ? Proc.Start(file, args, env: env) : ns.Start(file, args, env);

    /// <summary>Runs a command inside to completion: (exit code, stdout, stderr).</summary>
    public (int Code, string Out, string Err) Run(string file, params string[] args) =>
        Proc.Run("ip", ["netns", "exec", Name, file, .. args], TimeSpan.FromSeconds(30));

    /// <summary>Runs inside and returns stdout; throws with stderr on failure.</summary>
    public string Check(string file, params string[] args)
    {
        var (code, output, err) = Run(file, args);
        if (code != 0)
        {
            throw new InvalidOperationException($"in {Name}: {file} {string.Join(' ', args)} failed with {code}: {err}");
        }

        return output;
    }

    /// <summary>Waits until a TCP listener on the port exists inside (ss sees the namespace's sockets).</summary>
    public void WaitListening(int port) =>
        Proc.WaitFor(() => Check("ss", "-Hltn", $"sport = :{port}").Trim().Length > 0,
            TimeSpan.FromSeconds(10), $"a listener on port {port} in {Name}");

    /// <summary>The TC filters on an interface inside; direction is "ingress" or "egress".</summary>
    public IReadOnlyList<TcFilter> TcFilters(string dev, string direction)
    {
        using var doc = JsonDocument.Parse(Check("tc", "-j", "filter", "show", "dev", dev, direction));
        // Each priority is listed once bare, then once per filter with its options.
        return doc.RootElement.EnumerateArray().Where(f => f.TryGetProperty("options", out _)).Select(f =>
        {
            var o = f.GetProperty("options");
            var prog = o.TryGetProperty("prog", out var p) ? p : (JsonElement?)null;
            return new TcFilter(f.GetProperty("kind").GetString()!, f.GetProperty("protocol").GetString()!,
                f.GetProperty("pref").GetInt32(), Str(o, "handle"), Str(o, "bpf_name"),
                prog?.GetProperty("id").GetInt32(), prog is { } q ? Str(q, "name") : null,
                o.TryGetProperty("direct-action", out var da) && da.GetBoolean());
        }).ToList();
    }

    /// <summary>Whether the interface inside has a clsact qdisc (where TC filters hang).</summary>
    public bool HasClsact(string dev)
    {
        using var doc = JsonDocument.Parse(Check("tc", "-j", "qdisc", "show", "dev", dev));
        return doc.RootElement.EnumerateArray().Any(q => q.GetProperty("kind").GetString() == "clsact");
    }

    /// <summary>Whether a namespace of this name exists.</summary>
    public static bool Exists(string name) => List().Contains(name);

    /// <summary>Every namespace's name.</summary>
    public static IReadOnlyList<string> List() =>
        Ip("netns", "list").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0]).ToList();

    /// <summary>Deletes tscope-* namespaces whose owning test process is gone (a crashed run's);
    /// those of a live run are left alone. Returns the names deleted.</summary>
    public static IReadOnlyList<string> DeleteStale()
    {
        var stale = List().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal) && !OwnerAlive(n)).ToList();
        foreach (var name in stale)
        {
            Delete(name);
        }

        return stale;
    }

    private static bool OwnerAlive(string name)
    {
        var parts = name[Prefix.Length..].Split('-');
        return int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && Directory.Exists($"/proc/{pid}");
    }

    /// <summary>Kills what runs inside, then deletes the namespace.</summary>
    private static void Delete(string name)
    {
        foreach (var pid in Ip("netns", "pids", name).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            Proc.Run("kill", ["-KILL", pid.Trim()]);
        }

        Ip("netns", "del", name);
    }

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) ? v.ToString() : null;

    private static string Ip(params string[] args)
    {
        var (code, output, err) = Proc.Run("ip", args, TimeSpan.FromSeconds(30));
        if (code != 0)
        {
            throw new InvalidOperationException($"ip {string.Join(' ', args)} failed with {code}: {err}");
        }

        return output;
    }

    public void Dispose()
    {
        lock (_started)
        {
            foreach (var p in _started)
            {
                p.Dispose();
            }

            _started.Clear();
        }
        if (Exists(Name))
        {
            Delete(Name);
        }
    }
}
