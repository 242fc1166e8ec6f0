using TlsScope.Tests.Tools;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using TlsScope.Engine.Kernel;
using TlsScope.Sources.Packets;
using TlsScope.Sources.Tls.Events;
using TlsScope.Sources.Tls.Go;
using TlsScope.Sources.Tls.Keys.Layout;

namespace TlsScope.Tests.Layout;

/// <summary>
/// The header's structs as gcc lays them out: a C program that includes bpf/include/events.h,
/// compiled and run once for the class. Field lists come from the header itself, so a field
/// added on one side only shows up as a count mismatch.
/// </summary>
public sealed partial class CLayoutFixture
{
    public static readonly string[] StructNames =
        ["tscope_sock_addr", "tscope_task", "tscope_event_head", "tscope_chunk", "tscope_conn_close", "tscope_stats", "tscope_config",
         "tscope_mem_path", "tscope_key_layout", "tscope_keys", "tscope_packet", "tscope_packet_stats", "tscope_cmdline",
         "tscope_go_layout", "tscope_key_line"];

    public static readonly string[] Macros =
    [
        "TSCOPE_COMM_LEN", "TSCOPE_CHUNK_DATA_MAX",
        "TSCOPE_EVENT_DATA", "TSCOPE_EVENT_CLOSE",
        "TSCOPE_DIR_READ", "TSCOPE_DIR_WRITE",
        "TSCOPE_CHUNK_FIRST", "TSCOPE_CHUNK_LAST", "TSCOPE_CHUNK_TRUNCATED", "TSCOPE_CHUNK_FD_INFERRED",
        "TSCOPE_KEY_SLOTS", "TSCOPE_KEY_SLOT_SIZE", "TSCOPE_MAX_LIBRARIES", "TSCOPE_PATH_DEPTH", "TSCOPE_PACKET_MAX",
        "TSCOPE_EVENT_KEYS", "TSCOPE_EVENT_PACKET", "TSCOPE_PACKET_EGRESS", "TSCOPE_PACKET_OWNED", "TSCOPE_KEYS_HANDSHAKE", "TSCOPE_CMDLINE_MAX",
        "TSCOPE_EVENT_KEY_LINE", "TSCOPE_GO_ABI_REGS", "TSCOPE_GO_ABI_STACK", "TSCOPE_KEY_LABEL_MAX", "TSCOPE_KEY_RANDOM_LEN", "TSCOPE_KEY_SECRET_MAX",
    ];

    /// <summary>One declared member of a C struct; a flexible array member has no size.</summary>
    public sealed record CField(string Name, bool FlexibleArray);

    public CLayoutFixture()
    {
        HeaderPath = Path.Combine(FindRepoRoot(), "bpf", "include", "events.h");
        var fields = ParseHeader(File.ReadAllText(HeaderPath));
        Fields = fields;
        Values = CompileAndRun(HeaderPath, fields);
    }

    public string HeaderPath { get; }

    /// <summary>Declared members of each struct, in declaration order.</summary>
    public IReadOnlyDictionary<string, List<CField>> Fields { get; }

    /// <summary>"name value" lines the C program printed.</summary>
    public IReadOnlyDictionary<string, long> Values { get; }

    public long Value(string name) =>
        Values.TryGetValue(name, out var v) ? v : throw new KeyNotFoundException($"the C program printed no '{name}'");

