/* One TLS read or write call, whatever the library: the entry probe saves the arguments per
 * thread, socket syscalls made during the call reveal the fd (sock.h), and the return probe
 * emits the bytes really transferred, split over as many ring-buffer records as they need. */
#ifndef TLSSCOPE_TLS_CALL_H
#define TLSSCOPE_TLS_CALL_H

struct active_call {
	__u64 ssl; /* the library's connection object: the key of a connection */
	__u64 buf;
	__u64 len_out; /* size_t* of *_ex calls; 0 when the return value is the byte count */
	__u64 start_ns;
	__u64 sk; /* socket seen during the call, 0 until one is */
	__s32 fd;
	__u32 nest; /* nested TLS calls on this thread, which are not counted twice */
	__u32 direction;
	__u32 pad;
};

struct conn_key {
	__u32 tgid;
	__u32 pad;
	__u64 ssl;
};

struct conn_state {
	__u64 id;
	__u64 sk;
	__u64 offset[2]; /* per direction: bytes so far, so user space sees every gap */
	__u64 keys_seen; /* first bytes of the client random whose secrets were sent (keys.h) */
	__s32 fd;
	__u32 inferred; /* 1: socket bound after the call (memory BIO), see membio_pending */
	struct tscope_sock_addr addr;
};

/* Memory-BIO libraries (node, .NET) do their socket I/O outside SSL_write: the thread's next
 * socket send after such a call carries its ciphertext, so that socket is the connection's. */
struct membio_write {
	__u64 ssl;
	__u32 tgid;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct membio_write);
} membio_pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct active_call);
} active_calls SEC(".maps");

/* A call of another connection made inside a call on the same thread (TLS inside TLS through an
 * SSL BIO: the inner connection's read calls the outer's): the outer call waits here while the
 * inner one runs, and is active again when it returns. One level deep. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct active_call);
} outer_calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct conn_key);
	__type(value, struct conn_state);
} conns SEC(".maps");

__u64 next_conn_id = 0;

static __always_inline int tls_call_enter(__u64 ssl, __u64 buf, __u64 len_out, __u32 direction)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!trace_allowed(pid_tgid))
		return 0;
	__u32 tid = (__u32)pid_tgid;
	struct active_call *prev = bpf_map_lookup_elem(&active_calls, &tid);
	if (prev && prev->ssl == ssl) {
		prev->nest++; /* e.g. SSL_write_ex implemented on top of SSL_write */
		return 0;
	}
	/* The outer call entered moments ago and is still on its way into its BIO; an older entry is
	 * a thread that died inside a call, whose tid is now reused: dropped, not kept. */
	if (prev && bpf_ktime_get_ns() - prev->start_ns < 1000000000ULL)
		bpf_map_update_elem(&outer_calls, &tid, prev, BPF_ANY);
	struct active_call c = {
		.ssl = ssl,
		.buf = buf,
		.len_out = len_out,
		.start_ns = bpf_ktime_get_ns(),
		.fd = -1,
		.direction = direction,
	};
	bpf_map_update_elem(&active_calls, &tid, &c, BPF_ANY);
	return 0;
}

static __always_inline void membio_saw_send(__u64 pid_tgid, long fd)
{
	__u32 tid = (__u32)pid_tgid;
	struct membio_write *w = bpf_map_lookup_elem(&membio_pending, &tid);
	if (!w)
		return;
	__u64 sk = sock_of_fd((int)fd);
	if (!sk)
		return; /* not a socket (a log write, say): keep waiting for the send */
	struct conn_key key = { .tgid = w->tgid, .ssl = w->ssl };
	struct conn_state *cs = bpf_map_lookup_elem(&conns, &key);
	if (cs && !cs->sk) {
		cs->sk = sk;
		cs->fd = (__s32)fd;
		cs->inferred = 1;
		sock_addr_read(sk, &cs->addr);
	}
	bpf_map_delete_elem(&membio_pending, &tid);
}

static __always_inline void go_call_saw_fd(__u64 pid_tgid, long fd); /* go_tls.h */

