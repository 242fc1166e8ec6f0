using System.Runtime.InteropServices;
using TlsScope.Engine.Kernel;

namespace TlsScope.Sources.Sql.Kernel;

// Blittable mirrors of bpf/include/sql_events.h. A test pins their sizes to the header.

public static class SqlEventKind
{
    public const uint Text = 32;
    public const uint Query = 33;
}

public enum SqlLayout : uint
{
    /// <summary>dispatch_command(command, THD*, packet, length, ...): MariaDB, MySQL 5.6.</summary>
    CommandFirst = 1,

    /// <summary>dispatch_command(THD*, const COM_DATA*, command): MySQL 5.7 and 8.0.</summary>
    ComData = 2,

    /// <summary>A PostgreSQL backend: pgstat_report_activity to ReadyForQuery.</summary>
    Postgres = 3,
}

[Flags]
public enum SqlQueryFlags : uint
{
    None = 0,
    HasRows = 1,
    HasError = 2,
}

/// <summary>struct tscope_sql_path: loads from the THD, the last one the value.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct SqlPath
{
    public const int MaxDepth = 4;
    public fixed uint Off[MaxDepth];
    public uint Depth;
    public uint Pad;

    public static SqlPath Of(IReadOnlyList<uint> offsets)
    {
        if (offsets.Count > MaxDepth)
        {
            throw new ArgumentException($"at most {MaxDepth} loads", nameof(offsets));
        }

        var p = default(SqlPath);
        for (var i = 0; i < offsets.Count; i++)
        {
            p.Off[i] = offsets[i];
        }

        p.Depth = (uint)offsets.Count;
        return p;
    }
}

[StructLayout(LayoutKind.Sequential)]
public struct SqlServerRecord
{
    public const int MaxServers = 64;
    public SqlLayout Layout;
    public uint Pad;
    public SqlPath User;
    public SqlPath Host;
    public SqlPath Db;
    public SqlPath Query;
    public SqlPath QueryLen;
    public ulong PgPort;
    public ulong PgAnchor;
    public uint PgUser;
    public uint PgDb;
    public uint PgHost;
    public uint PgApp;
    public uint PgErrorLevel;
    public uint Pad2;
}

[StructLayout(LayoutKind.Sequential)]
public struct SqlTextHeader
{
    public const int Chunk = 4096;
    public EventHead Head;
    public ulong CallId;
    public uint Offset;
    public uint Len;
}

[StructLayout(LayoutKind.Sequential)]
public unsafe struct SqlQueryRecord
{
    public const int NameMax = 128;
    public const int MessageMax = 512;
    public const int AppMax = 64;

    public EventHead Head;
    public ulong StartNs;
    public ulong Rows;
    public uint Server;
    public uint Command;
    public SqlQueryFlags Flags;
    public uint Error;
    public uint TextLen;
    public uint TextSent;
    public fixed byte SqlState[8];
    public fixed byte User[NameMax];
    public fixed byte Host[NameMax];
    public fixed byte Db[NameMax];
    public fixed byte App[AppMax];
    public fixed byte Message[MessageMax];
}

[StructLayout(LayoutKind.Sequential)]
public struct SqlStats : ICounters<SqlStats>
{
    public ulong Queries;
    public ulong LostQueries;
    public ulong LostText;
    public ulong CutText;
    public ulong Unreadable;
    public ulong BusyDrops;
    public ulong MissedStarts;

    public void Add(in SqlStats o)
    {
        Queries += o.Queries;
        LostQueries += o.LostQueries;
        LostText += o.LostText;
        CutText += o.CutText;
        Unreadable += o.Unreadable;
        BusyDrops += o.BusyDrops;
        MissedStarts += o.MissedStarts;
    }
}
