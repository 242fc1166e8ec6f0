// SPDX-License-Identifier: GPL-2.0 OR MIT
/* TlsScope's SQL object (--sql): MariaDB and MySQL statements seen at the server's
 * dispatch_command, with their text (whole, in pieces), user, client host and database (read
 * from the THD by paths user space found in the server's own accessors), their result (the
 * first error or the affected rows, from Diagnostics_area) and their duration. State is per
 * thread: a server runs each connection's statement on one thread from start to end. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "sql_events.h"
#include "../lib/target.h"
#include "../lib/task.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define COM_QUERY 3
#define COM_STMT_PREPARE 22
#define COM_STMT_EXECUTE 23

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20); /* user space resizes it before load */
} sql_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tscope_sql_stats);
} sql_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TSCOPE_SQL_MAX_SERVERS);
	__type(key, __u32);
	__type(value, struct tscope_sql_server);
} sql_servers SEC(".maps");

/* One statement being served, by thread (pid_tgid): the record it will become, and its THD. */
struct sql_call {
	struct tscope_sql_query q;
	__u64 thd;
	__u32 text_done; /* its text was emitted */
	__u32 pad;	 /* PostgreSQL: an ERROR's errstart was seen; its errcode is next */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096); /* statements running at once: 4.5 MiB preallocated */
	__type(key, __u64);
	__type(value, struct sql_call);
} sql_calls SEC(".maps");

/* Never written: the zeroed value a new call starts from. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sql_call);
} sql_zero SEC(".maps");

/* A text record being built, per CPU (user space sets max_entries to the CPU count). */
struct sql_scratch {
	struct tscope_sql_text h;
	__u8 data[TSCOPE_SQL_TEXT_CHUNK];
	__u32 busy;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sql_scratch);
} sql_scratch SEC(".maps");

static __always_inline struct tscope_sql_stats *sql_stats_here(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&sql_stats, &zero);
}

#define SQL_STAT_ADD(field, n)                                                                     \
	do {                                                                                       \
		struct tscope_sql_stats *__s = sql_stats_here();                                   \
		if (__s)                                                                           \
			__s->field += (n);                                                         \
	} while (0)

