using TlsScope.Bpf.Elf;
using TlsScope.Engine;
using TlsScope.Sources.Shell.Records;

namespace TlsScope.Sources.Shell;

/// <summary>One probe of a shell binary: a program at a function's file offset.</summary>
/// <param name="Library">The file probed when not the shell binary itself (zsh's zle.so).</param>
public readonly record struct ShellProbe(string Program, string Function, ulong FileOffset, bool IsReturn, string? Library = null);

/// <summary>
/// A shell binary the source probes, found by its symbols (Debian's stripped bash and zsh export
/// them all in .dynsym): bash's readline (prompt: $? and whether the line is a continuation or
/// `read -e`) and readline_internal_teardown (the line, even the one typed before the capture
/// started; plain readline when absent), zsh's zleentry (both). Addresses are link-time ones;
/// the kernel turns them into the process's (<see cref="ShellLayout"/>).
/// </summary>
public sealed record ShellBinary(string Path, ShellFamily Family, IReadOnlyList<ShellProbe> Probes, ShellLayout Layout)
{
    public string Name => Family == ShellFamily.Zsh ? "zsh" : "bash";

    /// <summary>The shells probed when none is given: each path once (/bin is often /usr/bin).</summary>
    public static readonly IReadOnlyList<string> DefaultPaths = ["/usr/bin/bash", "/bin/bash", "/usr/bin/zsh", "/bin/zsh"];

    /// <summary>Reads <paramref name="path"/>'s symbols.</summary>
    /// <exception cref="CaptureException">Not a bash or zsh the source can probe: why, in one line.</exception>
    public static ShellBinary Open(string path)
    {
        ElfSymbols symbols;
        ElfImage image;
        try
        {
            symbols = ElfSymbols.Open(path);
            image = ElfImage.Open(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ElfFormatException)
        {
            throw new CaptureException(e.Message.StartsWith(path, StringComparison.Ordinal) ? e.Message : $"{path}: {e.Message}");
        }

        using (image)
        {
            if (symbols.TryGetFunction("zleentry", out var zle))
            {
                var data = DataSymbols.Find(image, ["lastval"]);
                return new ShellBinary(path, ShellFamily.Zsh,
                    [new("zsh_zleentry", "zleentry", zle.FileOffset, false), new("zsh_line", "zleentry", zle.FileOffset, true), .. ZleModuleProbes()],
                    new ShellLayout { Shell = ShellFamily.Zsh, Anchor = zle.Address, Status = data.GetValueOrDefault("lastval") });
            }

            if (symbols.TryGetFunction("readline", out var readline))
            {
                var line = symbols.TryGetFunction("readline_internal_teardown", out var teardown) ? teardown : readline;
                var data = DataSymbols.Find(image, ["last_command_exit_value", "current_command_line_count", "executing_builtin"]);
                return new ShellBinary(path, ShellFamily.Bash,
                    [new("bash_readline", "readline", readline.FileOffset, false), new("bash_line", line.Name, line.FileOffset, true)],
                    new ShellLayout
                    {
                        Shell = ShellFamily.Bash,
                        Anchor = readline.Address,
                        Status = data.GetValueOrDefault("last_command_exit_value"),
                        LineCount = data.GetValueOrDefault("current_command_line_count"),
                        InBuiltin = data.GetValueOrDefault("executing_builtin"),
                    });
            }
        }

        throw new CaptureException($"{path}: neither bash's readline nor zsh's zleentry is in its symbol tables (stripped, "
            + "static, or readline in a library): its commands are seen as exec events only");
    }

    /// <summary>Where Debian, Fedora and Arch keep zsh's modules.</summary>
    private static readonly string[] ModuleRoots = ["/usr/lib/x86_64-linux-gnu/zsh", "/usr/lib64/zsh", "/usr/lib/zsh"];

    /// <summary>zlegetline's return in each zle.so: the line typed while the capture started
    /// (its zleentry was entered before the probe existed).</summary>
    private static IEnumerable<ShellProbe> ZleModuleProbes()
    {
        foreach (var root in ModuleRoots.Where(Directory.Exists))
        {
            foreach (var module in Directory.EnumerateFiles(root, "zle.so", SearchOption.AllDirectories))
            {
                ElfFunction getline;
                try
                {
                    if (!ElfSymbols.Open(module).TryGetFunction("zlegetline", out getline))
                    {
                        continue;
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or ElfFormatException)
                {
                    continue;
                }

                yield return new("zsh_first_line", "zlegetline", getline.FileOffset, true, module);
            }
        }
    }

    /// <summary>What a prompt cannot read in this binary ("" when everything).</summary>
    public string Missing => Family == ShellFamily.Zsh
        ? (Layout.Status == 0 ? "no lastval: statuses unknown" : "")
        : string.Join("; ", new[]
        {
            Layout.Status == 0 ? "no last_command_exit_value: statuses unknown" : null,
            Layout.LineCount == 0 ? "no current_command_line_count: multi-line commands split" : null,
            Layout.InBuiltin == 0 ? "no executing_builtin: `read -e` input taken for commands" : null,
        }.Where(m => m is not null));
}
