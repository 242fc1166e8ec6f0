/* The maps every capture source shares: one ring buffer, loss counters, payload scratch. */
#ifndef TLSSCOPE_MAPS_H
#define TLSSCOPE_MAPS_H

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20); /* user space resizes it before load */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tscope_stats);
} stats SEC(".maps");

/* One record being built, per CPU: a header and up to TSCOPE_CHUNK_DATA_MAX payload bytes. A
 * plain array indexed by CPU (user space sets max_entries to the CPU count) because a
 * per-CPU value may not exceed 32 KiB. busy guards against a preempted probe on the same CPU. */
struct scratch {
	struct tscope_chunk chunk;
	__u8 data[TSCOPE_CHUNK_DATA_MAX];
	__u32 busy;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

/* Waking the reader for every record costs a context switch per chunk. Instead the reader
 * polls every few milliseconds, and is woken early only when unread data passes
 * cfg.wakeup_bytes, so a burst never waits for the next poll to be drained. */
static __always_inline __u64 ring_flags(void)
{
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= cfg.wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

static __always_inline struct tscope_stats *stats_here(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&stats, &zero);
}

#define STAT_ADD(field, n)                                                                         \
	do {                                                                                       \
		struct tscope_stats *__s = stats_here();                                           \
		if (__s)                                                                           \
			__s->field += (n);                                                         \
	} while (0)

#endif
