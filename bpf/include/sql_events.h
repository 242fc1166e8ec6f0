/* The SQL source's records (bpf/sql). Kept apart from events.h, which the other sources share;
 * the C# mirrors are in src/TlsScope.Sources.Sql/Kernel/SqlRecords.cs (a test pins their sizes).
 * Same rules as events.h: fixed-width types, explicit padding, payload last. */
#ifndef TLSSCOPE_SQL_EVENTS_H
#define TLSSCOPE_SQL_EVENTS_H

#include "events.h"

/* Kinds of their own, far from events.h's, so that sources added elsewhere never collide. */
enum tscope_sql_event_kind {
	TSCOPE_EVENT_SQL_TEXT = 32,  /* struct tscope_sql_text: a piece of a statement's text */
	TSCOPE_EVENT_SQL_QUERY = 33, /* struct tscope_sql_query: a statement ended */
};

#define TSCOPE_SQL_TEXT_CHUNK 4096 /* text bytes per record */
#define TSCOPE_SQL_TEXT_CHUNKS 256 /* records per statement: 1 MiB; the rest is counted */
#define TSCOPE_SQL_NAME_MAX 128	   /* user, client host, database */
#define TSCOPE_SQL_MESSAGE_MAX 512 /* MYSQL_ERRMSG_SIZE */
#define TSCOPE_SQL_APP_MAX 64	   /* NAMEDATALEN */
#define TSCOPE_SQL_PATH_DEPTH 4
#define TSCOPE_SQL_MAX_SERVERS 64

/* Where a server keeps its arguments: MariaDB and MySQL 5.6 pass (command, THD*, packet,
 * length); MySQL 5.7 and 8.0 pass (THD*, const COM_DATA*, command). */
enum tscope_sql_layout {
	TSCOPE_SQL_COMMAND_FIRST = 1,
	TSCOPE_SQL_COM_DATA = 2,
	TSCOPE_SQL_POSTGRES =
		3, /* a backend: statements from pgstat_report_activity to ReadyForQuery */
};

/* A value reached from the THD: load the 8 bytes at p + off[i] for each i < depth in turn
 * (p starts at the THD); the last load is the value (a string's address, or a length).
 * depth 0: unknown for this server. */
struct tscope_sql_path {
	__u32 off[TSCOPE_SQL_PATH_DEPTH];
	__u32 depth;
	__u32 pad;
};

/* One server binary's facts, found by user space (its accessors disassembled), in the
 * sql_servers map at the binary's index (the attach cookie). */
struct tscope_sql_server {
	__u32 layout; /* enum tscope_sql_layout */
	__u32 pad;
	struct tscope_sql_path user;
	struct tscope_sql_path host;
	struct tscope_sql_path db;
	struct tscope_sql_path query;	  /* the statement text (read for prepared executions) */
	struct tscope_sql_path query_len; /* its length */
	/* PostgreSQL: identity from the backend's Port (MyProcPort), offsets from a per-major table */
	__u64 pg_port; /* MyProcPort's st_value */
	__u64 pg_anchor; /* pgstat_report_activity's st_value: the load base is the probe's ip - this */
	__u32 pg_user; /* offsets in struct Port of char *user_name, database_name, remote_host, */
	__u32 pg_db;   /* application_name */
	__u32 pg_host;
	__u32 pg_app;
	__u32 pg_error_level; /* elog level ERROR */
	__u32 pad2;
};

/* A piece of one statement's text; the statement's tscope_sql_query follows on the same thread. */
struct tscope_sql_text {
	struct tscope_event_head head;
	__u64 call_id; /* the statement's start_ns */
	__u32 offset;
	__u32 len; /* bytes in data[] */
	__u8 data[];
};

/* struct tscope_sql_query.command of a PostgreSQL statement (MariaDB/MySQL: the protocol's). */
enum tscope_sql_pg_command {
	TSCOPE_SQL_PG_PARSED = 0, /* never ran a portal: a Parse (prepare) alone */
	TSCOPE_SQL_PG_RAN = 1,
};

enum tscope_sql_flags {
	TSCOPE_SQL_HAS_ROWS = 1,  /* rows holds the affected rows (an OK status) */
	TSCOPE_SQL_HAS_ERROR = 2, /* error, sqlstate and message hold the first error */
};

/* A statement ended (head.time_ns: when dispatch returned). */
struct tscope_sql_query {
	struct tscope_event_head head;
	__u64 start_ns; /* also the call id of its text records */
	__u64 rows;
	__u32 server; /* the binary's index (attach cookie) */
	__u32 command; /* MariaDB/MySQL: 3 query, 22 prepare, 23 execute; else tscope_sql_pg_command */
	__u32 flags; /* enum tscope_sql_flags */
	__u32 error;
	__u32 text_len;	 /* bytes of the statement's text */
	__u32 text_sent; /* bytes the kernel put into text records (the rest was lost or cut) */
	char sqlstate[8];
	char user[TSCOPE_SQL_NAME_MAX];
	char host[TSCOPE_SQL_NAME_MAX];
	char db[TSCOPE_SQL_NAME_MAX];
	char app[TSCOPE_SQL_APP_MAX]; /* PostgreSQL's application_name */
	char message[TSCOPE_SQL_MESSAGE_MAX];
};

struct tscope_sql_stats {
	__u64 queries;	     /* query records submitted */
	__u64 lost_queries;  /* ring buffer full */
	__u64 lost_text;     /* text bytes lost to a full ring buffer */
	__u64 cut_text;	     /* text bytes beyond TSCOPE_SQL_TEXT_CHUNKS records */
	__u64 unreadable;    /* text bytes bpf_probe_read_user could not read */
	__u64 busy_drops;    /* text bytes dropped: the CPU's scratch was in use */
	__u64 missed_starts; /* a statement whose state could not be stored */
};

_Static_assert(sizeof(struct tscope_sql_path) == 24, "tscope_sql_path layout");
_Static_assert(sizeof(struct tscope_sql_server) == 168, "tscope_sql_server layout");
_Static_assert(sizeof(struct tscope_sql_text) == 72, "tscope_sql_text layout");
_Static_assert(sizeof(struct tscope_sql_query) == 1064, "tscope_sql_query layout");
_Static_assert(sizeof(struct tscope_sql_stats) == 56, "tscope_sql_stats layout");

#endif
