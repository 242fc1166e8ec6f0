/* Go crypto/tls: Go links TLS into the executable and moves goroutine stacks, so no uretprobe
 * may touch it (golang/go#22008). Entry probes save the call per goroutine; a probe on every
 * RET of the function (found by user space in the machine code) emits the bytes. A goroutine
 * that blocks in Read resumes on another thread, so calls are keyed by (process, goroutine id),
 * never by thread. What differs between Go releases (ABI, struct offsets) comes from user
 * space per binary (struct tscope_go_layout). */
#ifndef TLSSCOPE_GO_TLS_H
#define TLSSCOPE_GO_TLS_H

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TSCOPE_MAX_LIBRARIES);
	__type(key, __u32);
	__type(value, struct tscope_go_layout);
} go_layouts SEC(".maps");

/* depth: the stack top minus SP, the same at the entry and at every RET of one call (SP points
 * at its return address both times) and kept when the runtime copies the stack: a tls.Conn
 * call made inside another on the same goroutine (TLS through an HTTPS proxy) is a call of its own. */
struct go_call_key {
	__u32 tgid;
	__u32 pad;
	__u64 goid;
	__u64 depth;
};

struct go_call {
	struct active_call call;
	__u64 len;	/* len(b): a byte count past it is not believed */
	__u64 unbound;	/* 1: in go_unbound_calls until it returns */
	__u64 stack_lo; /* the goroutine's stack at entry: a buffer on it moves when it grows */
	__u64 stack_hi;
};

/* LRU: a call whose RET never comes (a panic unwinds past it) ages out instead of filling it.
 * Every idle connection of a Go server has a goroutine parked in Read: room for that many. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct go_call_key);
	__type(value, struct go_call);
} go_calls SEC(".maps");

/* Processes with a Go call whose tls.Conn did not give its socket (a wrapped net.Conn), with the
 * library that made it: only their socket syscalls look for the goroutine's call. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
} go_unbound SEC(".maps");

/* The innermost unbound call of each such goroutine: its depth (struct go_call_key). */
struct go_goroutine {
	__u32 tgid;
	__u32 pad;
	__u64 goid;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct go_goroutine);
	__type(value, __u64);
} go_unbound_calls SEC(".maps");

/* Whether go_unbound ever had an entry: until then no syscall of any process looks it up. */
__u32 go_any_unbound = 0;

static __always_inline const struct tscope_go_layout *go_layout(void *ctx)
{
	__u32 lib = (__u32)bpf_get_attach_cookie(ctx);
	const struct tscope_go_layout *l = bpf_map_lookup_elem(&go_layouts, &lib);
	if (!l || !l->abi)
		return 0;
	return l;
}

static __always_inline __u64 go_read_u64(__u64 addr)
{
	__u64 v = 0;
	bpf_probe_read_user(&v, sizeof(v), (void *)addr);
	return v;
}

/* The stack ABI's g: the word below the thread's TLS base. */
static __always_inline __u64 go_g_from_tls(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 fsbase = BPF_CORE_READ(task, thread.fsbase);
	return fsbase ? go_read_u64(fsbase - 8) : 0;
}

/* The running goroutine's g: R14 on the register ABI, the word below the TLS base otherwise. */
static __always_inline __u64 go_g(struct pt_regs *regs, const struct tscope_go_layout *l)
{
	return l->abi == TSCOPE_GO_ABI_REGS ? regs->r14 : go_g_from_tls();
}

/* Argument i (0-based, in words) of a stack-ABI call, at its entry or at its RET: the caller's
 * frame holds them just above the return address either way. */
static __always_inline __u64 go_stack_word(struct pt_regs *regs, __u32 i)
{
	return go_read_u64(regs->sp + 8 + 8 * (__u64)i);
}

/* The descriptor under a tls.Conn, when its net.Conn is a *net.TCPConn; -1 otherwise (a wrapped
 * connection: its socket comes from the syscalls of the call, tls_call_saw_fd). */