/* Called from the socket syscall tracepoints: remember the first socket the call touches. */
static __always_inline int tls_call_saw_fd(long fd, int is_send)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	/* Every syscall of the machine comes here: only the cheap single-pid test. The map
	 * lookups below find nothing for threads no TLS call of the target is running on. */
	if (cfg.scope == TSCOPE_SCOPE_PID && (__u32)(pid_tgid >> 32) != cfg.target_pid)
		return 0;
	keys_during_handshake(pid_tgid, fd);
	__u32 tid = (__u32)pid_tgid;
	struct active_call *c = bpf_map_lookup_elem(&active_calls, &tid);
	if (!c) {
		if (is_send)
			membio_saw_send(pid_tgid, fd);
		go_call_saw_fd(pid_tgid, fd);
		return 0;
	}
	if (c->sk)
		return 0;
	__u64 sk = sock_of_fd((int)fd);
	if (sk) {
		c->sk = sk;
		c->fd = (__s32)fd;
	} else if (c->fd < 0) {
		c->fd = (__s32)fd; /* not a socket (a file or pipe BIO): keep looking for one */
	}
	return 0;
}

static __always_inline __u64 new_conn_id(void)
{
	return __sync_fetch_and_add(&next_conn_id, 1) + 1;
}

static __always_inline struct conn_state *conn_for(__u32 tgid, struct active_call *c)
{
	struct conn_key key = { .tgid = tgid, .ssl = c->ssl };
	struct conn_state *cs = bpf_map_lookup_elem(&conns, &key);
	if (!cs) {
		struct conn_state fresh = { .id = new_conn_id(), .fd = -1 };
		bpf_map_update_elem(&conns, &key, &fresh, BPF_NOEXIST);
		cs = bpf_map_lookup_elem(&conns, &key);
		if (!cs)
			return 0;
	}
	if (c->sk && c->sk != cs->sk) {
		if (cs->sk) {
			/* the library reused the object for another socket: a new connection */
			cs->id = new_conn_id();
			cs->offset[0] = 0;
			cs->offset[1] = 0;
		}
		cs->sk = c->sk;
		cs->fd = c->fd;
		sock_addr_read(c->sk, &cs->addr);
	} else if (cs->fd < 0 && c->fd >= 0) {
		cs->fd = c->fd;
	}
	return cs;
}

struct emit_ctx {
	__u64 buf;
	__u64 base;	/* stream offset of the call's first byte */
	__u32 captured; /* bytes to emit */
	__u32 dropped;	/* bytes cut by --max-payload */
	__u32 cpu;
	__u32 flags; /* added to every record's flags */
};

static long emit_record(__u32 i, void *arg)
{
	struct emit_ctx *e = arg;
	struct scratch *s = bpf_map_lookup_elem(&scratch, &e->cpu);
	if (!s)
		return 1;
	__u32 off = i * TSCOPE_CHUNK_DATA_MAX;
	if (off >= e->captured)
		return 1;
	__u64 n = e->captured - off;
	if (n > TSCOPE_CHUNK_DATA_MAX)
		n = TSCOPE_CHUNK_DATA_MAX;
	asm volatile("" : "+r"(n)); /* keep the bound check below on the register the helper gets */
	if (n > TSCOPE_CHUNK_DATA_MAX)
		return 1;
	__u32 flags = i == 0 ? TSCOPE_CHUNK_FIRST : 0;
	if (off + n >= e->captured) {
		flags |= TSCOPE_CHUNK_LAST;
		if (e->dropped)
			flags |= TSCOPE_CHUNK_TRUNCATED;
		s->chunk.dropped = e->dropped;
	}
	s->chunk.head.flags = flags | e->flags;
	s->chunk.len = n;
	s->chunk.stream_offset = e->base + off;
	if (bpf_probe_read_user(s->data, n, (void *)(e->buf + off)) < 0) {
		STAT_ADD(unreadable_bytes, n);
		return 0;
	}
	if (bpf_ringbuf_output(&events, s, sizeof(struct tscope_chunk) + n, ring_flags()) < 0) {
		struct tscope_stats *st = stats_here();
		if (st) {
			st->lost_records++;
			st->lost_bytes += n;
		}
		return 0;
	}
	struct tscope_stats *st = stats_here();
	if (st) {
		st->chunks++;
		st->bytes += n;
	}
	return 0;
}

