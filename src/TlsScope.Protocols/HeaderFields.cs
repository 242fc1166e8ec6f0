namespace TlsScope.Protocols;

/// <summary>Lookups over header fields kept as (name, value) pairs in wire order.</summary>
public static class HeaderFields
{
    /// <summary>The first value of the field named <paramref name="name"/> (case-insensitive), or null.</summary>
    public static string? Get(this IReadOnlyList<(string Name, string Value)> fields, string name)
    {
        // Indexed, not foreach: an interface's enumerator is a boxed object per call.
        for (int i = 0; i < fields.Count; i++)
        {
            if (string.Equals(fields[i].Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return fields[i].Value;
            }
        }

        return null;
    }
}