    /// <summary>The directory holding bpf/include/events.h, walking up from the test binaries.</summary>
    public static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "bpf", "include", "events.h")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no bpf/include/events.h above {AppContext.BaseDirectory}");
    }

    private static Dictionary<string, List<CField>> ParseHeader(string header)
    {
        var text = LineComment().Replace(BlockComment().Replace(header, " "), " ");
        var result = new Dictionary<string, List<CField>>(StringComparer.Ordinal);
        foreach (Match s in StructDefinition().Matches(text))
        {
            var fields = new List<CField>();
            foreach (var declaration in s.Groups[2].Value.Split(';'))
            {
                var d = declaration.Trim();
                if (d.Length == 0)
                {
                    continue;
                }

                var m = Declarator().Match(d);
                if (!m.Success)
                {
                    throw new InvalidOperationException($"cannot read the declaration '{d}' of struct {s.Groups[1].Value}");
                }

                fields.Add(new CField(m.Groups[1].Value, m.Groups[2].Success && m.Groups[2].Value.Trim() == "[]"));
            }
            result[s.Groups[1].Value] = fields;
        }
        foreach (var name in StructNames)
        {
            if (!result.ContainsKey(name))
            {
                throw new InvalidOperationException($"struct {name} not found in events.h");
            }
        }

        return result;
    }

    private static Dictionary<string, long> CompileAndRun(string headerPath, Dictionary<string, List<CField>> structs)
    {
        var gcc = FindProgram("gcc")
            ?? throw new InvalidOperationException("gcc is required by the layout tests (apt-get install gcc)");

        var c = new StringBuilder();
        c.AppendLine("#include <stdio.h>");
        c.AppendLine("#include <stddef.h>");
        c.AppendLine(CultureInfo.InvariantCulture, $"#include \"{headerPath}\"");
        c.AppendLine("int main(void)");
        c.AppendLine("{");
        foreach (var name in StructNames)
        {
            c.AppendLine(CultureInfo.InvariantCulture, $"\tprintf(\"{name}.size %zu\\n\", sizeof(struct {name}));");
            foreach (var f in structs[name])
            {
                c.AppendLine(CultureInfo.InvariantCulture,
                    $"\tprintf(\"{name}.{f.Name}.offset %zu\\n\", offsetof(struct {name}, {f.Name}));");
                if (!f.FlexibleArray)
                {
                    c.AppendLine(CultureInfo.InvariantCulture,
                        $"\tprintf(\"{name}.{f.Name}.size %zu\\n\", sizeof(((struct {name} *)0)->{f.Name}));");
                }
            }
        }
        foreach (var macro in Macros)
        {
            c.AppendLine(CultureInfo.InvariantCulture, $"\tprintf(\"{macro} %lld\\n\", (long long)({macro}));");
        }

        c.AppendLine("\treturn 0;");
        c.AppendLine("}");

        var dir = Directory.CreateTempSubdirectory("tlsscope-layout-").FullName;
        try
        {
            var source = Path.Combine(dir, "layout.c");
            var program = Path.Combine(dir, "layout");
            File.WriteAllText(source, c.ToString());
            Run(gcc, "-std=gnu11", "-Wall", "-Werror", "-o", program, source);
            var values = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var line in Run(program).Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var parts = line.Split(' ');
                if (parts.Length != 2)
                {
                    throw new InvalidOperationException($"unexpected line from the layout program: '{line}'");
                }

                values[parts[0]] = long.Parse(parts[1], CultureInfo.InvariantCulture);
            }
            return values;
        }
        finally
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
                // best effort
            }
        }
    }

    private static string? FindProgram(string name) => ExternalProgram.Find(name);

    private static string Run(string program, params string[] args) => ExternalProgram.Run(program, args);

    [GeneratedRegex(@"/\*.*?\*/", RegexOptions.Singleline)]
    private static partial Regex BlockComment();

    [GeneratedRegex(@"//[^\n]*")]
    private static partial Regex LineComment();

    [GeneratedRegex(@"struct\s+(tscope_\w+)\s*\{([^{}]*)\}\s*;")]
    private static partial Regex StructDefinition();

    // "__u8 local_addr[16]", "struct tscope_event_head head", "__u8 data[]"
    [GeneratedRegex(@"(\w+)\s*(\[[^\]]*\])?$")]
    private static partial Regex Declarator();
}

/// <summary>
/// Pins the C# mirrors in KernelStructs.cs to bpf/include/events.h: same members in the same
/// order, at the same offsets, with the same sizes, and the same constants.
/// </summary>
public sealed class KernelStructLayoutTests(CLayoutFixture c) : IClassFixture<CLayoutFixture>
{
    public static TheoryData<string, Type> Pairs => new()
    {
        { "tscope_sock_addr", typeof(SockAddr) },
        { "tscope_task", typeof(KernelTask) },
        { "tscope_event_head", typeof(EventHead) },
        { "tscope_chunk", typeof(ChunkHeader) },
        { "tscope_conn_close", typeof(ConnCloseRecord) },
        { "tscope_stats", typeof(KernelStats) },
        { "tscope_config", typeof(KernelConfig) },
        { "tscope_mem_path", typeof(MemPath) },
        { "tscope_keys", typeof(KeysRecord) },
        { "tscope_packet", typeof(PacketHeader) },
        { "tscope_packet_stats", typeof(PacketStats) },
        { "tscope_cmdline", typeof(CommandLineRecord) },
        { "tscope_go_layout", typeof(KernelGoLayout) },
        { "tscope_key_line", typeof(KeyLineRecord) },
    };