static __always_inline __u64 sql_ring_flags(void)
{
	if (bpf_ringbuf_query(&sql_events, BPF_RB_AVAIL_DATA) >= cfg.wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

/* Follows a path from the THD; 0 when the path is unknown or a load fails or gives 0. */
static __always_inline __u64 sql_follow(__u64 thd, const struct tscope_sql_path *p)
{
	__u64 v = thd;
	if (p->depth == 0)
		return 0;
#pragma unroll
	for (int i = 0; i < TSCOPE_SQL_PATH_DEPTH; i++) {
		if (i >= p->depth)
			break;
		if (!v || bpf_probe_read_user(&v, sizeof(v), (void *)(v + p->off[i])) < 0)
			return 0;
	}
	return v;
}

static __always_inline void sql_read_name(char *dst, __u64 thd, const struct tscope_sql_path *p)
{
	__u64 s = sql_follow(thd, p);
	if (s)
		bpf_probe_read_user_str(dst, TSCOPE_SQL_NAME_MAX, (void *)s);
}

struct text_ctx {
	__u64 text;
	__u32 len;
	__u32 sent;
	__u32 cpu;
	__u32 cut; /* a C string filled its last piece */
};

static long sql_emit_piece(__u32 i, struct text_ctx *t)
{
	struct sql_scratch *s = bpf_map_lookup_elem(&sql_scratch, &t->cpu);
	if (!s)
		return 1;
	__u32 off = i * TSCOPE_SQL_TEXT_CHUNK;
	if (off >= t->len)
		return 1;
	__u64 n = t->len - off;
	if (n > TSCOPE_SQL_TEXT_CHUNK)
		n = TSCOPE_SQL_TEXT_CHUNK;
	asm volatile("" : "+r"(n)); /* keep the bound check below on the register the helper gets */
	if (n > TSCOPE_SQL_TEXT_CHUNK)
		return 1;
	s->h.offset = off;
	s->h.len = n;
	if (bpf_probe_read_user(s->data, n, (void *)(t->text + off)) < 0) {
		SQL_STAT_ADD(unreadable, n);
		return 0;
	}
	if (bpf_ringbuf_output(&sql_events, s, sizeof(struct tscope_sql_text) + n,
			       sql_ring_flags()) < 0) {
		SQL_STAT_ADD(lost_text, n);
		return 0;
	}
	t->sent += n;
	return 0;
}

/* Emits a statement's text in pieces, before it runs (the packet buffer is reused for results). */
static __always_inline void sql_emit_text(struct sql_call *c, __u64 pid_tgid, __u64 text, __u64 len)
{
	c->text_done = 1;
	c->q.text_len = len > 0xffffffffULL ? 0xffffffffU : (__u32)len;
	if (!text || !len)
		return;
	struct text_ctx t = { .text = text,
			      .len = c->q.text_len,
			      .cpu = bpf_get_smp_processor_id() };
	__u32 max = TSCOPE_SQL_TEXT_CHUNK * TSCOPE_SQL_TEXT_CHUNKS;
	if (t.len > max) {
		SQL_STAT_ADD(cut_text, t.len - max);
		t.len = max;
	}
	struct sql_scratch *s = bpf_map_lookup_elem(&sql_scratch, &t.cpu);
	if (!s)
		return;
	if (s->busy) {
		SQL_STAT_ADD(busy_drops, t.len);
		return;
	}
	s->busy = 1;
	event_head(&s->h.head, TSCOPE_EVENT_SQL_TEXT, 0, pid_tgid);
	s->h.call_id = c->q.start_ns;
	bpf_loop((t.len + TSCOPE_SQL_TEXT_CHUNK - 1) / TSCOPE_SQL_TEXT_CHUNK, sql_emit_piece, &t,
		 0);
	s->busy = 0;
	c->q.text_sent = t.sent;
}

SEC("uprobe")
int sql_dispatch(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!trace_allowed(pid_tgid))
		return 0;
	__u32 server = (__u32)bpf_get_attach_cookie(ctx);
	struct tscope_sql_server *srv = bpf_map_lookup_elem(&sql_servers, &server);
	if (!srv)
		return 0;

	__u32 command;
	__u64 thd, text = 0, len = 0;
	if (srv->layout == TSCOPE_SQL_COM_DATA) {
		thd = PT_REGS_PARM1(ctx);
		command = (__u32)PT_REGS_PARM3(ctx);
		__u64 data = PT_REGS_PARM2(ctx);
		/* COM_QUERY_DATA and COM_STMT_PREPARE_DATA: { const char *query; unsigned length; } */
		if (command != COM_STMT_EXECUTE && data) {
			bpf_probe_read_user(&text, sizeof(text), (void *)data);
			__u32 l = 0;
			bpf_probe_read_user(&l, sizeof(l), (void *)(data + 8));
			len = l;
		}
	} else {
		command = (__u32)PT_REGS_PARM1(ctx);
		thd = PT_REGS_PARM2(ctx);
		text = PT_REGS_PARM3(ctx);
		len = (__u32)PT_REGS_PARM4(ctx);
	}
	if (command != COM_QUERY && command != COM_STMT_PREPARE && command != COM_STMT_EXECUTE)
		return 0;

	__u32 zero = 0;
	struct sql_call *blank = bpf_map_lookup_elem(&sql_zero, &zero);
	if (!blank || bpf_map_update_elem(&sql_calls, &pid_tgid, blank, BPF_ANY) < 0) {
		SQL_STAT_ADD(missed_starts, 1);
		return 0;
	}
	struct sql_call *c = bpf_map_lookup_elem(&sql_calls, &pid_tgid);
	if (!c)
		return 0;
	c->thd = thd;
	c->q.start_ns = bpf_ktime_get_ns();
	c->q.server = server;
	c->q.command = command;
	sql_read_name(c->q.user, thd, &srv->user);
	sql_read_name(c->q.host, thd, &srv->host);
	sql_read_name(c->q.db, thd, &srv->db);
	if (command != COM_STMT_EXECUTE) /* an execution's text is the prepared statement's */
		sql_emit_text(c, pid_tgid, text, len);
	return 0;
}

/* mysql_execute_command(THD*, ...): a prepared statement's execution has its text in the THD. */
SEC("uprobe")
int sql_execute(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sql_call *c = bpf_map_lookup_elem(&sql_calls, &pid_tgid);
	if (!c || c->text_done)
		return 0;
	__u32 server = c->q.server;
	struct tscope_sql_server *srv = bpf_map_lookup_elem(&sql_servers, &server);
	if (!srv)
		return 0;
	__u64 thd = PT_REGS_PARM1(ctx);
	sql_emit_text(c, pid_tgid, sql_follow(thd, &srv->query), sql_follow(thd, &srv->query_len));
	return 0;
}

/* Diagnostics_area::set_ok_status(this, affected_rows, last_insert_id, message) */
SEC("uprobe")
int sql_ok_status(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sql_call *c = bpf_map_lookup_elem(&sql_calls, &pid_tgid);
	if (!c || (c->q.flags & TSCOPE_SQL_HAS_ERROR))
		return 0;
	c->q.rows = PT_REGS_PARM2(ctx);
	c->q.flags |= TSCOPE_SQL_HAS_ROWS;
	return 0;
}

/* Diagnostics_area::set_error_status(this, sql_errno, message, sqlstate, ...): the first wins. */
SEC("uprobe")
int sql_error_status(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sql_call *c = bpf_map_lookup_elem(&sql_calls, &pid_tgid);
	if (!c || (c->q.flags & TSCOPE_SQL_HAS_ERROR))
		return 0;
	c->q.flags = (c->q.flags & ~TSCOPE_SQL_HAS_ROWS) | TSCOPE_SQL_HAS_ERROR;
	c->q.error = (__u32)PT_REGS_PARM2(ctx);
	bpf_probe_read_user_str(c->q.message, sizeof(c->q.message), (void *)PT_REGS_PARM3(ctx));
	bpf_probe_read_user(c->q.sqlstate, 5, (void *)PT_REGS_PARM4(ctx));
	return 0;
}

/* The statement ended: its record goes out and its state is dropped. */
static __always_inline int sql_end(void)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sql_call *c = bpf_map_lookup_elem(&sql_calls, &pid_tgid);
	if (!c)
		return 0;
	__u64 start = c->q.start_ns;
	event_head(&c->q.head, TSCOPE_EVENT_SQL_QUERY, 0, pid_tgid);
	c->q.start_ns = start;
	if (bpf_ringbuf_output(&sql_events, &c->q, sizeof(c->q), BPF_RB_FORCE_WAKEUP) < 0)
		SQL_STAT_ADD(lost_queries, 1);
	else
		SQL_STAT_ADD(queries, 1);
	bpf_map_delete_elem(&sql_calls, &pid_tgid);
	return 0;
}