static __always_inline void tls_call_emit(void *ctx, __u64 pid_tgid, struct active_call *c,
					  __u64 len)
{
	__u32 tgid = pid_tgid >> 32;
	struct conn_state *cs = conn_for(tgid, c);
	if (!cs)
		return;
	__u32 dir = c->direction & 1;
	__u64 base = __sync_fetch_and_add(&cs->offset[dir], len);

	struct emit_ctx e = {
		.buf = c->buf,
		.base = base,
		.cpu = bpf_get_smp_processor_id(),
		.flags = cs->inferred ? TSCOPE_CHUNK_FD_INFERRED : 0,
	};
	e.captured = len > 0xffffffffULL ? 0xffffffffU : (__u32)len;
	if (cfg.max_payload && e.captured > cfg.max_payload) {
		e.dropped = e.captured - cfg.max_payload;
		e.captured = cfg.max_payload;
		STAT_ADD(truncated_bytes, e.dropped);
	}

	struct scratch *s = bpf_map_lookup_elem(&scratch, &e.cpu);
	if (!s)
		return;
	if (s->busy) {
		STAT_ADD(busy_drops, len);
		return;
	}
	s->busy = 1;
	struct tscope_chunk *h = &s->chunk;
	event_head(&h->head, TSCOPE_EVENT_DATA, 0, pid_tgid); /* flags are set per record */
	h->conn_id = cs->id;
	h->start_ns = c->start_ns;
	h->fd = cs->fd;
	h->call_len = e.captured + e.dropped;
	h->dropped = 0;
	h->library = (__u32)bpf_get_attach_cookie(ctx);
	h->direction = dir;
	h->addr = cs->addr;
	bpf_loop((e.captured + TSCOPE_CHUNK_DATA_MAX - 1) / TSCOPE_CHUNK_DATA_MAX, emit_record, &e,
		 0);
	s->busy = 0;
	keys_after_call(ctx, pid_tgid, c->ssl, &cs->keys_seen, cs->id);
}

/* A write that touched no socket: if the connection still has none, watch the thread's next send. */
static __always_inline void membio_expect_send(__u64 pid_tgid, __u64 ssl)
{
	struct conn_key key = { .tgid = pid_tgid >> 32, .ssl = ssl };
	struct conn_state *cs = bpf_map_lookup_elem(&conns, &key);
	if (!cs || cs->sk)
		return;
	__u32 tid = (__u32)pid_tgid;
	struct membio_write w = { .ssl = ssl, .tgid = key.tgid };
	bpf_map_update_elem(&membio_pending, &tid, &w, BPF_ANY);
}

static __always_inline int tls_call_return(void *ctx, long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct active_call *c = bpf_map_lookup_elem(&active_calls, &tid);
	if (!c)
		return 0;
	if (c->nest) {
		c->nest--;
		return 0;
	}
	__u64 len = 0;
	if (c->len_out) {
		__u64 n = 0;
		/* SSL_read_ex returns 1; the internal functions any positive value */
		if ((int)ret > 0 && bpf_probe_read_user(&n, sizeof(n), (void *)c->len_out) == 0)
			len = n;
	} else if ((int)ret > 0) {
		len = (__u64)(int)ret;
	}
	if (len) {
		tls_call_emit(ctx, pid_tgid, c, len);
		if (!c->sk && c->direction == TSCOPE_DIR_WRITE)
			membio_expect_send(pid_tgid, c->ssl);
	}
	bpf_map_delete_elem(&active_calls, &tid);
	struct active_call *outer = bpf_map_lookup_elem(&outer_calls, &tid);
	if (outer) {
		bpf_map_update_elem(&active_calls, &tid, outer, BPF_ANY);
		bpf_map_delete_elem(&outer_calls, &tid);
	}
	return 0;
}

/* The library frees its connection object: report final offsets and forget it. */
static __always_inline int tls_conn_free(__u64 ssl)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!trace_allowed(pid_tgid))
		return 0;
	struct conn_key key = { .tgid = pid_tgid >> 32, .ssl = ssl };
	struct conn_state *cs = bpf_map_lookup_elem(&conns, &key);
	if (!cs)
		return 0;
	struct tscope_conn_close ev = {
		.conn_id = cs->id,
		.read_bytes = cs->offset[TSCOPE_DIR_READ],
		.write_bytes = cs->offset[TSCOPE_DIR_WRITE],
	};
	event_head(&ev.head, TSCOPE_EVENT_CLOSE, 0, pid_tgid);
	if (bpf_ringbuf_output(&events, &ev, sizeof(ev), ring_flags()) < 0)
		STAT_ADD(lost_records, 1);
	bpf_map_delete_elem(&conns, &key);
	return 0;
}

#endif
