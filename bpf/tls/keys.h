/* TLS secrets without compiled-in offsets: user space stores, per library, where each value
 * lives (struct tscope_key_layout, found by calibration or a table); at the return of a TLS call
 * the kernel reads those paths once per handshake and hands the raw bytes over. */
#ifndef TLSSCOPE_KEYS_H
#define TLSSCOPE_KEYS_H

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TSCOPE_MAX_LIBRARIES);
	__type(key, __u32);
	__type(value, struct tscope_key_layout);
} key_layouts SEC(".maps");

/* Replaces *at with the pointer stored at *at + off; fails on an unreadable or null pointer. */
static __always_inline int path_step(__u64 *at, __u32 off)
{
	__u64 next = 0;
	if (bpf_probe_read_user(&next, sizeof(next), (void *)(*at + off)) < 0 || !next)
		return -1;
	*at = next;
	return 0;
}

/* Follows p from the connection object at base and reads size bytes into dst. Written out
 * step by step: TSCOPE_PATH_DEPTH is 3. */
static __always_inline int path_read(__u64 base, const struct tscope_mem_path *p, void *dst,
				     __u32 size)
{
	__u64 at = base;
	__u32 deref = p->deref;
	if (deref > TSCOPE_PATH_DEPTH)
		return -1;
	if (deref > 0 && path_step(&at, p->off[0]) < 0)
		return -1;
	if (deref > 1 && path_step(&at, p->off[1]) < 0)
		return -1;
	if (deref > 2 && path_step(&at, p->off[2]) < 0)
		return -1;
	return bpf_probe_read_user(dst, size, (void *)(at + p->off[deref & TSCOPE_PATH_DEPTH]));
}

static __always_inline __u64 path_read_u64(__u64 base, const struct tscope_key_layout *l,
					   __u32 slot)
{
	__u64 v = 0;
	if (slot >= TSCOPE_KEY_SLOTS)
		return 0;
	if (path_read(base, &l->slot[slot], &v, sizeof(v)) < 0)
		return 0;
	return v;
}

struct key_read_ctx {
	const struct tscope_key_layout *layout;
	struct tscope_keys *rec;
	__u64 ssl;
	__u32 mask; /* bit i: read slot i */
};

static long key_read_slot(__u32 index, void *arg)
{
	struct key_read_ctx *k = arg;
	__u64 i = index; /* 64-bit: a zero-extended copy would lose the bound checked below */
	asm volatile("" : "+r"(i)); /* one register, checked once, used for every index below */
	if (i >= TSCOPE_KEY_SLOTS)
		return 1;
	if (!((k->mask >> i) & 1))
		return 0;
	const struct tscope_mem_path *p = &k->layout->slot[i];
	__u32 size = p->size;
	if (!size || size > TSCOPE_KEY_SLOT_SIZE)
		return 0;
	if (path_read(k->ssl, p, k->rec->slots + i * TSCOPE_KEY_SLOT_SIZE, size) == 0)
		k->rec->read_mask |= 1u << (__u32)i;
	return 0;
}

/* Reserves, fills and submits one record of the slots in mask; false when the ring is full. */
static __always_inline int keys_emit(__u64 pid_tgid, __u64 ssl, __u32 lib,
				     const struct tscope_key_layout *l, __u32 mask, __u32 flags,
				     __u64 conn_id)
{
	struct tscope_keys *rec = bpf_ringbuf_reserve(&events, sizeof(*rec), 0);
	if (!rec) {
		STAT_ADD(lost_records, 1);
		return 0;
	}
	event_head(&rec->head, TSCOPE_EVENT_KEYS, flags, pid_tgid);
	rec->conn_id = conn_id;
	rec->ssl = ssl;
	rec->library = lib;
	rec->read_mask = 0;
	struct key_read_ctx k = { .layout = l, .rec = rec, .ssl = ssl, .mask = mask };
	bpf_loop(TSCOPE_KEY_SLOTS, key_read_slot, &k, 0);
	bpf_ringbuf_submit(rec, ring_flags());
	return 1;
}