SEC("uretprobe")
int sql_dispatch_return(struct pt_regs *ctx)
{
	return sql_end();
}

/* A thread that exits inside a statement (a backend terminated mid-query, a server killed)
 * ends it there: it is reported as far as it got, and its state does not outlive it. */
SEC("raw_tp/sched_process_exit")
int sql_exit(void *ctx)
{
	return sql_end();
}

/* ---- PostgreSQL: one backend process per connection, its statements from exported functions ---- */

#define PG_STATE_RUNNING 2

/* Reads a C string's pieces (its length is found on the way). */
static long sql_emit_cpiece(__u32 i, struct text_ctx *t)
{
	struct sql_scratch *s = bpf_map_lookup_elem(&sql_scratch, &t->cpu);
	if (!s)
		return 1;
	__u32 off = i * (TSCOPE_SQL_TEXT_CHUNK - 1);
	long n = bpf_probe_read_user_str(s->data, TSCOPE_SQL_TEXT_CHUNK, (void *)(t->text + off));
	if (n <= 1)
		return 1;
	__u64 len = n - 1;
	asm volatile("" : "+r"(len));
	if (len > TSCOPE_SQL_TEXT_CHUNK - 1)
		return 1;
	s->h.offset = off;
	s->h.len = len;
	t->len = off + len;
	if (bpf_ringbuf_output(&sql_events, s, sizeof(struct tscope_sql_text) + len,
			       sql_ring_flags()) < 0)
		SQL_STAT_ADD(lost_text, len);
	else
		t->sent += len;
	if (len < TSCOPE_SQL_TEXT_CHUNK - 1)
		return 1;
	t->cut = 1; /* full: the next piece tells whether there is more */
	return 0;
}

