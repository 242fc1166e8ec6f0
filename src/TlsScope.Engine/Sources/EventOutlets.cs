using TlsScope.Engine.Model;

namespace TlsScope.Engine.Sources;

/// <summary>What a source delivers into, by kind: the run's one fan-out behind each.</summary>
public sealed record EventOutlets(ICaptureSink Chunks, IKeySink Keys, IPacketSink Packets, IEventPublisher Events);
