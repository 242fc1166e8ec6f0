using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using TlsScope.Sources.Shell.Records;
using TlsScope.Tests.Layout;
using TlsScope.Tests.Tools;

namespace TlsScope.Tests.Shell;

/// <summary>
/// Pins the C# mirrors in ShellRecords.cs to bpf/include/shell_events.h as gcc lays it out: the
/// same members in the same order, offsets and sizes, and the same constants. The header's
/// members are read by the events.h layout test's parser.
/// </summary>
public sealed class ShellRecordLayoutTests
{
    private static readonly (string C, Type Mirror)[] Pairs =
    [
        ("tscope_shell_who", typeof(WhoRecord)),
        ("tscope_shell_prompt", typeof(PromptRecord)),
        ("tscope_shell_line", typeof(LineRecord)),
        ("tscope_shell_end", typeof(EndRecord)),
        ("tscope_shell_exec", typeof(ExecAuditRecord)),
        ("tscope_shell_layout", typeof(ShellLayout)),
        ("tscope_shell_stats", typeof(ShellStats)),
    ];

    private static readonly (string Macro, long Value)[] Constants =
    [
        ("TSCOPE_EVENT_SHELL_PROMPT", ShellKind.Prompt), ("TSCOPE_EVENT_SHELL_LINE", ShellKind.Line),
        ("TSCOPE_EVENT_SHELL_END", ShellKind.End), ("TSCOPE_EVENT_SHELL_EXEC", ShellKind.Exec),
        ("TSCOPE_SHELL_BASH", (long)ShellFamily.Bash), ("TSCOPE_SHELL_ZSH", (long)ShellFamily.Zsh),
        ("TSCOPE_LINE_FIRST", (long)LineFlags.First), ("TSCOPE_LINE_LAST", (long)LineFlags.Last), ("TSCOPE_LINE_TRUNCATED", (long)LineFlags.Truncated),
        ("TSCOPE_PROMPT_STATUS", (long)PromptFlags.Status), ("TSCOPE_PROMPT_COUNT", (long)PromptFlags.LineCount), ("TSCOPE_PROMPT_BUILTIN", (long)PromptFlags.InBuiltin),
        ("TSCOPE_TTY_LEN", WhoRecord.TtyLength), ("TSCOPE_CWD_DEPTH", WhoRecord.CwdDepth), ("TSCOPE_CWD_PART", WhoRecord.CwdPart),
        ("TSCOPE_LINE_CHUNK", LineRecord.Chunk), ("TSCOPE_MAX_SHELL_BINARIES", TlsScope.Sources.Shell.ShellSource.MaxBinaries), ("TSCOPE_ARGS_MAX", ExecAuditRecord.ArgsMax), ("TSCOPE_PATH_MAX", ExecAuditRecord.PathMax),
    ];

    [Fact]
    public void TheMirrorsMatchTheHeader()
    {
        var root = CLayoutFixture.FindRepoRoot();
        var header = Path.Combine(root, "bpf", "include", "shell_events.h");
        var text = File.ReadAllText(Path.Combine(root, "bpf", "include", "events.h")) + File.ReadAllText(header);
        var parse = typeof(CLayoutFixture).GetMethod("ParseHeader", BindingFlags.NonPublic | BindingFlags.Static)!;
        var structs = (Dictionary<string, List<CLayoutFixture.CField>>)parse.Invoke(null, [text])!;
        var values = Compile(header, structs);
        foreach (var (c, mirror) in Pairs)
        {
            var cFields = structs[c].Where(f => !f.FlexibleArray && !Payload(c).Contains(f.Name)).ToList();
            var csFields = mirror.GetFields(BindingFlags.Instance | BindingFlags.Public).OrderBy(f => f.MetadataToken).ToArray();
            Assert.True(cFields.Count == csFields.Length, $"{c}: {cFields.Count} fields, {mirror.Name}: {csFields.Length}");
            Assert.Equal(Payload(c).Length == 0 ? values[$"{c}.size"] : values[$"{c}.{Payload(c)[0]}.offset"], Marshal.SizeOf(mirror));
            for (int i = 0; i < cFields.Count; i++)
            {
                var at = values[$"{c}.{cFields[i].Name}.offset"];
                Assert.True(at == (long)Marshal.OffsetOf(mirror, csFields[i].Name), $"{c}.{cFields[i].Name} at {at}, {mirror.Name}.{csFields[i].Name} elsewhere");
            }
        }

        Assert.Equal(values["tscope_shell_exec.filename.offset"] + ExecAuditRecord.PathMax, values["tscope_shell_exec.args.offset"]);
        Assert.Equal(values["tscope_shell_exec.args.offset"] + ExecAuditRecord.ArgsMax, values["tscope_shell_exec.size"]);
        Assert.Equal(values["tscope_shell_line.data.offset"] + LineRecord.Chunk, values["tscope_shell_line.size"]);
        foreach (var (macro, value) in Constants)
        {
            Assert.True(values[macro] == value, $"{macro} is {values[macro]} in the header, {value} in C#");
        }
    }

    /// <summary>The arrays that follow a record's C# header struct (read as spans after it): the
    /// line's data, the exec's filename and argv.</summary>
    private static string[] Payload(string c) => c switch
    {
        "tscope_shell_line" => ["data"],
        "tscope_shell_exec" => ["filename", "args"],
        _ => [],
    };

    private static Dictionary<string, long> Compile(string header, Dictionary<string, List<CLayoutFixture.CField>> structs)
    {
        var c = new StringBuilder($"#include <stdio.h>\n#include <stddef.h>\n#include \"{header}\"\nint main(void)\n{{\n");
        foreach (var (name, _) in Pairs)
        {
            c.Append(CultureInfo.InvariantCulture, $"\tprintf(\"{name}.size %zu\\n\", sizeof(struct {name}));\n");
            foreach (var f in structs[name])
            {
                c.Append(CultureInfo.InvariantCulture, $"\tprintf(\"{name}.{f.Name}.offset %zu\\n\", offsetof(struct {name}, {f.Name}));\n");
            }
        }

        foreach (var (macro, _) in Constants)
        {
            c.Append(CultureInfo.InvariantCulture, $"\tprintf(\"{macro} %lld\\n\", (long long)({macro}));\n");
        }

        c.Append("\treturn 0;\n}\n");
        var dir = Directory.CreateTempSubdirectory("tlsscope-shell-layout-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "layout.c"), c.ToString());
            ExternalProgram.Run(ExternalProgram.Find("gcc") ?? throw new InvalidOperationException("gcc is required"),
                "-std=gnu11", "-Wall", "-Werror", "-o", Path.Combine(dir, "layout"), Path.Combine(dir, "layout.c"));
            return ExternalProgram.Run(Path.Combine(dir, "layout")).Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => l.Split(' ')).ToDictionary(p => p[0], p => long.Parse(p[1], CultureInfo.InvariantCulture));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
