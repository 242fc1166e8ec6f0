namespace TlsScope.KernelTests.Infrastructure;

/// <summary>
/// tshark on a capture file: the fields of each frame a display filter keeps, one row per frame
/// (several occurrences of a field in one frame joined by ','). A pcapng's own decryption secrets
/// blocks are used as they are; <c>keylog</c> adds an NSS key log file on top.
/// </summary>
public static class Tshark
{
    /// <summary>Rows of the fields of the frames <paramref name="displayFilter"/> (null: all) keeps.</summary>
    public static IReadOnlyList<string[]> Fields(string path, string? displayFilter, params string[] fields) =>
        FieldsWithKeylog(path, null, displayFilter, fields);

    /// <summary>Same, decrypting TLS with the key log file <paramref name="keylog"/> too (a name of
    /// its own: with params, an optional keylog argument would swallow the first field).</summary>
    public static IReadOnlyList<string[]> FieldsWithKeylog(string path, string? keylog, string? displayFilter, params string[] fields)
    {
        List<string> args = ["-T", "fields", "-E", "separator=/t", "-E", "occurrence=a"];
        foreach (var f in fields)
        {
            args.AddRange(["-e", f]);
        }

        var output = Run(path, displayFilter, keylog, args);
        return output.Split('\n')[..^1].Select(l => l.Split('\t')).ToArray();
    }

    /// <summary>Each frame's comment ("" for a frame without one), in frame order.</summary>
    public static IReadOnlyList<string> Comments(string path) =>
        Fields(path, null, "frame.comment").Select(r => r[0]).ToList();

    /// <summary>tshark -r PATH [-Y filter] [-o tls.keylog_file:KEYLOG] ARGS; stdout, or throws with stderr.</summary>
    public static string Run(string path, string? displayFilter, string? keylog, IEnumerable<string> args)
    {
        Tools.Require("tshark", "tshark");
        List<string> all = ["-r", path, "-n"];
        if (displayFilter is not null)
        {
            all.AddRange(["-Y", displayFilter]);
        }

        if (keylog is not null)
        {
            all.AddRange(["-o", "tls.keylog_file:" + keylog]);
        }

        all.AddRange(args);
        var (code, output, err) = Proc.Run("tshark", all);
        if (code != 0)
        {
            throw new InvalidOperationException($"tshark {string.Join(' ', all)} failed with {code}: {err}");
        }

        return output;
    }
}

/// <summary>Finds the external tools the peers need, failing with the package to install.</summary>
public static class Tools
{
    public static void Require(string command, string package)
    {
        var found = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, command)));
        if (!found)
        {
            throw new InvalidOperationException($"{command} is missing: install the {package} package (scripts/setup test)");
        }
    }
}