    /// <summary>C# has no fixed arrays of structs, so the layout's 12 paths are fields of their
    /// own there: compared by size and by the offsets after them.</summary>
    [Fact]
    public void KeyLayout_MatchesTheHeader()
    {
        Assert.Equal(c.Value("tscope_key_layout.size"), Unsafe.SizeOf<KernelKeyLayout>());
        foreach (var (c_, cs) in new[] { ("valid", nameof(KernelKeyLayout.Valid)), ("version_slot", nameof(KernelKeyLayout.VersionSlot)),
            ("ready_slot12", nameof(KernelKeyLayout.ReadySlot12)), ("ready_slot13", nameof(KernelKeyLayout.ReadySlot13)),
            ("handshake_mask", nameof(KernelKeyLayout.HandshakeMask)), ("handshake_ready_slot", nameof(KernelKeyLayout.HandshakeReadySlot)) })
        {
            Assert.True(c.Value($"tscope_key_layout.{c_}.offset") == (long)Marshal.OffsetOf<KernelKeyLayout>(cs), $"{c_} is not at {cs}'s offset");
        }

        Assert.Equal(1, c.Value("TSCOPE_KEYS_HANDSHAKE"));
        Assert.Equal(CommandLineRecord.Max, c.Value("TSCOPE_CMDLINE_MAX"));
        Assert.Equal(c.Value("tscope_key_layout.slot.size"), KernelKeyLayout.Slots * Unsafe.SizeOf<MemPath>());
        Assert.Equal(KernelKeyLayout.Slots, c.Value("TSCOPE_KEY_SLOTS"));
        Assert.Equal(KernelKeyLayout.SlotSize, c.Value("TSCOPE_KEY_SLOT_SIZE"));
        Assert.Equal(KernelKeyLayout.MaxLibraries, c.Value("TSCOPE_MAX_LIBRARIES"));
        Assert.Equal(MemPath.Depth, c.Value("TSCOPE_PATH_DEPTH"));
        Assert.Equal(PacketHeader.Max, c.Value("TSCOPE_PACKET_MAX"));
        Assert.Equal(EventKind.Keys, c.Value("TSCOPE_EVENT_KEYS"));
        Assert.Equal(EventKind.Packet, c.Value("TSCOPE_EVENT_PACKET"));
        Assert.Equal((long)PacketFlags.Egress, c.Value("TSCOPE_PACKET_EGRESS"));
        Assert.Equal((long)PacketFlags.Owned, c.Value("TSCOPE_PACKET_OWNED"));
    }

    [Fact]
    public void GoConstants_MatchTheHeader()
    {
        Assert.Equal(EventKind.KeyLine, c.Value("TSCOPE_EVENT_KEY_LINE"));
        Assert.Equal((long)GoAbi.Registers, c.Value("TSCOPE_GO_ABI_REGS"));
        Assert.Equal((long)GoAbi.Stack, c.Value("TSCOPE_GO_ABI_STACK"));
        Assert.Equal(KeyLineRecord.LabelMax, c.Value("TSCOPE_KEY_LABEL_MAX"));
        Assert.Equal(KeyLineRecord.RandomLength, c.Value("TSCOPE_KEY_RANDOM_LEN"));
        Assert.Equal(KeyLineRecord.SecretMax, c.Value("TSCOPE_KEY_SECRET_MAX"));
    }

    /// <summary>Instance fields in declaration order (metadata order is source order).</summary>
    private static FieldInfo[] Fields(Type t) =>
        t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
            .OrderBy(f => f.MetadataToken)
            .ToArray();

