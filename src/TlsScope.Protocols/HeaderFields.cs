namespace TlsScope.Protocols;

/// <summary>Lookups over header fields kept as (name, value) pairs in wire order.</summary>
public static class HeaderFields
{
    /// <summary>The first value of the field named <paramref name="name"/> (case-insensitive), or null.</summary>
    public static string? Get(this IReadOnlyList<(string Name, string Value)> fields, string name)
    {
        foreach (var (n, v) in fields)
        {
            if (string.Equals(n, name, StringComparison.OrdinalIgnoreCase))
            {
                return v;
            }
        }

        return null;
    }
}
