// SPDX-License-Identifier: GPL-2.0 OR MIT
/* TlsScope's packet object (--pcapng): TC programs copy each packet of the chosen interfaces
 * into a ring buffer, tagged with the process owning its socket. Ownership is learned from
 * sock/inet_sock_set_state in the process that connects or listens (and seeded from /proc by
 * user space for sockets older than the capture). With --pid/--uid/--comm, only the traced
 * processes' packets are kept, in the kernel. Programs never change a packet's fate. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include "events.h"
#include "../lib/target.h"
#include "../lib/task.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define TC_ACT_UNSPEC (-1) /* let the next filter decide: we only watch */
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define PROTO_TCP 6
#define PROTO_UDP 17

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} packets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tscope_packet_stats);
} packet_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct tscope_sock_addr);
	__type(value, struct tscope_task);
} owners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct tscope_cmdline);
} cmdlines SEC(".maps");

/* Link-layer header length per ifindex (user space sets it; absent = 14, Ethernet). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u32);
} link_header SEC(".maps");

struct packet_scratch {
	struct tscope_packet head;
	__u8 data[TSCOPE_PACKET_MAX];
};

/* Indexed by CPU (max_entries set to the CPU count): a per-CPU value may not exceed 32 KiB. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct packet_scratch);
} packet_scratch SEC(".maps");

#define PSTAT_ADD(field, n)                                                                        \
	do {                                                                                       \
		__u32 __zero = 0;                                                                  \
		struct tscope_packet_stats *__s = bpf_map_lookup_elem(&packet_stats, &__zero);     \
		if (__s)                                                                           \
			__s->field += (n);                                                         \
	} while (0)

/* ---- who owns a socket ---- */

/* A connecting socket has no source port yet when it enters SYN_SENT (the kernel picks the
 * port after setting the state), so its owner waits here, keyed by the socket's address, until
 * its next transition (ESTABLISHED, or CLOSE on failure) gives the full 4-tuple. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct tscope_task);
} connecting SEC(".maps");

/* An IPv4 peer of a dual-stack (AF_INET6) socket shows as ::ffff:a.b.c.d; its packets are
 * IPv4, so such a socket is keyed as IPv4. */
static __always_inline int v4_mapped(const __u8 *a)
{
	for (int i = 0; i < 10; i++)
		if (a[i])
			return 0;
	return a[10] == 0xff && a[11] == 0xff;
}

static __always_inline void owner_key(struct trace_event_raw_inet_sock_set_state *ev,
				      int with_remote, struct tscope_sock_addr *key)
{
	int v4 = ev->family == 2 ||
		 (v4_mapped(ev->saddr_v6) && (!with_remote || v4_mapped(ev->daddr_v6)));
	key->family = v4 ? 2 : ev->family;
	key->local_port = ev->sport;
	if (ev->family == 2)
		__builtin_memcpy(key->local_addr, ev->saddr, 4);
	else if (v4)
		__builtin_memcpy(key->local_addr, ev->saddr_v6 + 12, 4);
	else
		__builtin_memcpy(key->local_addr, ev->saddr_v6, 16);
	if (!with_remote)
		return;
	key->remote_port = ev->dport;
	if (ev->family == 2)
		__builtin_memcpy(key->remote_addr, ev->daddr, 4);
	else if (v4)
		__builtin_memcpy(key->remote_addr, ev->daddr_v6 + 12, 4);
	else
		__builtin_memcpy(key->remote_addr, ev->daddr_v6, 16);
}

static __always_inline int v6_any(const __u8 *a)
{
	for (int i = 0; i < 16; i++)
		if (a[i])
			return 0;
	return 1;
}

/* Sets (owner) or forgets (null) a key. A listener on [::] also takes IPv4 connections: its
 * IPv4 twin (0.0.0.0, same port) is set or forgotten with it. */
static __always_inline void owner_set(struct tscope_sock_addr *key, struct tscope_task *owner)
{
	if (owner)
		bpf_map_update_elem(&owners, key, owner, BPF_ANY);
	else
		bpf_map_delete_elem(&owners, key);
	if (key->family != 10 || key->remote_port || !v6_any(key->local_addr))
		return;
	key->family = 2;
	if (owner)
		bpf_map_update_elem(&owners, key, owner, BPF_ANY);
	else
		bpf_map_delete_elem(&owners, key);
}