static __always_inline void go_conn_socket(const struct tscope_go_layout *l, __u64 conn,
					   struct active_call *c)
{
	__u64 itab = go_read_u64(conn + l->conn_offset);
	if (!itab)
		return;
	__u32 hash = 0;
	if (bpf_probe_read_user(&hash, sizeof(hash), (void *)(itab + l->itab_hash_offset)) < 0 ||
	    hash != l->tcpconn_hash)
		return;
	__u64 tcp = go_read_u64(conn + l->conn_offset + 8);
	__u64 netfd = tcp ? go_read_u64(tcp + l->netfd_offset) : 0;
	if (!netfd)
		return;
	__s64 fd = -1;
	if (bpf_probe_read_user(&fd, sizeof(fd), (void *)(netfd + l->sysfd_offset)) < 0 || fd < 0 ||
	    fd > 0x7fffffff)
		return;
	__u64 sk = sock_of_fd((int)fd);
	if (sk) {
		c->sk = sk;
		c->fd = (__s32)fd;
	}
}

/* The layout of the probed binary when the calling process is traced, else null. */
static __always_inline const struct tscope_go_layout *go_traced(struct pt_regs *regs,
								__u64 pid_tgid)
{
	return trace_allowed(pid_tgid) ? go_layout(regs) : 0;
}

/* func (c *Conn) Read(b []byte) (int, error) and Write: c, then b's pointer. */
static __always_inline int go_call_enter(struct pt_regs *regs, __u32 direction)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	const struct tscope_go_layout *l = go_traced(regs, pid_tgid);
	if (!l)
		return 0;
	__u64 g = go_g(regs, l);
	if (!g)
		return 0;
	__u64 stack_hi = go_read_u64(g + l->stack_lo_offset + 8);
	struct go_call_key key = { .tgid = pid_tgid >> 32,
				   .goid = go_read_u64(g + l->goid_offset),
				   .depth = stack_hi - regs->sp };
	int regs_abi = l->abi == TSCOPE_GO_ABI_REGS;
	struct go_call call = {
		.call = {
			.ssl = regs_abi ? regs->ax : go_stack_word(regs, 0),
			.buf = regs_abi ? regs->bx : go_stack_word(regs, 1),
			.start_ns = bpf_ktime_get_ns(),
			.fd = -1,
			.direction = direction,
		},
		.len = regs_abi ? regs->cx : go_stack_word(regs, 2),
		.stack_lo = go_read_u64(g + l->stack_lo_offset),
		.stack_hi = stack_hi,
	};
	go_conn_socket(l, call.call.ssl, &call.call);
	if (!call.call.sk) {
		__u32 lib = (__u32)bpf_get_attach_cookie(regs);
		struct go_goroutine gr = { .tgid = key.tgid, .goid = key.goid };
		call.unbound = 1;
		bpf_map_update_elem(&go_unbound, &key.tgid, &lib, BPF_ANY);
		bpf_map_update_elem(&go_unbound_calls, &gr, &key.depth, BPF_ANY);
		go_any_unbound = 1;
	}
	bpf_map_update_elem(&go_calls, &key, &call, BPF_ANY);
	return 0;
}

/* A socket syscall of a process with unbound Go calls: the goroutine running on this thread
 * (the syscall's saved user registers hold its g) may be in one; its first socket is the call's. */
static __always_inline void go_call_saw_fd(__u64 pid_tgid, long fd)
{
	if (!go_any_unbound)
		return;
	__u32 tgid = pid_tgid >> 32;
	__u32 *lib = bpf_map_lookup_elem(&go_unbound, &tgid);
	if (!lib)
		return;
	const struct tscope_go_layout *l = bpf_map_lookup_elem(&go_layouts, lib);
	if (!l || !l->abi)
		return;
	struct pt_regs *user = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	__u64 g = l->abi == TSCOPE_GO_ABI_REGS ? BPF_CORE_READ(user, r14) : go_g_from_tls();
	if (!g)
		return;
	struct go_goroutine gr = { .tgid = tgid, .goid = go_read_u64(g + l->goid_offset) };
	__u64 *depth = bpf_map_lookup_elem(&go_unbound_calls, &gr);
	if (!depth)
		return;
	struct go_call_key key = { .tgid = tgid, .goid = gr.goid, .depth = *depth };
	struct go_call *call = bpf_map_lookup_elem(&go_calls, &key);
	if (!call || call->call.sk)
		return;
	__u64 sk = sock_of_fd((int)fd);
	if (sk) {
		call->call.sk = sk;
		call->call.fd = (__s32)fd;
	}
}