static __always_inline void pg_emit_text(struct sql_call *c, __u64 pid_tgid, __u64 text)
{
	c->text_done = 1;
	if (!text)
		return;
	struct text_ctx t = { .text = text, .cpu = bpf_get_smp_processor_id() };
	struct sql_scratch *s = bpf_map_lookup_elem(&sql_scratch, &t.cpu);
	if (!s)
		return;
	if (s->busy) {
		SQL_STAT_ADD(busy_drops, 1);
		c->q.text_len = 1;
		return;
	}
	s->busy = 1;
	event_head(&s->h.head, TSCOPE_EVENT_SQL_TEXT, 0, pid_tgid);
	s->h.call_id = c->q.start_ns;
	bpf_loop(TSCOPE_SQL_TEXT_CHUNKS, sql_emit_cpiece, &t, 0);
	s->busy = 0;
	c->q.text_len = t.len;
	c->q.text_sent = t.sent;
	if (t.cut && t.len >= TSCOPE_SQL_TEXT_CHUNKS * (TSCOPE_SQL_TEXT_CHUNK - 1)) {
		c->q.text_len = t.len + 1; /* at least one byte more than the limit */
		SQL_STAT_ADD(cut_text, 1);
	}
}

static __always_inline void pg_read_name(char *dst, __u32 size, __u64 port, __u32 off)
{
	__u64 s = 0;
	if (port && off && bpf_probe_read_user(&s, sizeof(s), (void *)(port + off)) == 0 && s)
		bpf_probe_read_user_str(dst, size, (void *)s);
}

/* pgstat_report_activity(state, text): the first STATE_RUNNING after ReadyForQuery starts a
 * statement (the extended protocol reports it again at Bind and Execute). */
SEC("uprobe")
int pg_activity(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if ((__u32)PT_REGS_PARM1(ctx) != PG_STATE_RUNNING || !trace_allowed(pid_tgid))
		return 0;
	struct sql_call *c = bpf_map_lookup_elem(&sql_calls, &pid_tgid);
	if (c)
		return 0;
	__u32 server = (__u32)bpf_get_attach_cookie(ctx);
	struct tscope_sql_server *srv = bpf_map_lookup_elem(&sql_servers, &server);
	__u32 zero = 0;
	struct sql_call *blank = bpf_map_lookup_elem(&sql_zero, &zero);
	if (!srv || !blank) {
		SQL_STAT_ADD(missed_starts, 1);
		return 0;
	}
	__u64 base = (PT_REGS_IP(ctx) - srv->pg_anchor) & ~0xfffULL;
	__u64 port = 0;
	if (srv->pg_port) {
		bpf_probe_read_user(&port, sizeof(port), (void *)(base + srv->pg_port));
		/* Autovacuum and parallel workers report activity too, but serve no client and never
		 * reach ReadyForQuery: they would leave their state behind. */
		if (!port)
			return 0;
	}
	if (bpf_map_update_elem(&sql_calls, &pid_tgid, blank, BPF_ANY) < 0) {
		SQL_STAT_ADD(missed_starts, 1);
		return 0;
	}
	c = bpf_map_lookup_elem(&sql_calls, &pid_tgid);
	if (!c)
		return 0;
	c->q.start_ns = bpf_ktime_get_ns();
	c->q.server = server;
	c->q.command = 0;
	pg_read_name(c->q.user, TSCOPE_SQL_NAME_MAX, port, srv->pg_user);
	pg_read_name(c->q.db, TSCOPE_SQL_NAME_MAX, port, srv->pg_db);
	pg_read_name(c->q.host, TSCOPE_SQL_NAME_MAX, port, srv->pg_host);
	pg_read_name(c->q.app, TSCOPE_SQL_APP_MAX, port, srv->pg_app);
	pg_emit_text(c, pid_tgid, PT_REGS_PARM2(ctx));
	return 0;
}

