using System.Text.Json;

namespace TlsScope.KernelTests.Infrastructure;

/// <summary>The SQL tests' capture: the tool with --sql around an action, and its sql_query
/// records read back.</summary>
public static class SqlCapture
{
    /// <summary>The sql_query records of a run with --sql and <paramref name="scope"/> around <paramref name="act"/>.</summary>
    public static List<JsonElement> Around(string[] scope, Action act)
    {
        using var run = TlsScopeRun.StartWith(["--format", "json"], ["--sql", .. scope]);
        act();
        run.StopCleanly();
        Assert.Contains("tlsscope: sql: ", run.Stderr);
        return [.. run.Records().OfType("sql_query")];
    }

    public static string? Str(JsonElement e, string name) => e.GetProperty(name).ValueKind == JsonValueKind.Null ? null : e.GetProperty(name).GetString();

    public static long? Num(JsonElement e, string name) => e.GetProperty(name).ValueKind == JsonValueKind.Null ? null : e.GetProperty(name).GetInt64();

    /// <summary>The one record of this statement text.</summary>
    public static JsonElement One(List<JsonElement> records, string query) => Assert.Single(records, r => Str(r, "query") == query);
}
