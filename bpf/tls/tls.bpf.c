// SPDX-License-Identifier: GPL-2.0 OR MIT
/* TlsScope's capture object: TLS library probes, the socket syscall tracepoints that give
 * their fd and 4-tuple, one ring buffer. Library families differ only in the thin probe
 * wrappers at the bottom; everything else is shared. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "events.h"
#include "../lib/target.h"
#include "../lib/task.h"
#include "maps.h"
#include "../lib/sock.h"
#include "keys.h"
#include "tls_call.h"
#include "go_tls.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* ---- socket syscalls: reveal the fd of the TLS call running on this thread ---- */
#define FD_TRACEPOINT(name, is_send)                                                               \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                                \
	int tp_##name(struct trace_event_raw_sys_enter *ctx)                                       \
	{                                                                                          \
		return tls_call_saw_fd(ctx->args[0], is_send);                                     \
	}
FD_TRACEPOINT(read, 0)
FD_TRACEPOINT(write, 1)
FD_TRACEPOINT(readv, 0)
FD_TRACEPOINT(writev, 1)
FD_TRACEPOINT(recvfrom, 0)
FD_TRACEPOINT(sendto, 1)
FD_TRACEPOINT(recvmsg, 0)
FD_TRACEPOINT(sendmsg, 1)

/* ---- OpenSSL / BoringSSL ---- */
SEC("uprobe")
int BPF_KPROBE(ssl_read_enter, void *ssl, void *buf)
{
	return tls_call_enter((__u64)ssl, (__u64)buf, 0, TSCOPE_DIR_READ);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_enter, void *ssl, void *buf)
{
	return tls_call_enter((__u64)ssl, (__u64)buf, 0, TSCOPE_DIR_WRITE);
}

/* int SSL_read_ex(SSL *s, void *buf, size_t num, size_t *readbytes) */
SEC("uprobe")
int BPF_KPROBE(ssl_read_ex_enter, void *ssl, void *buf, __u64 num, __u64 *readbytes)
{
	return tls_call_enter((__u64)ssl, (__u64)buf, (__u64)readbytes, TSCOPE_DIR_READ);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_ex_enter, void *ssl, void *buf, __u64 num, __u64 *written)
{
	return tls_call_enter((__u64)ssl, (__u64)buf, (__u64)written, TSCOPE_DIR_WRITE);
}

/* int ssl_write_internal(SSL *s, const void *buf, size_t num, uint64_t flags, size_t *written):
 * OpenSSL 3.3+'s internal write, probed in place of the exported ones (OpenSsl/InternalPath.cs) */
SEC("uprobe")
int BPF_KPROBE(ssl_write_flags_enter, void *ssl, void *buf, __u64 num, __u64 flags, __u64 *written)
{
	return tls_call_enter((__u64)ssl, (__u64)buf, (__u64)written, TSCOPE_DIR_WRITE);
}

/* One return probe for all four: the saved entry says how to read the byte count. */
SEC("uretprobe")
int BPF_KRETPROBE(tls_return, long ret)
{
	return tls_call_return(ctx, ret);
}

SEC("uprobe")
int BPF_KPROBE(ssl_free_enter, void *ssl)
{
	return tls_conn_free((__u64)ssl);
}

/* int SSL_do_handshake(SSL *s): keys that exist only while it runs (keys.h) */
SEC("uprobe")
int BPF_KPROBE(ssl_handshake_enter, void *ssl)
{
	return handshake_enter(ctx, (__u64)ssl);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_handshake_return)
{
	return handshake_return();
}

/* ---- GnuTLS: ssize_t gnutls_record_send(session, data, size) and its kin (send2, send_range,
 * send_early_data), gnutls_record_recv(session, data, size) and its kin. Calls share the entry,
 * return and fd path of OpenSSL's; gnutls_record_send tail-jumps into send2, which the nesting
 * count of tls_call_enter takes as one call. ---- */
struct gnutls_retry_key {
	__u32 tgid;
	__u32 pad;
	__u64 session;
};