/* EndCommand(const QueryCompletion *qc, ...): { CommandTag commandTag; uint64 nprocessed; } */
SEC("uprobe")
int pg_end_command(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sql_call *c = bpf_map_lookup_elem(&sql_calls, &pid_tgid);
	if (!c || (c->q.flags & TSCOPE_SQL_HAS_ERROR))
		return 0;
	__u64 rows = 0;
	if (bpf_probe_read_user(&rows, sizeof(rows), (void *)(PT_REGS_PARM1(ctx) + 8)) == 0) {
		c->q.rows = rows;
		c->q.flags |= TSCOPE_SQL_HAS_ROWS;
	}
	return 0;
}

/* errstart(elevel, domain): the statement's first ERROR fails it with XX000 (internal_error:
 * what elog(ERROR) reports, having no errcode) until its errcode, if any, names the SQLSTATE.
 * Any other errstart (a WARNING, a later ERROR) disarms errcode. */
SEC("uprobe")
int pg_errstart(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sql_call *c = bpf_map_lookup_elem(&sql_calls, &pid_tgid);
	if (!c)
		return 0;
	__u32 server = c->q.server;
	struct tscope_sql_server *srv = bpf_map_lookup_elem(&sql_servers, &server);
	c->pad = 0;
	if (!srv || (int)PT_REGS_PARM1(ctx) < (int)srv->pg_error_level ||
	    (c->q.flags & TSCOPE_SQL_HAS_ERROR))
		return 0;
	c->pad = 1;
	c->q.flags = (c->q.flags & ~TSCOPE_SQL_HAS_ROWS) | TSCOPE_SQL_HAS_ERROR;
	c->q.sqlstate[0] = 'X';
	c->q.sqlstate[1] = 'X';
	c->q.sqlstate[2] = '0';
	c->q.sqlstate[3] = '0';
	c->q.sqlstate[4] = '0';
	return 0;
}

/* errcode(sqlerrcode): the SQLSTATE packed six bits per character (PGSIXBIT). */
SEC("uprobe")
int pg_errcode(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sql_call *c = bpf_map_lookup_elem(&sql_calls, &pid_tgid);
	if (!c || !c->pad)
		return 0;
	__u32 code = (__u32)PT_REGS_PARM1(ctx);
	c->pad = 0;
#pragma unroll
	for (int i = 0; i < 5; i++)
		c->q.sqlstate[i] = ((code >> (6 * i)) & 0x3f) + '0';
	return 0;
}

/* ReadyForQuery: the statement (and its Sync) is over. */
SEC("uprobe")
int pg_ready(struct pt_regs *ctx)
{
	return sql_end();
}

/* PortalRun: the statement ran (a Parse and Sync alone never get here). */
SEC("uprobe")
int pg_portal_run(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sql_call *c = bpf_map_lookup_elem(&sql_calls, &pid_tgid);
	if (c)
		c->q.command = TSCOPE_SQL_PG_RAN;
	return 0;
}
