namespace TlsScope.Outputs.Pcapng;

/// <summary>What a <see cref="PcapngSink"/> did. Held packets count in
/// <see cref="PacketsWritten"/> too once written.</summary>
public sealed record PcapngSinkCounters(
    long PacketsWritten,
    long PacketsFilteredOut,
    long PacketsReleasedWithKeys,
    long PacketsReleasedWithoutKeys,
    long ConnectionsWithoutKeys,
    long KeySetsWritten)
{
    /// <summary>One line for the end-of-capture summary.</summary>
    public override string ToString() =>
        $"pcapng: {PacketsWritten} packets written ({PacketsFilteredOut} filtered out), " +
        $"{KeySetsWritten} key sets; held until their keys: {PacketsReleasedWithKeys} packets; " +
        $"written without keys: {PacketsReleasedWithoutKeys} packets of {ConnectionsWithoutKeys} TLS connections";
}
