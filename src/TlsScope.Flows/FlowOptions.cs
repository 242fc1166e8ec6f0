namespace TlsScope.Flows;

/// <summary>How chunks become HTTP events.</summary>
public sealed record FlowOptions
{
    /// <summary>Default cap on the body bytes kept per message (the rest is counted, and the message marked truncated).</summary>
    public const long DefaultMaxBodyBytes = 16L * 1024 * 1024;

    /// <summary>Body bytes kept per message, before and after content decoding.</summary>
    public long MaxBodyBytes { get; init; } = DefaultMaxBodyBytes;

    /// <summary>Masks header values in every HTTP event; null keeps them.</summary>
    public HeaderRedactor? Redactor { get; init; }
}
