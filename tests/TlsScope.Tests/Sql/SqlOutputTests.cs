using System.Text;
using TlsScope.Engine.Model;
using TlsScope.Outputs.Json;
using TlsScope.Outputs.Text;

namespace TlsScope.Tests.Sql;

/// <summary>sql_query in NDJSON (every key, in order) and as one text line.</summary>
public sealed class SqlOutputTests
{
    private static readonly long Start = 1_795_000_000_000_000_000;

    private static SqlQueryEvent Failed() => new(Start + 1_250_000, Start, new ProcessInfo(812, 901, 103, "mariadbd"), "mariadb", "query",
        "root", "t", "localhost", "SELECT nosuch\nFROM a", 20, 1054, "42S22", "Unknown column 'nosuch' in 'SELECT'", null);

    [Fact]
    public void JsonLine()
    {
        var stream = new MemoryStream();
        using (var sink = new JsonSink(stream, leaveOpen: true))
        {
            sink.Receive(Failed());
            sink.Receive(Failed() with { Error = null, SqlState = null, Message = null, Rows = 3, User = null, Query = "INSERT", QueryLength = 4106 });
        }

        var lines = Encoding.UTF8.GetString(stream.ToArray()).Split('\n');
        Assert.Equal(
            """{"type":"sql_query","time":"2026-11-18T11:06:40.001250000Z","start":"2026-11-18T11:06:40.000000000Z","pid":812,"tid":901,"uid":103,"comm":"mariadbd","server":"mariadb","command":"query","user":"root","database":"t","client":"localhost","application":null,"query":"SELECT nosuch\nFROM a","query_len":20,"missing":0,"duration_ms":1.25,"error":1054,"sqlstate":"42S22","message":"Unknown column 'nosuch' in 'SELECT'","rows":null}""",
            lines[0]);
        Assert.Contains("\"user\":null,", lines[1]);
        Assert.EndsWith("\"query\":\"INSERT\",\"query_len\":4106,\"missing\":4100,\"duration_ms\":1.25,\"error\":null,\"sqlstate\":null,\"message\":null,\"rows\":3}", lines[1]);
        Assert.Equal("", lines[2]);
    }

    [Fact]
    public void TextLine()
    {
        var stream = new MemoryStream();
        using (var sink = new TextSink(stream, new TextSinkOptions(), TimeZoneInfo.Utc, leaveOpen: true))
        {
            sink.Receive(Failed());
            sink.Receive(Failed() with { Error = null, SqlState = null, Message = null, Rows = 3, Query = "INSERT INTO a VALUES (1),(2),(3)", QueryLength = 32 });
            sink.Receive(Failed() with { Server = "postgresql", Error = null, SqlState = "42703", Message = null, Application = "psql", Client = "[local]", QueryLength = 30 });
        }

        Assert.Equal(
            "11:06:40.001250 mariadbd[812/901] mariadb root@localhost db=t query 1.250ms error=1054 42S22 'Unknown column 'nosuch' in 'SELECT'': SELECT nosuch?FROM a\n\n"
            + "11:06:40.001250 mariadbd[812/901] mariadb root@localhost db=t query 1.250ms rows=3: INSERT INTO a VALUES (1),(2),(3)\n\n"
            + "11:06:40.001250 mariadbd[812/901] postgresql root@[local] db=t app=psql query 1.250ms error=42703 missing=10: SELECT nosuch?FROM a\n\n",
            Encoding.UTF8.GetString(stream.ToArray()));
    }
}
