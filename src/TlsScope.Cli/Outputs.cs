using System.CommandLine;
using TlsScope.Output;
using TlsScope.Output.Files;
using TlsScope.Output.Har;
using TlsScope.Pcap;

namespace TlsScope.Cli;

/// <summary>The sinks of a run, made from its committed output files, each named by its option
/// and path for the messages of the fan-out.</summary>
internal sealed class Outputs
{
    private readonly List<NamedSink> sinks = [];

    public Outputs(CliOptions cli, ParseResult p, OutputFileSet files, PacketFilter? filter)
    {
        try
        {
            var main = p.GetValue(cli.Output) ?? SecureFile.StandardOutputPath;
            var toTerminal = main == SecureFile.StandardOutputPath;
            Add<IDisposable>(toTerminal ? "standard output" : files[CliOptions.OutputName].Label, () =>
            {
                var stream = toTerminal ? SecureFile.OpenStandardOutput() : files[CliOptions.OutputName].OpenStream();
                return p.GetValue(cli.Format) == "json"
                    ? new JsonSink(stream)
                    : (IDisposable)new TextSink(stream, new TextSinkOptions(Color: toTerminal && !Console.IsOutputRedirected, BodyLimit: p.GetValue(cli.BodyLimit)));
            });
            if (p.GetValue(cli.Json) is not null)
                Add(files[cli.Json.Name], f => new JsonSink(f.OpenStream()));
            if (p.GetValue(cli.Har) is not null)
                Add(files[cli.Har.Name], f => new HarSink(f.OpenStream()));
            if (p.GetValue(cli.Keylog) is not null)
                Add(files[cli.Keylog.Name], f => new KeyLogSink(f.OpenStream()));
            if (p.GetValue(cli.Pcapng) is not null)
                Pcapng = Add(files[cli.Pcapng.Name], f => new PcapngSink(new PcapngWriter(f.OpenStream(), f.Path), new PcapngSinkOptions { Filter = filter }));
            if (p.GetValue(cli.PcapngPlaintext) is not null)
                Plaintext = Add(files[cli.PcapngPlaintext.Name], f => new PlaintextPcapngSink(new PcapngWriter(f.OpenStream(), f.Path)));
        }
        catch
        {
            foreach (var s in sinks)
                s.Sink.Dispose();
            throw;
        }
    }

    public IReadOnlyList<NamedSink> Sinks => sinks;

    public PcapngSink? Pcapng { get; }

    public PlaintextPcapngSink? Plaintext { get; }

    private T Add<T>(OutputFile file, Func<OutputFile, T> make) where T : IDisposable => Add(file.Label, () => make(file));

    /// <summary>A sink's first bytes (a file header) may fail to write: that is this output's error.</summary>
    private T Add<T>(string label, Func<T> make) where T : IDisposable
    {
        T sink;
        try
        {
            sink = make();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OutputException($"{label}: {OutputException.Reason(e)}", e);
        }
        sinks.Add(new NamedSink(sink, label));
        return sink;
    }
}
