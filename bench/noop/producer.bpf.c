// SPDX-License-Identifier: GPL-2.0 OR MIT
/* A synthetic producer for the reader benchmark. Run on demand with BPF_PROG_TEST_RUN, one
 * run emits args[0] records, each a struct tscope_chunk (bpf/include/events.h) with args[1]
 * payload bytes, into a ring buffer named events, the way capture.bpf.c emits them: one
 * bpf_ringbuf_output of a per-CPU scratch record per chunk. args[3] picks the wakeup policy:
 *   0  flags 0: the kernel wakes the reader whenever it had caught up (TlsScope before d942269)
 *   1  ring_flags() of bpf/lib/maps.h: no wakeup unless args[2] bytes or more are unread, then
 *      a forced wakeup for every record (TlsScope since d942269)
 *   2  what-if: a forced wakeup only for the record that brings the unread data past args[2]
 * Records spread over BENCH_CONNS connections and both directions with contiguous stream
 * offsets, so user space reassembles them as whole calls, and every record the ring buffer
 * refused shows up there as a gap. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "events.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define BENCH_PAYLOAD_MAX 4096
#define BENCH_CONNS 64 /* a power of two */
#define BENCH_PID 4242

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 32 << 20); /* user space sets the size TlsScope uses */
} events SEC(".maps");

struct bench_record {
	struct tscope_chunk chunk;
	__u8 data[BENCH_PAYLOAD_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_record);
} record SEC(".maps");

/* Read by user space between runs; only one thread runs the producer. */
struct bench_counters {
	__u64 produced;	      /* records the ring buffer accepted */
	__u64 lost;	      /* records it refused (full) */
	__u64 produced_bytes; /* payload bytes accepted */
	__u64 seq;	      /* records attempted so far: the next record's sequence number */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_counters);
} counters SEC(".maps");

struct run_state {
	__u64 seq;
	__u64 produced;
	__u64 lost;
	__u64 wakeup_bytes;
	__u64 policy;
	__u32 len;
	__u32 pad;
};

static long emit_one(__u32 i, void *arg)
{
	struct run_state *r = arg;
	__u32 zero = 0;
	struct bench_record *rec = bpf_map_lookup_elem(&record, &zero);
	if (!rec)
		return 1;
	__u64 len = r->len;
	asm volatile("" : "+r"(len)); /* bound the register the helper receives */
	if (len > BENCH_PAYLOAD_MAX)
		return 1;
	__u64 seq = r->seq + i;
	/* stream (conn, dir) gets every 2*BENCH_CONNS-th record: its offsets are contiguous */
	rec->chunk.head.time_ns = bpf_ktime_get_ns();
	rec->chunk.conn_id = (seq & (BENCH_CONNS - 1)) + 1;
	rec->chunk.direction = (seq / BENCH_CONNS) & 1;
	rec->chunk.stream_offset = (seq / (2 * BENCH_CONNS)) * len;
	rec->chunk.start_ns = rec->chunk.head.time_ns - 1000;
	__u64 flags = 0;
	if (r->policy == 1) {
		flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= r->wakeup_bytes
				? BPF_RB_FORCE_WAKEUP
				: BPF_RB_NO_WAKEUP;
	} else if (r->policy == 2) {
		__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
		__u64 size = 8 + sizeof(struct tscope_chunk) + len; /* header + record, as queued */
		flags = avail < r->wakeup_bytes && avail + size >= r->wakeup_bytes
				? BPF_RB_FORCE_WAKEUP
				: BPF_RB_NO_WAKEUP;
	}
	if (bpf_ringbuf_output(&events, rec, sizeof(struct tscope_chunk) + len, flags) < 0)
		r->lost++;
	else
		r->produced++;
	return 0;
}

/* ctx->args[0]: records to emit (at most 1 << 23), ctx->args[1]: payload bytes per record,
 * ctx->args[2]: wakeup threshold in bytes, ctx->args[3]: wakeup policy (see the top). */
SEC("raw_tp")
int produce(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 zero = 0;
	struct bench_record *rec = bpf_map_lookup_elem(&record, &zero);
	struct bench_counters *c = bpf_map_lookup_elem(&counters, &zero);
	if (!rec || !c)
		return 1;
	__u64 count = ctx->args[0];
	__u64 len = ctx->args[1];
	if (count > (1 << 23) || len > BENCH_PAYLOAD_MAX)
		return 2;

	struct tscope_chunk *h = &rec->chunk;
	h->head.kind = TSCOPE_EVENT_DATA;
	h->head.flags = TSCOPE_CHUNK_FIRST | TSCOPE_CHUNK_LAST;
	h->head.task.pid = BENCH_PID;
	h->head.task.tid = BENCH_PID;
	h->head.task.uid = 0;
	h->head.task.cgroup_id = 1;
	h->fd = 7;
	h->len = len;
	h->call_len = len;
	h->dropped = 0;
	h->library = 0;
	h->addr.family = 2; /* AF_INET, 127.0.0.1:443 <-> 127.0.0.1:40000 */
	h->addr.local_port = 443;
	h->addr.remote_port = 40000;
	h->addr.local_addr[0] = 127;
	h->addr.local_addr[3] = 1;
	h->addr.remote_addr[0] = 127;
	h->addr.remote_addr[3] = 1;
	__builtin_memcpy(h->head.task.comm, "bench-producer", 15);

	struct run_state r = {
		.seq = c->seq, .len = len, .wakeup_bytes = ctx->args[2], .policy = ctx->args[3]
	};
	bpf_loop(count, emit_one, &r, 0);
	c->seq += count;
	c->produced += r.produced;
	c->lost += r.lost;
	c->produced_bytes += r.produced * len;
	return 0;
}