/* After GNUTLS_E_AGAIN or GNUTLS_E_INTERRUPTED a send may be repeated with NULL, 0: the bytes
 * it then reports sent are the first call's, still at that call's buffer. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct gnutls_retry_key);
	__type(value, __u64);
} gnutls_retry SEC(".maps");

#define GNUTLS_E_AGAIN (-28)
#define GNUTLS_E_INTERRUPTED (-52)

SEC("uprobe")
int BPF_KPROBE(gnutls_send_enter, void *session, void *data)
{
	__u64 buf = (__u64)data;
	if (!buf) {
		struct gnutls_retry_key key = { .tgid = bpf_get_current_pid_tgid() >> 32,
						.session = (__u64)session };
		__u64 *saved = bpf_map_lookup_elem(&gnutls_retry, &key);
		buf = saved ? *saved : 0;
	}
	return tls_call_enter((__u64)session, buf, 0, TSCOPE_DIR_WRITE);
}

SEC("uretprobe")
int BPF_KRETPROBE(gnutls_send_return, long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct active_call *c = bpf_map_lookup_elem(&active_calls, &tid);
	if (c && c->buf) {
		struct gnutls_retry_key key = { .tgid = pid_tgid >> 32, .session = c->ssl };
		if ((int)ret == GNUTLS_E_AGAIN || (int)ret == GNUTLS_E_INTERRUPTED)
			bpf_map_update_elem(&gnutls_retry, &key, &c->buf, BPF_ANY);
		else if (!c->nest)
			bpf_map_delete_elem(&gnutls_retry, &key);
	}
	return tls_call_return(ctx, ret);
}

/* int _gnutls_call_keylog_func(gnutls_session_t session, const char *label, const uint8_t *data,
 * unsigned size): every secret GnuTLS would write to SSLKEYLOGFILE, as it would write it. The
 * client random is in the session, at an offset user space read from the library (GnuTls/KeyLogCall.cs). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TSCOPE_MAX_LIBRARIES);
	__type(key, __u32);
	__type(value, __u32);
} gnutls_random_offsets SEC(".maps");

SEC("uprobe")
int BPF_KPROBE(gnutls_keylog_enter, void *session, const char *label, const void *data, __u32 size)
{
	if (!cfg.keys)
		return 0;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!trace_allowed(pid_tgid))
		return 0;
	__u32 lib = (__u32)bpf_get_attach_cookie(ctx);
	__u32 *offset = bpf_map_lookup_elem(&gnutls_random_offsets, &lib);
	if (!offset || !*offset)
		return 0;
	struct tscope_key_line *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		STAT_ADD(lost_records, 1);
		return 0;
	}
	event_head(&ev->head, TSCOPE_EVENT_KEY_LINE, 0, pid_tgid);
	ev->library = lib;
	long n = bpf_probe_read_user_str(ev->label, TSCOPE_KEY_LABEL_MAX, label);
	ev->label_len = n > 1 && n < TSCOPE_KEY_LABEL_MAX
				? n - 1
				: 0; /* a label that filled it may be cut */
	ev->random_len = bpf_probe_read_user(ev->random, TSCOPE_KEY_RANDOM_LEN,
					     (char *)session + (*offset & 0xffff)) == 0
				 ? TSCOPE_KEY_RANDOM_LEN
				 : 0;
	ev->secret_len = 0;
	ev->secret_len = go_read_bytes(ev->secret, TSCOPE_KEY_SECRET_MAX, data, size);
	bpf_ringbuf_submit(ev, ring_flags());
	return 0;
}

/* ---- Go crypto/tls (go_tls.h): entry probes and a probe on every RET, never a uretprobe ---- */
SEC("uprobe")
int go_read_enter(struct pt_regs *ctx)
{
	return go_call_enter(ctx, TSCOPE_DIR_READ);
}

SEC("uprobe")
int go_write_enter(struct pt_regs *ctx)
{
	return go_call_enter(ctx, TSCOPE_DIR_WRITE);
}

SEC("uprobe")
int go_call_ret(struct pt_regs *ctx)
{
	return go_call_return(ctx);
}

SEC("uprobe")
int go_close_enter(struct pt_regs *ctx)
{
	return go_conn_close(ctx);
}

SEC("uprobe")
int go_keylog_enter(struct pt_regs *ctx)
{
	return go_key_log(ctx);
}
