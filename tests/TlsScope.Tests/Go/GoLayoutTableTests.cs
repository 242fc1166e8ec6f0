using System.Globalization;
using System.Text.RegularExpressions;
using TlsScope.Bpf.Elf;
using TlsScope.Sources.Tls.Go;
using TlsScope.Tests.Tools;

namespace TlsScope.Tests.Go;

/// <summary>
/// The Go facts the kernel reads by, against the real thing: every offset of
/// <see cref="GoLayoutTable"/> against the DWARF of a binary built by each toolchain, and the type
/// hash <see cref="TypeHashes"/> finds in a binary (stripped ones included) against the one the
/// program's runtime holds for *net.TCPConn.
/// </summary>
public sealed partial class GoLayoutTableTests
{
    [Theory]
    [MemberData(nameof(GoTestBinaries.EveryVersion), MemberType = typeof(GoTestBinaries))]
    public void EveryOffsetMatchesTheDwarfOfThatRelease(string version)
    {
        var binary = GoTestBinaries.Matrix(version, "default");
        var dwarf = Members(binary);
        var layout = GoLayoutTable.For(Version.Parse(version), 0, out var problem);
        Assert.Null(problem);
        var l = layout!.Value;

        Assert.Equal(Version.Parse(version) >= new Version(1, 17) ? GoAbi.Registers : GoAbi.Stack, l.Abi);
        Assert.Equal(dwarf[("runtime.g", "goid")], l.GoidOffset);
        Assert.Equal(dwarf[("runtime.g", "stack")], l.StackLoOffset);
        Assert.Equal(0u, dwarf[("runtime.stack", "lo")]);
        Assert.Equal(8u, dwarf[("runtime.stack", "hi")]);
        Assert.Equal(dwarf[("crypto/tls.Conn", "conn")], l.ConnOffset);
        Assert.Equal(dwarf[("net.TCPConn", "conn")] + dwarf[("net.conn", "fd")], l.NetFdOffset);
        Assert.Equal(dwarf[("net.netFD", "pfd")] + dwarf[("internal/poll.FD", "Sysfd")], l.SysfdOffset);
        var itabHash = dwarf.TryGetValue(("internal/abi.ITab", "Hash"), out var h) ? h : dwarf[("runtime.itab", "hash")];
        Assert.Equal(itabHash, l.ItabHashOffset);
    }

    [Theory]
    [MemberData(nameof(GoTestBinaries.MatrixCases), MemberType = typeof(GoTestBinaries))]
    [MemberData(nameof(LayoutOnly))]
    public void TheTcpConnTypeHashFoundInTheBinaryIsTheOneItsRuntimeHolds(string version, string variant)
    {
        var binary = GoTestBinaries.Matrix(version, variant);
        using var image = ElfImage.Open(binary);
        var found = TypeHashes.FindPointerType(image, TypeHashes.TcpConn);
        // gopeer typehash: the program reads its own *net.TCPConn type descriptor at run time.
        var truth = uint.Parse(ExternalProgram.Run(binary, "typehash").Trim(), CultureInfo.InvariantCulture);
        Assert.Equal(truth, found);
    }

    public static IEnumerable<object[]> LayoutOnly() =>
        GoTestBinaries.AllVersions.Except(GoTestBinaries.Versions).Select(v => new object[] { v, "default" });

    /// <summary>(struct, member) -> offset for every structure in the binary's DWARF, as readelf
    /// prints it: a DW_TAG_structure_type at depth 1, its DW_TAG_member children at depth 2.</summary>
    private static Dictionary<(string, string), uint> Members(string binary)
    {
        var result = new Dictionary<(string, string), uint>();
        string? structure = null;
        string? member = null;
        var inStruct = false;
        foreach (var raw in ExternalProgram.Run("readelf", "--debug-dump=info", binary).Split('\n'))
        {
            if (Entry().Match(raw) is { Success: true } entry)
            {
                var depth = entry.Groups[1].Value;
                var tag = entry.Groups[2].Value;
                if (depth == "1")
                {
                    inStruct = tag == "DW_TAG_structure_type";
                    structure = null;
                }

                member = depth == "2" && inStruct && tag == "DW_TAG_member" ? "" : null;
                continue;
            }

            if (Attribute().Match(raw) is not { Success: true } attribute)
            {
                continue;
            }

            var (name, value) = (attribute.Groups[1].Value, attribute.Groups[2].Value.Trim());
            if (inStruct && member is null && structure is null && name == "DW_AT_name")
            {
                structure = value;
            }
            else if (member is not null && name == "DW_AT_name")
            {
                member = value;
            }
            else if (member is { Length: > 0 } && structure is not null && name == "DW_AT_data_member_location")
            {
                result.TryAdd((structure, member), uint.Parse(value, CultureInfo.InvariantCulture));
            }
        }

        return result;
    }

    // " <1><95afb>: Abbrev Number: 39 (DW_TAG_structure_type)"
    [GeneratedRegex(@"^\s*<(\d+)><[0-9a-f]+>: Abbrev Number: \d+ \((\w+)\)")]
    private static partial Regex Entry();

    // "    <95b12>   DW_AT_name        : stack"
    [GeneratedRegex(@"^\s*<[0-9a-f]+>\s+(DW_AT_\w+)\s*:\s*(.*)$")]
    private static partial Regex Attribute();
}