/* Once per handshake per connection object: the client random identifies the handshake, and
 * the layout's ready slot says its secrets are all in place (else the next call tries again). */
static __always_inline void keys_after_call(void *ctx, __u64 pid_tgid, __u64 ssl, __u64 *seen,
					    __u64 conn_id)
{
	if (!cfg.keys)
		return; /* a constant: the verifier drops the rest when keys were not asked for */
	__u32 lib = (__u32)bpf_get_attach_cookie(ctx);
	const struct tscope_key_layout *l = bpf_map_lookup_elem(&key_layouts, &lib);
	if (!l || !l->valid)
		return;
	__u64 sig = path_read_u64(ssl, l, 0);
	if (!sig || sig == *seen)
		return;
	__u16 version = (__u16)path_read_u64(ssl, l, l->version_slot);
	if (!path_read_u64(ssl, l, version == 0x0304 ? l->ready_slot13 : l->ready_slot12))
		return;
	if (keys_emit(pid_tgid, ssl, lib, l, ~l->handshake_mask, 0, conn_id))
		*seen = sig;
}

/* ---- secrets that live only during the handshake (BoringSSL's TLS 1.3 handshake secrets) ----
 * SSL_do_handshake marks the thread; the socket syscalls it makes after the handshake secrets
 * are derived (BoringSSL reads record by record, so the read after ServerHello; the server's
 * flight write) come before they are freed. */
struct handshake_call {
	__u64 ssl;
	__u32 library;
	__u32 sent;
};

/* LRU: a thread that dies inside SSL_do_handshake never reaches the return probe. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct handshake_call);
} handshakes SEC(".maps");

static __always_inline int handshake_enter(void *ctx, __u64 ssl)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!trace_allowed(pid_tgid))
		return 0;
	__u32 lib = (__u32)bpf_get_attach_cookie(ctx);
	const struct tscope_key_layout *l = bpf_map_lookup_elem(&key_layouts, &lib);
	if (!l || !l->valid || !l->handshake_mask)
		return 0;
	__u32 tid = (__u32)pid_tgid;
	struct handshake_call *prev = bpf_map_lookup_elem(&handshakes, &tid);
	if (prev && prev->ssl == ssl)
		return 0; /* nested (SSL_connect calling it): keep what was sent */
	struct handshake_call h = { .ssl = ssl, .library = lib };
	bpf_map_update_elem(&handshakes, &tid, &h, BPF_ANY); /* a dead thread's entry is replaced */
	return 0;
}

static __always_inline int handshake_return(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	bpf_map_delete_elem(&handshakes, &tid);
	return 0;
}

/* From the socket syscall tracepoints. Only a socket's: a key log callback writing its file
 * runs between the derivation of two secrets. */
static __always_inline void keys_during_handshake(__u64 pid_tgid, long fd)
{
	if (!cfg.keys)
		return; /* every socket syscall comes here: without keys, not even a lookup */
	__u32 tid = (__u32)pid_tgid;
	struct handshake_call *h = bpf_map_lookup_elem(&handshakes, &tid);
	if (!h || h->sent || !sock_of_fd((int)fd))
		return;
	__u32 lib = h->library;
	const struct tscope_key_layout *l = bpf_map_lookup_elem(&key_layouts, &lib);
	if (!l || !l->valid)
		return;
	__u32 mask = l->handshake_mask;
	if (!path_read_u64(h->ssl, l, 0) || !path_read_u64(h->ssl, l, l->handshake_ready_slot))
		return; /* not derived yet: a later send of the same handshake tries again */
	if (keys_emit(pid_tgid, h->ssl, lib, l, mask | 1, TSCOPE_KEYS_HANDSHAKE, 0))
		h->sent = 1;
}

#endif
