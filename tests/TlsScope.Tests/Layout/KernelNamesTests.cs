using System.Reflection;
using System.Text.RegularExpressions;
using TlsScope.Bpf;
using TlsScope.Engine.Processes;
using TlsScope.Sources.Packets;
using TlsScope.Sources.Shell;
using TlsScope.Sources.Tls;
using TlsScope.Sources.Tls.Probes;

namespace TlsScope.Tests.Layout;

/// <summary>
/// Every program and map name the C# side uses exists in the embedded objects: a renamed
/// program or map fails here, without root, instead of at attach time on a user's machine. The
/// names come from the probe tables and from every call into libbpf in src/ that names one.
/// </summary>
public sealed partial class KernelNamesTests
{
    private static readonly Assembly[] Owners = [typeof(TlsSource).Assembly, typeof(PacketSource).Assembly, typeof(ProcessWatch).Assembly, typeof(ShellSource).Assembly, typeof(TlsScope.Sources.Sql.SqlSource).Assembly];

    private static (HashSet<string> Programs, HashSet<string> Maps) Embedded()
    {
        var programs = new HashSet<string>(StringComparer.Ordinal);
        var maps = new HashSet<string>(StringComparer.Ordinal);
        foreach (var assembly in Owners)
        {
            foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith("bpf/", StringComparison.Ordinal)))
            {
                using var stream = assembly.GetManifestResourceStream(resource)!;
                var bytes = new byte[stream.Length];
                stream.ReadExactly(bytes);
                using var obj = BpfObject.Open(bytes, resource);
                programs.UnionWith(obj.ProgramNames());
                maps.UnionWith(obj.MapNames());
            }
        }
        return (programs, maps);
    }

    [Fact]
    public void EverySourceEmbedsItsObject()
    {
        Assert.Contains("bpf/tls.bpf.o", typeof(TlsSource).Assembly.GetManifestResourceNames());
        Assert.Contains("bpf/packets.bpf.o", typeof(PacketSource).Assembly.GetManifestResourceNames());
        Assert.Contains("bpf/process.bpf.o", typeof(ProcessWatch).Assembly.GetManifestResourceNames());
        Assert.Contains("bpf/shell.bpf.o", typeof(ShellSource).Assembly.GetManifestResourceNames());
    }

    [Fact]
    public void TheProbeTablesProgramsExist()
    {
        var (programs, _) = Embedded();
        foreach (var family in TlsSource.Families)
        {
            foreach (var probe in family.Probes)
            {
                Assert.True(programs.Contains(probe.Program), $"{family.Name}: no program {probe.Program} in the TLS object");
            }
        }

        foreach (var syscall in ProbeTable.FdSyscalls)
        {
            Assert.Contains("tp_" + syscall, programs);
        }
    }

    [Fact]
    public void EveryNameTheSourcesPassToLibbpfExists()
    {
        var (programs, maps) = Embedded();
        var used = UsedNames();
        Assert.True(used.Programs.Count >= 6 && used.Maps.Count >= 15, $"the scan found too few names: {used.Programs.Count} programs, {used.Maps.Count} maps");
        foreach (var (name, where) in used.Programs)
        {
            Assert.True(programs.Contains(name), $"{where}: no program named {name} in any embedded object");
        }

        foreach (var (name, where) in used.Maps)
        {
            Assert.True(maps.Contains(name), $"{where}: no map named {name} in any embedded object");
        }

        foreach (var map in ProcessWatch.TargetMaps)
        {
            Assert.Contains(map, maps);
        }
    }

    /// <summary>The names in src/'s calls that take a program or a map name, with where they are.</summary>
    private static (List<(string, string)> Programs, List<(string, string)> Maps) UsedNames()
    {
        var programs = new List<(string, string)>();
        var maps = new List<(string, string)>();
        var src = Path.Combine(CLayoutFixture.FindRepoRoot(), "src");
        foreach (var file in Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories).Where(f => !f.Contains("/obj/", StringComparison.Ordinal)))
        {
            var text = File.ReadAllText(file);
            var where = Path.GetRelativePath(src, file);
            foreach (Match m in MapCall().Matches(text))
            {
                maps.Add((m.Groups["name"].Value, where));
            }

            foreach (Match m in ProgramCall().Matches(text))
            {
                if (m.Groups["name"].Value != "tp_") // the syscall tracepoints, from the probe table above
                {
                    programs.Add((m.Groups["name"].Value, where));
                }
            }
        }
        return (programs, maps);
    }

    [GeneratedRegex("(?:\\.(?:Update|Lookup|Delete|MapFd|SetMaxEntries|SetInitialValue|SetCgroup|ShareMap)\\(|RingBuffer\\.Open\\([\\w!]+, |SumPerCpu<\\w+>\\([\\w!]+, |(?:scratchMap|ringMap): )\"(?<name>[^\"]+)\"")]
    private static partial Regex MapCall();

    [GeneratedRegex("(?:Attach(?:Raw)?Tracepoint\\([\\w!]+, \"|\\.Program\\(\"|SetAutoload\\(\"|\"(?=tscope_(?:egress|ingress)\"))(?<name>[a-z_][a-z0-9_]*)")]
    private static partial Regex ProgramCall();
}