/* Copies the current process's arguments (its mm's arg_start..arg_end) once per pid. */
static __always_inline void remember_cmdline(__u32 pid)
{
	if (bpf_map_lookup_elem(&cmdlines, &pid))
		return;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	if (!mm)
		return;
	__u64 start = BPF_CORE_READ(mm, arg_start), end = BPF_CORE_READ(mm, arg_end);
	struct tscope_cmdline c = {};
	__u64 len = end > start ? end - start : 0;
	if (len > TSCOPE_CMDLINE_MAX)
		len = TSCOPE_CMDLINE_MAX;
	asm volatile("" : "+r"(len));
	if (len == 0 || len > TSCOPE_CMDLINE_MAX)
		return;
	if (bpf_probe_read_user(c.args, len, (void *)start) < 0)
		return;
	c.len = len;
	bpf_map_update_elem(&cmdlines, &pid, &c, BPF_NOEXIST);
}

SEC("tracepoint/sock/inet_sock_set_state")
int tp_sock_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	/* One copy of the record: the verifier refuses ctx reads through a moved pointer. */
	struct trace_event_raw_inet_sock_set_state ev;
	if (bpf_probe_read_kernel(&ev, sizeof(ev), ctx) < 0 || ev.protocol != PROTO_TCP)
		return 0;
	__u64 sk = (__u64)ev.skaddr;
	struct tscope_sock_addr key = {};
	if (ev.newstate == TCP_CLOSE) {
		/* Forget the socket (its last packets went out before this), so a later socket on the
		 * same 4-tuple or port is not taken for it. */
		bpf_map_delete_elem(&connecting, &sk);
		owner_key(&ev, ev.oldstate != TCP_LISTEN, &key);
		owner_set(&key, 0);
		return 0;
	}
	if (ev.newstate != TCP_SYN_SENT && ev.newstate != TCP_LISTEN) {
		/* Not in the owner's context (softirq, often): only completes a connect seen before. */
		struct tscope_task *o = bpf_map_lookup_elem(&connecting, &sk);
		if (!o || !ev.sport)
			return 0;
		owner_key(&ev, 1, &key);
		bpf_map_update_elem(&owners, &key, o, BPF_ANY);
		bpf_map_delete_elem(&connecting, &sk);
		return 0;
	}
	/* connect() and listen() run in the owning process. Accepted connections are matched
	 * through their listener. A process that is not traced takes the key over too: its
	 * packets must not pass as an earlier owner's. */
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	int traced = trace_allowed(pid_tgid);
	struct tscope_task owner;
	task_fill(&owner, pid_tgid);
	owner.tid = 0; /* a socket is the process's, whichever thread connected */
	if (traced)
		remember_cmdline(owner.pid);
	if (ev.newstate == TCP_SYN_SENT) {
		if (traced)
			bpf_map_update_elem(&connecting, &sk, &owner, BPF_ANY);
		else
			bpf_map_delete_elem(&connecting, &sk);
		return 0;
	}
	owner_key(&ev, 0, &key);
	owner_set(&key, traced ? &owner : 0);
	return 0;
}

/* ---- packets ---- */
struct flow {
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 saddr[16];
	__u8 daddr[16];
};

static __always_inline int parse_flow(struct __sk_buff *skb, __u16 proto, __u32 l2, struct flow *f)
{
	__u32 l4;
	if (proto == ETH_P_IP) {
		__u8 vihl = 0;
		if (bpf_skb_load_bytes(skb, l2, &vihl, 1) < 0)
			return -1;
		f->family = 2;
		if (bpf_skb_load_bytes(skb, l2 + 9, &f->proto, 1) < 0 ||
		    bpf_skb_load_bytes(skb, l2 + 12, f->saddr, 4) < 0 ||
		    bpf_skb_load_bytes(skb, l2 + 16, f->daddr, 4) < 0)
			return -1;
		l4 = l2 + (vihl & 0xf) * 4;
	} else if (proto == ETH_P_IPV6) {
		f->family = 10;
		if (bpf_skb_load_bytes(skb, l2 + 6, &f->proto, 1) < 0 ||
		    bpf_skb_load_bytes(skb, l2 + 8, f->saddr, 16) < 0 ||
		    bpf_skb_load_bytes(skb, l2 + 24, f->daddr, 16) < 0)
			return -1;
		l4 = l2 + 40; /* extension headers: ports stay unknown, the packet still counts */
	} else {
		return -1;
	}
	if (f->proto != PROTO_TCP && f->proto != PROTO_UDP)
		return 0;
	__u16 ports[2];
	if (bpf_skb_load_bytes(skb, l4, ports, sizeof(ports)) < 0)
		return 0;
	f->sport = bpf_ntohs(ports[0]);
	f->dport = bpf_ntohs(ports[1]);
	return 0;
}

