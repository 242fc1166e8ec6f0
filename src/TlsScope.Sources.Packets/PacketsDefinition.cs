using System.CommandLine;
using TlsScope.Engine.Sources;

namespace TlsScope.Sources.Packets;

/// <summary>The packet source on the command line: where packets are captured, and the source a
/// run asks for when an output takes packets (--pcapng).</summary>
public sealed class PacketsDefinition : ISourceDefinition
{
    public readonly Option<string[]> Interface = new("--interface", "-i") { HelpName = "NAME", Description = "Capture packets on this interface (repeatable; default: every interface that is up, loopback included)", AllowMultipleArgumentsPerToken = false };

    public string Name => "packets";

    public IEnumerable<Option> Options => [Interface];

    public string? Validate(ParseResult parsed, SourceDemand demand) =>
        !demand.Packets && (parsed.GetValue(Interface) ?? []).Length > 0 ? "--interface selects where --pcapng captures packets: give --pcapng FILE too" : null;

    /// <summary>Refuses an unknown interface, or a hook a living run holds, before anything is opened.</summary>
    public ICaptureSource? Create(ParseResult parsed, SourceDemand demand)
    {
        if (!demand.Packets)
        {
            return null;
        }

        var chosen = NetworkInterfaces.Select(parsed.GetValue(Interface) ?? []);
        TcHookClaims.EnsureFree(PacketSource.Hooks(chosen));
        return new PacketSource(chosen);
    }
}
