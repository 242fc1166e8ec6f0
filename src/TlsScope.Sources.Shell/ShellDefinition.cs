using System.CommandLine;
using TlsScope.Engine;
using TlsScope.Engine.Sources;

namespace TlsScope.Sources.Shell;

/// <summary>The shell source on the command line: --shell (interactive bash/zsh command lines
/// with their status, and exec events), --exec (exec events alone: no probe in any shell),
/// --shell-binary (probe these shells instead of the system's bash and zsh).</summary>
public sealed class ShellDefinition : ISourceDefinition
{
    public readonly Option<bool> Lines = new("--shell") { Description = "Capture the command lines of interactive bash and zsh (who, where, exit status, the programs they ran) and every exec (bash -c, scripts, other shells)" };
    public readonly Option<bool> Execs = new("--exec") { Description = "Capture every exec (program, arguments, working directory, user, terminal) without probing any shell" };
    public readonly Option<string[]> Binaries = new("--shell-binary") { HelpName = "PATH", Description = "With --shell: probe this bash or zsh instead of /usr/bin/bash and /usr/bin/zsh (repeatable; a copied or other shell)", AllowMultipleArgumentsPerToken = false };

    public string Name => "shell";

    public IEnumerable<Option> Options => [Lines, Execs, Binaries];

    public bool IsNamed(ParseResult parsed) => parsed.GetValue(Lines) || parsed.GetValue(Execs);

    public string? Validate(ParseResult parsed, SourceDemand demand) =>
        !parsed.GetValue(Lines) && (parsed.GetValue(Binaries) ?? []).Length > 0 ? "--shell-binary is a --shell option: add --shell"
        : (parsed.GetValue(Binaries) ?? []).FirstOrDefault(p => p.Length == 0) is not null ? "--shell-binary: must not be empty"
        : null;

    /// <summary>Reads the shells' symbols now: a given binary that is not a shell the source can
    /// probe is refused in one line.</summary>
    public ICaptureSource? Create(ParseResult parsed, SourceDemand demand)
    {
        if (!IsNamed(parsed))
        {
            return null;
        }

        if (!parsed.GetValue(Lines))
        {
            return new ShellSource([], []);
        }

        var given = parsed.GetValue(Binaries) ?? [];
        if (given.Length > 0)
        {
            foreach (var path in given.Where(p => !File.Exists(p)))
            {
                throw new CaptureException($"--shell-binary {path}: no such file");
            }

            return new ShellSource(Distinct(given).Select(p => Catch(() => ShellBinaryOpen(p), "--shell-binary ")).ToList(), []);
        }

        var found = new List<ShellBinary>();
        var refused = new List<string>();
        foreach (var path in Distinct(ShellBinary.DefaultPaths.Where(File.Exists)))
        {
            try
            {
                found.Add(ShellBinaryOpen(path));
            }
            catch (CaptureException e)
            {
                refused.Add(e.Message);
            }
        }

        return new ShellSource(found, refused);
    }

    private static ShellBinary ShellBinaryOpen(string path) => ShellBinary.Open(path);

    private static T Catch<T>(Func<T> open, string prefix)
    {
        try
        {
            return open();
        }
        catch (CaptureException e)
        {
            throw new CaptureException(prefix + e.Message);
        }
    }

    /// <summary>Each file once (/bin/bash is /usr/bin/bash when /bin links to usr/bin).</summary>
    private static IEnumerable<string> Distinct(IEnumerable<string> paths) =>
        paths.GroupBy(p => Bpf.FileIdentity.Of(p)?.ToString() ?? p).Select(g => g.First());
}