    private static int SizeOf(Type t) =>
        (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(t).Invoke(null, null)!;

    private static int FieldSize(Type t) =>
        t.IsEnum ? Marshal.SizeOf(Enum.GetUnderlyingType(t)) : Marshal.SizeOf(t);

    /// <summary>"stream_offset" and "StreamOffset" name the same member.</summary>
    private static string Normalize(string name) => name.Replace("_", "", StringComparison.Ordinal).ToLowerInvariant();

    [Fact]
    public void Header_DeclaresTheExpectedStructs()
    {
        Assert.Equal(CLayoutFixture.StructNames.Order(), c.Fields.Keys.Where(CLayoutFixture.StructNames.Contains).Order());
        // Parsing sanity: the chunk starts with the common head and ends with its payload.
        Assert.Equal("head", c.Fields["tscope_chunk"][0].Name);
        Assert.Equal(new CLayoutFixture.CField("data", FlexibleArray: true), c.Fields["tscope_chunk"][^1]);
        Assert.Equal(2, c.Fields.Values.SelectMany(f => f).Count(f => f.FlexibleArray)); // chunk and packet payloads
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public void TotalSize_MatchesTheHeader(string cName, Type mirror)
    {
        var expected = c.Value($"{cName}.size");
        Assert.Equal(expected, SizeOf(mirror));
        Assert.Equal(expected, Marshal.SizeOf(mirror)); // blittable: the marshalled size is the same
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public void Fields_MatchTheHeader_InOrder(string cName, Type mirror)
    {
        // The payload (a flexible array member) is not part of the C# header struct: it follows it.
        var cFields = c.Fields[cName].Where(f => !f.FlexibleArray).ToList();
        var csFields = Fields(mirror);

        Assert.True(cFields.Count == csFields.Length,
            $"{cName} has {cFields.Count} fields ({string.Join(", ", cFields.Select(f => f.Name))}); "
            + $"{mirror.Name} has {csFields.Length} ({string.Join(", ", csFields.Select(f => f.Name))})");
        for (var i = 0; i < cFields.Count; i++)
        {
            var cf = cFields[i];
            var cs = csFields[i];
            Assert.True(Normalize(cf.Name) == Normalize(cs.Name),
                $"field {i} of {cName} is '{cf.Name}' but field {i} of {mirror.Name} is '{cs.Name}'");
            var cOffset = c.Value($"{cName}.{cf.Name}.offset");
            var csOffset = (long)Marshal.OffsetOf(mirror, cs.Name);
            Assert.True(cOffset == csOffset, $"{cName}.{cf.Name} is at {cOffset}, {mirror.Name}.{cs.Name} at {csOffset}");
            var cSize = c.Value($"{cName}.{cf.Name}.size");
            var csSize = FieldSize(cs.FieldType);
            Assert.True(cSize == csSize, $"{cName}.{cf.Name} is {cSize} bytes, {mirror.Name}.{cs.Name} is {csSize}");
        }
    }

    [Fact]
    public void ChunkPayload_StartsRightAfterTheHeaderStruct()
    {
        Assert.Equal(c.Value("tscope_chunk.data.offset"), Unsafe.SizeOf<ChunkHeader>());
        Assert.Equal(c.Value("tscope_chunk.size"), c.Value("tscope_chunk.data.offset"));
    }

    [Fact]
    public void EveryRecordStartsWithTheEnvelope()
    {
        foreach (var record in (string[])["tscope_chunk", "tscope_conn_close", "tscope_keys", "tscope_packet"])
        {
            Assert.Equal("head", c.Fields[record][0].Name);
            Assert.Equal(0, c.Value($"{record}.head.offset"));
            Assert.Equal(c.Value("tscope_event_head.size"), c.Value($"{record}.head.size"));
        }
        foreach (var mirror in new[] { typeof(ChunkHeader), typeof(ConnCloseRecord), typeof(KeysRecord), typeof(PacketHeader) })
        {
            Assert.Equal(typeof(EventHead), mirror.GetField("Head")!.FieldType);
            Assert.Equal(0, (long)Marshal.OffsetOf(mirror, "Head"));
        }
    }

    [Fact]
    public void Constants_MatchTheHeaderMacros()
    {
        Assert.Equal(ChunkHeader.DataMax, c.Value("TSCOPE_CHUNK_DATA_MAX"));
        Assert.Equal(KernelConfig.CommLength, c.Value("TSCOPE_COMM_LEN"));
        Assert.Equal(KernelConfig.CommLength, c.Value("tscope_task.comm.size"));
        Assert.Equal(KernelConfig.CommLength, c.Value("tscope_config.comm.size"));
    }

    [Fact]
    public void Enums_MatchTheHeader()
    {
        Assert.Equal(EventKind.Data, c.Value("TSCOPE_EVENT_DATA"));
        Assert.Equal(EventKind.Close, c.Value("TSCOPE_EVENT_CLOSE"));
        Assert.Equal((long)TlsScope.Engine.Model.Direction.Read, c.Value("TSCOPE_DIR_READ"));
        Assert.Equal((long)TlsScope.Engine.Model.Direction.Write, c.Value("TSCOPE_DIR_WRITE"));
        Assert.Equal((long)ChunkFlags.First, c.Value("TSCOPE_CHUNK_FIRST"));
        Assert.Equal((long)ChunkFlags.Last, c.Value("TSCOPE_CHUNK_LAST"));
        Assert.Equal((long)ChunkFlags.Truncated, c.Value("TSCOPE_CHUNK_TRUNCATED"));
        Assert.Equal((long)ChunkFlags.FdInferred, c.Value("TSCOPE_CHUNK_FD_INFERRED"));
    }
}
