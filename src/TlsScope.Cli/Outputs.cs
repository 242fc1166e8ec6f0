using System.CommandLine;
using TlsScope.Outputs;
using TlsScope.Outputs.Files;
using TlsScope.Outputs.Pcapng;
using TlsScope.Outputs.Har;
using TlsScope.Outputs.Json;
using TlsScope.Outputs.KeyLog;
using TlsScope.Outputs.Text;

namespace TlsScope.Cli;

/// <summary>The sinks of a run, made from its committed output files, each named by its option
/// and path for the messages of the fan-out.</summary>
internal sealed class Outputs
{
    private readonly List<NamedSink> _sinks = [];

    public Outputs(CliOptions cli, ParseResult p, OutputFileSet files, PacketFilter? filter)
    {
        try
        {
            var main = p.GetValue(cli.Output) ?? SecureFile.StandardOutputPath;
            var toStdout = OutputFileSet.IsStandardOutput(main);
            Add(Name(files, CliOptions.OutputName, main), () =>
            {
                var stream = Open(files, CliOptions.OutputName, main);
                return p.GetValue(cli.Format) == "json"
                    ? new JsonSink(stream)
                    : (IDisposable)new TextSink(stream, new TextSinkOptions(Color: toStdout && !Console.IsOutputRedirected, BodyLimit: p.GetValue(cli.BodyLimit)));
            });
            if (p.GetValue(cli.Json) is { } json)
            {
                Add(Name(files, cli.Json.Name, json), () => new JsonSink(Open(files, cli.Json.Name, json)));
            }

            if (p.GetValue(cli.Har) is not null)
            {
                Add(files[cli.Har.Name].Label, () => new HarSink(files[cli.Har.Name].OpenStream()));
            }

            if (p.GetValue(cli.Keylog) is { } keylog)
            {
                Add(Name(files, cli.Keylog.Name, keylog), () => new KeyLogSink(Open(files, cli.Keylog.Name, keylog)));
            }

            if (p.GetValue(cli.Pcapng) is { } pcap)
            {
                Pcapng = Add(Name(files, cli.Pcapng.Name, pcap), () => new PcapngSink(Writer(Open(files, cli.Pcapng.Name, pcap), pcap), new PcapngSinkOptions { Filter = filter }));
            }

            if (p.GetValue(cli.PcapngPlaintext) is { } plain)
            {
                Plaintext = Add(Name(files, cli.PcapngPlaintext.Name, plain), () => new PlaintextPcapngSink(Writer(Open(files, cli.PcapngPlaintext.Name, plain), plain)));
            }
        }
        catch
        {
            foreach (var s in _sinks)
            {
                s.Sink.Dispose();
            }

            throw;
        }
    }

    public IReadOnlyList<NamedSink> Sinks => _sinks;

    public PcapngSink? Pcapng { get; }

    public PlaintextPcapngSink? Plaintext { get; }

    private static string Name(OutputFileSet files, string option, string path) =>
        OutputFileSet.IsStandardOutput(path) ? "standard output" : files[option].Label;

    private static Stream Open(OutputFileSet files, string option, string path) =>
        OutputFileSet.IsStandardOutput(path) ? SecureFile.OpenStandardOutput() : files[option].OpenStream();

    /// <summary>A pcapng writer owns its stream once made; if its header cannot be written, the stream is closed here.</summary>
    private static PcapngWriter Writer(Stream stream, string path)
    {
        try
        {
            return new PcapngWriter(stream, path);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>A sink's first bytes (a file header) may fail to write: that is this output's error.</summary>
    private T Add<T>(string label, Func<T> make) where T : IDisposable
    {
        T sink;
        try
        {
            sink = make();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or OutputException)
        {
            throw new OutputException($"{label}: {OutputException.Reason(e)}", e);
        }
        _sinks.Add(new NamedSink(sink, label));
        return sink;
    }
}
