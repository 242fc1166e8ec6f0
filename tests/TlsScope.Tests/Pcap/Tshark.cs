using TlsScope.Tests.Tools;

namespace TlsScope.Tests.Pcap;

/// <summary>Reads pcapng files with the machine's tshark, the judge of what we write.</summary>
internal static class Tshark
{
    /// <summary>One line per frame passing <paramref name="displayFilter"/>, fields tab-separated;
    /// a frame without the fields is an empty line, not a missing one.</summary>
    public static string[] Fields(string path, string displayFilter, params string[] fields) =>
        Fields(path, displayFilter, [], fields);

    public static string[] Fields(string path, string displayFilter, string[] options, params string[] fields)
    {
        var args = new List<string> { "-n", "-r", path };
        args.AddRange(options);
        if (displayFilter.Length > 0)
        {
            args.AddRange(["-Y", displayFilter]);
        }

        args.AddRange(["-T", "fields"]);
        foreach (string field in fields)
        {
            args.AddRange(["-e", field]);
        }

        string output = ExternalProgram.Run("tshark", [.. args]);
        return output.Split('\n')[..^1];
    }
}