/* At any RET of Read or Write: n is RAX (register ABI) or the word after b (stack ABI). */
static __always_inline int go_call_return(struct pt_regs *regs)
{
	const struct tscope_go_layout *l = go_layout(regs);
	if (!l)
		return 0;
	__u64 g = go_g(regs, l);
	if (!g)
		return 0;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 hi = go_read_u64(g + l->stack_lo_offset + 8);
	if (!hi)
		return 0;
	struct go_call_key key = { .tgid = pid_tgid >> 32,
				   .goid = go_read_u64(g + l->goid_offset),
				   .depth = hi - regs->sp };
	struct go_call *call = bpf_map_lookup_elem(&go_calls, &key);
	if (!call)
		return 0;
	if (call->unbound) {
		struct go_goroutine gr = { .tgid = key.tgid, .goid = key.goid };
		bpf_map_delete_elem(&go_unbound_calls, &gr);
	}
	__s64 n = l->abi == TSCOPE_GO_ABI_REGS ? (__s64)regs->ax : (__s64)go_stack_word(regs, 4);
	/* n beyond len(b) is not a byte count: a layout that does not fit this binary. Nothing of
	 * the process's memory is sent for it. */
	if (n > 0 && (__u64)n <= call->len) {
		/* The stack grew during the call: the runtime moved it, and a buffer on it, by the
		 * difference of the tops (as its own adjustpointers does). */
		__u64 buf = call->call.buf;
		if (hi != call->stack_hi && buf >= call->stack_lo && buf < call->stack_hi)
			call->call.buf = buf + (hi - call->stack_hi);
		tls_call_emit(regs, pid_tgid, &call->call, (__u64)n);
	}
	bpf_map_delete_elem(&go_calls, &key);
	return 0;
}

/* func (c *Conn) Close() error */
static __always_inline int go_conn_close(struct pt_regs *regs)
{
	const struct tscope_go_layout *l = go_layout(regs);
	if (!l)
		return 0;
	return tls_conn_free(l->abi == TSCOPE_GO_ABI_REGS ? regs->ax : go_stack_word(regs, 0));
}

/* Reads n bytes at src into dst (room for max); returns n, or 0 when n does not fit or fails. */
#define go_read_bytes(dst, max, src, n)                                                            \
	({                                                                                         \
		__u64 __n = (n);                                                                   \
		asm volatile("" : "+r"(__n));                                                      \
		(__n > 0 && __n <= (max) && bpf_probe_read_user((dst), __n, (void *)(src)) == 0)   \
			? (__u32)__n                                                               \
			: 0;                                                                       \
	})

/* func (c *Config) writeKeyLog(label string, clientRandom, secret []byte) error: Go calls it
 * for every secret of every handshake, whether or not the program set a KeyLogWriter. */
static __always_inline int go_key_log(struct pt_regs *regs)
{
	if (!cfg.keys)
		return 0;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	const struct tscope_go_layout *l = go_traced(regs, pid_tgid);
	if (!l)
		return 0;
	int r = l->abi == TSCOPE_GO_ABI_REGS;
	__u64 label = r ? regs->bx : go_stack_word(regs, 1);
	__u64 label_len = r ? regs->cx : go_stack_word(regs, 2);
	__u64 random = r ? regs->di : go_stack_word(regs, 3);
	__u64 random_len = r ? regs->si : go_stack_word(regs, 4);
	__u64 secret = r ? regs->r9 : go_stack_word(regs, 6);
	__u64 secret_len = r ? regs->r10 : go_stack_word(regs, 7);

	struct tscope_key_line *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		STAT_ADD(lost_records, 1);
		return 0;
	}
	event_head(&ev->head, TSCOPE_EVENT_KEY_LINE, 0, pid_tgid);
	ev->library = (__u32)bpf_get_attach_cookie(regs);
	ev->label_len = 0;
	ev->random_len = 0;
	ev->secret_len = 0;
	ev->label_len = go_read_bytes(ev->label, TSCOPE_KEY_LABEL_MAX, label, label_len);
	ev->random_len =
		random_len == TSCOPE_KEY_RANDOM_LEN
			? go_read_bytes(ev->random, TSCOPE_KEY_RANDOM_LEN, random, random_len)
			: 0;
	ev->secret_len = go_read_bytes(ev->secret, TSCOPE_KEY_SECRET_MAX, secret, secret_len);
	bpf_ringbuf_submit(ev, ring_flags());
	return 0;
}

#endif