static __always_inline struct tscope_task *owner_as(struct flow *f, int sender, int listener,
						    int any_addr)
{
	struct tscope_sock_addr key = { .family = f->family };
	__u8 *local = sender ? f->saddr : f->daddr;
	__u8 *remote = sender ? f->daddr : f->saddr;
	key.local_port = sender ? f->sport : f->dport;
	if (!any_addr)
		__builtin_memcpy(key.local_addr, local, 16);
	if (!listener) {
		key.remote_port = sender ? f->dport : f->sport;
		__builtin_memcpy(key.remote_addr, remote, 16);
	}
	return bpf_map_lookup_elem(&owners, &key);
}

/* The sending socket first (on loopback both ends are local), then the receiving one, then a
 * listener on either end (accepted connections, and the SYN before accept). */
static __always_inline struct tscope_task *owner_of(struct flow *f)
{
	struct tscope_task *o;
	if (f->proto != PROTO_TCP)
		return 0;
	if ((o = owner_as(f, 1, 0, 0)) || (o = owner_as(f, 0, 0, 0)))
		return o;
	if ((o = owner_as(f, 0, 1, 0)) || (o = owner_as(f, 0, 1, 1)))
		return o;
	if ((o = owner_as(f, 1, 1, 0)) || (o = owner_as(f, 1, 1, 1)))
		return o;
	return 0;
}

static __always_inline int handle(struct __sk_buff *skb, __u32 egress)
{
	/* Context fields first, each read once: the verifier refuses a ctx pointer moved by an
	 * offset the compiler may fold into later reads. */
	__u32 ifindex = skb->ifindex;
	__u32 len = skb->len;
	__u16 proto = bpf_ntohs(skb->protocol);
	asm volatile("" ::: "memory");
	__u32 *l2p = bpf_map_lookup_elem(&link_header, &ifindex);
	__u32 l2 = l2p ? *l2p : 14;
	struct flow f = {};
	struct tscope_task *owner = 0;
	if (parse_flow(skb, proto, l2 & 0xff, &f) == 0)
		owner = owner_of(&f);
	if (!owner && target_restricted()) {
		PSTAT_ADD(filtered, 1);
		return TC_ACT_UNSPEC;
	}
	__u32 cpu = bpf_get_smp_processor_id();
	struct packet_scratch *s = bpf_map_lookup_elem(&packet_scratch, &cpu);
	if (!s)
		return TC_ACT_UNSPEC;
	__u64 cap = len; /* 64-bit: a zero-extended copy would lose the bounds checked below */
	if (cap > TSCOPE_PACKET_MAX) {
		cap = TSCOPE_PACKET_MAX;
		PSTAT_ADD(truncated, 1);
	}
	asm volatile("" : "+r"(cap));
	if (cap == 0 || cap > TSCOPE_PACKET_MAX)
		return TC_ACT_UNSPEC;
	if (bpf_skb_load_bytes(skb, 0, s->data, cap) < 0)
		return TC_ACT_UNSPEC;
	s->head.head.kind = TSCOPE_EVENT_PACKET;
	s->head.head.flags =
		(egress ? TSCOPE_PACKET_EGRESS : 0) | (owner ? TSCOPE_PACKET_OWNED : 0);
	s->head.head.time_ns = bpf_ktime_get_ns();
	s->head.ifindex = ifindex;
	s->head.len = len;
	s->head.cap_len = cap;
	s->head.pad = 0;
	if (owner)
		s->head.head.task = *owner; /* the envelope's task is the socket's owner */
	else
		__builtin_memset(&s->head.head.task, 0, sizeof(s->head.head.task));
	/* Like the TLS ring (maps.h): the reader polls, and is woken early only for a burst. */
	__u64 wake = bpf_ringbuf_query(&packets, BPF_RB_AVAIL_DATA) >= cfg.wakeup_bytes
			     ? BPF_RB_FORCE_WAKEUP
			     : BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_output(&packets, s, sizeof(struct tscope_packet) + cap, wake) < 0) {
		PSTAT_ADD(lost_packets, 1);
		return TC_ACT_UNSPEC;
	}
	PSTAT_ADD(packets, 1);
	PSTAT_ADD(bytes, cap);
	return TC_ACT_UNSPEC;
}

SEC("tc")
int tscope_ingress(struct __sk_buff *skb)
{
	return handle(skb, 0);
}

SEC("tc")
int tscope_egress(struct __sk_buff *skb)
{
	return handle(skb, 1);
}
