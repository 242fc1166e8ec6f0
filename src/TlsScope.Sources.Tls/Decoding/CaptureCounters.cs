namespace TlsScope.Sources.Tls.Decoding;

/// <summary>What user space saw, per library and in total; the kernel's own counters are in
/// <see cref="Events.KernelStats"/>.</summary>
public sealed class CaptureCounters
{
    public sealed class PerLibrary
    {
        public long Calls;
        public long Bytes;
    }

    public long Calls;
    public long Bytes;
    public long Records;
    public long TruncatedCalls;
    public long Gaps;
    public long GapBytes;
    public long Connections;
    public readonly Dictionary<string, PerLibrary> Libraries = new(StringComparer.Ordinal);

    private string? _lastName;
    private PerLibrary? _last;

    public PerLibrary For(string library)
    {
        // Names come from one table, so consecutive chunks of a library share one instance.
        if (ReferenceEquals(library, _lastName))
        {
            return _last!;
        }

        if (!Libraries.TryGetValue(library, out var l))
        {
            Libraries[library] = l = new PerLibrary();
        }

        _lastName = library;
        return _last = l;
    }
}
