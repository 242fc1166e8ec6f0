using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using TlsScope.Bpf;
using TlsScope.Engine.Model;
using TlsScope.Sources.Sql;
using TlsScope.Sources.Sql.Kernel;
using TlsScope.Tests.Layout;

namespace TlsScope.Tests.Sql;

/// <summary>Kernel records to statements: text pieces gathered per thread and call, results, identity.</summary>
public sealed unsafe partial class SqlRecordDecoderTests
{
    private static SqlRecordDecoder Decoder() => new(i => i == 0 ? "mariadb" : "mysql", ns => (long)ns);

    private static byte[] Text(uint tid, ulong call, uint offset, string text)
    {
        var h = new SqlTextHeader { CallId = call, Offset = offset, Len = (uint)Encoding.UTF8.GetByteCount(text) };
        h.Head.Kind = SqlEventKind.Text;
        h.Head.Task.Pid = 100;
        h.Head.Task.Tid = tid;
        return [.. MemoryMarshal.AsBytes(new ReadOnlySpan<SqlTextHeader>(ref h)), .. Encoding.UTF8.GetBytes(text)];
    }

    private static byte[] Query(uint tid, ulong call, uint textLen, Action<SqlQueryRecordEditor> edit)
    {
        var q = new SqlQueryRecord { StartNs = call, TextLen = textLen, TextSent = textLen, Command = 3 };
        q.Head.Kind = SqlEventKind.Query;
        q.Head.TimeNs = call + 2_500_000;
        q.Head.Task.Pid = 100;
        q.Head.Task.Tid = tid;
        q.Head.Task.Comm[0] = (byte)'m';
        edit(new SqlQueryRecordEditor(&q));
        return MemoryMarshal.AsBytes(new ReadOnlySpan<SqlQueryRecord>(ref q)).ToArray();
    }

    public sealed class SqlQueryRecordEditor(SqlQueryRecord* q)
    {
        public SqlQueryRecord* Record => q;

        public void Set(byte* field, string value) => Encoding.UTF8.GetBytes(value).CopyTo(new Span<byte>(field, value.Length));
    }

    [Fact]
    public void PiecesOfTwoThreadsAreKeptApart()
    {
        var d = Decoder();
        Assert.Null(d.Decode(Text(1, 10, 0, "SELECT 'a")));
        Assert.Null(d.Decode(Text(2, 20, 0, "SELECT 'b'")));
        Assert.Null(d.Decode(Text(1, 10, 9, "aa'")));
        var b = d.Decode(Query(2, 20, 10, e =>
        {
            e.Record->Flags = SqlQueryFlags.HasRows;
            e.Record->Rows = 1;
            e.Set(e.Record->User, "root");
            e.Set(e.Record->Db, "t");
            e.Set(e.Record->Host, "localhost");
        }));
        var a = d.Decode(Query(1, 10, 12, e =>
        {
            e.Record->Flags = SqlQueryFlags.HasError;
            e.Record->Error = 1054;
            e.Set(e.Record->SqlState, "42S22");
            e.Set(e.Record->Message, "Unknown column");
        }));

        Assert.Equal(new SqlQueryEvent(20 + 2_500_000, 20, new ProcessInfo(100, 2, 0, "m"), "mariadb", "query", "root", "t", "localhost", "SELECT 'b'", 10, null, null, null, 1), b);
        Assert.NotNull(a);
        Assert.Equal("SELECT 'aaa'", a.Query);
        Assert.Equal(1054, a.Error);
        Assert.Equal("42S22", a.SqlState);
        Assert.Equal("Unknown column", a.Message);
        Assert.Null(a.Rows);
        Assert.Null(a.User);
        Assert.Equal(2.5, a.DurationMs);
        Assert.Equal(0, d.TextIncomplete);
    }

    [Fact]
    public void TextOfAnotherCallOrWithAHoleIsIncomplete()
    {
        var d = Decoder();
        d.Decode(Text(1, 10, 0, "SELECT 1"));
        var other = d.Decode(Query(1, 11, 8, _ => { }));
        Assert.Equal("", other!.Query);
        Assert.Equal(8, other.MissingBytes);
        d.Decode(Text(1, 12, 0, "ab"));
        d.Decode(Text(1, 12, 4096, "cd")); // the piece at 2 was lost
        var holed = d.Decode(Query(1, 12, 4098, _ => { }));
        Assert.Equal("ab", holed!.Query);
        Assert.Equal(4096, holed.MissingBytes);
        Assert.Equal(2, d.TextIncomplete);
    }

    /// <summary>The C# mirrors have the sizes bpf/include/sql_events.h asserts (and the compiler
    /// checks there).</summary>
    [Fact]
    public void MirrorsHaveTheHeadersSizes()
    {
        var header = File.ReadAllText(Path.Combine(CLayoutFixture.FindRepoRoot(), "bpf", "include", "sql_events.h"));
        var sizes = SizeAssert().Matches(header).ToDictionary(m => m.Groups[1].Value, m => int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(sizes["tscope_sql_path"], sizeof(SqlPath));
        Assert.Equal(sizes["tscope_sql_server"], sizeof(SqlServerRecord));
        Assert.Equal(sizes["tscope_sql_text"], sizeof(SqlTextHeader));
        Assert.Equal(sizes["tscope_sql_query"], sizeof(SqlQueryRecord));
        Assert.Equal(sizes["tscope_sql_stats"], sizeof(SqlStats));
        Assert.Equal(5, sizes.Count);
        Assert.Contains($"TSCOPE_EVENT_SQL_TEXT = {SqlEventKind.Text},", header);
        Assert.Contains($"TSCOPE_EVENT_SQL_QUERY = {SqlEventKind.Query},", header);
        Assert.Contains($"TSCOPE_SQL_TEXT_CHUNK {SqlTextHeader.Chunk} ", header);
    }

    [Fact]
    public void TheProgramsAndMapsTheSourceNamesExist()
    {
        using var stream = typeof(SqlSource).Assembly.GetManifestResourceStream("bpf/sql.bpf.o")!;
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        using var obj = BpfObject.Open(bytes, "sql.bpf.o");
        var project = Path.Combine(CLayoutFixture.FindRepoRoot(), "src", "TlsScope.Sources.Sql");
        var named = Directory.EnumerateFiles(project, "*.cs", SearchOption.AllDirectories)
            .SelectMany(f => QuotedName().Matches(File.ReadAllText(f)).Select(m => m.Groups[1].Value)).ToHashSet();
        Assert.Superset(new HashSet<string> { "sql_scratch", "sql_events", "sql_servers", "sql_stats", "sql_dispatch", "sql_dispatch_return", "sql_execute",
            "sql_ok_status", "sql_error_status", "pg_activity", "pg_end_command", "pg_errstart", "pg_errcode", "pg_ready" }, named);
        foreach (var name in named)
        {
            Assert.True(obj.ProgramNames().Contains(name) || obj.MapNames().Contains(name), name);
        }
    }

    [GeneratedRegex(@"sizeof\(struct (\w+)\) == (\d+)")]
    private static partial Regex SizeAssert();

    [GeneratedRegex("\"((?:sql|pg)_[a-z_]+)\"")]
    private static partial Regex QuotedName();
}
