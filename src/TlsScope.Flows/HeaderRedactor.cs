namespace TlsScope.Flows;

/// <summary>
/// Replaces the values of credential-bearing headers with <see cref="Mask"/> before any sink sees
/// them. The default set is Authorization, Proxy-Authorization, Cookie and Set-Cookie.
/// </summary>
public sealed class HeaderRedactor
{
    public const string Mask = "[REDACTED]";

    public static readonly IReadOnlyList<string> DefaultNames =
        ["authorization", "proxy-authorization", "cookie", "set-cookie"];

    private readonly HashSet<string> _names;

    public HeaderRedactor(IEnumerable<string> extraNames)
    {
        _names = new HashSet<string>(DefaultNames, StringComparer.OrdinalIgnoreCase);
        foreach (string name in extraNames)
        {
            _names.Add(name.Trim());
        }
    }

    public bool ShouldRedact(string headerName) => _names.Contains(headerName);

    /// <summary>The fields with masked values; the same list when nothing needed masking.</summary>
    public IReadOnlyList<(string Name, string Value)> Apply(IReadOnlyList<(string Name, string Value)> fields)
    {
        List<(string Name, string Value)>? copy = null;
        for (int i = 0; i < fields.Count; i++)
        {
            if (ShouldRedact(fields[i].Name))
            {
                copy ??= [.. fields];
                copy[i] = (fields[i].Name, Mask);
            }
        }

        return copy ?? fields;
    }
}
