/* The only structs that cross the kernel/user boundary. The C# mirrors live in
 * src/TlsScope.Engine/Kernel/ (the envelope, config, exec) and each source's Events/ or
 * *Records.cs (its records); a test pins their size and offsets to this file.
 * Rules: fixed-width types only, explicit padding (no holes), u32 flags instead of bool,
 * payload last. */
#ifndef TLSSCOPE_EVENTS_H
#define TLSSCOPE_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#include <stddef.h>
#endif

#define TSCOPE_COMM_LEN 16
/* Payload bytes carried by one ring-buffer record. A larger SSL call is split over as many
 * records as it needs; user space stitches them back together. */
#define TSCOPE_CHUNK_DATA_MAX 32768

enum tscope_event_kind {
	TSCOPE_EVENT_DATA = 1,	/* struct tscope_chunk: plaintext read or written */
	TSCOPE_EVENT_CLOSE = 2, /* struct tscope_conn_close: SSL_free on a tracked connection */
	TSCOPE_EVENT_KEYS =
		3, /* struct tscope_keys: a handshake's secrets, read once per handshake */
	TSCOPE_EVENT_PACKET = 4,   /* struct tscope_packet: a packet seen by the TC programs */
	TSCOPE_EVENT_EXEC = 5,	   /* struct tscope_exec: a traced process executed a program */
	TSCOPE_EVENT_KEY_LINE = 6, /* struct tscope_key_line: one secret a Go program logged */
};

enum tscope_direction {
	TSCOPE_DIR_READ = 0,
	TSCOPE_DIR_WRITE = 1,
};

enum tscope_chunk_flags {
	TSCOPE_CHUNK_FIRST = 1, /* first record of one SSL call */
	TSCOPE_CHUNK_LAST = 2,	/* last record of one SSL call */
	TSCOPE_CHUNK_TRUNCATED =
		4, /* --max-payload dropped the call's remaining bytes (see dropped) */
	TSCOPE_CHUNK_FD_INFERRED = 8, /* fd and tuple from the send after a memory-BIO write */
};

/* A socket's endpoints as the kernel sees them. Ports in host order; addresses in network
 * order (IPv4 in the first 4 bytes). family is AF_INET, AF_INET6, or 0 when unknown. */
struct tscope_sock_addr {
	__u16 family;
	__u16 local_port;
	__u16 remote_port;
	__u16 pad;
	__u8 local_addr[16];
	__u8 remote_addr[16];
};

/* Who an event is about: the process and thread, its user, its cgroup (v2 id: the inode of
 * the cgroup's directory; user space maps it to a path and a container), its name. */
struct tscope_task {
	__u32 pid; /* thread group id: the process */
	__u32 tid;
	__u32 uid;
	__u32 pad;
	__u64 cgroup_id;
	char comm[TSCOPE_COMM_LEN];
};

/* The envelope of every record, whatever its source: what, when, about whom. */
struct tscope_event_head {
	__u32 kind;
	__u32 flags;
	__u64 time_ns; /* CLOCK_MONOTONIC */
	struct tscope_task task;
};

struct tscope_chunk {
	struct tscope_event_head head;
	__u64 conn_id;	     /* stable per connection, never 0 */
	__u64 start_ns;	     /* CLOCK_MONOTONIC at the call's entry; head.time_ns is its return */
	__u64 stream_offset; /* bytes of this connection and direction before this record */
	__s32 fd;	     /* -1 when not learned */
	__u32 len;	     /* payload bytes in data[] */
	__u32 call_len;	     /* bytes the whole call transferred */
	__u32 dropped;	     /* bytes --max-payload dropped from this call (on the last record) */
	__u32 library;	     /* attach cookie: index of the library in user space's table */
	__u32 direction;     /* enum tscope_direction */
	struct tscope_sock_addr addr;
	__u8 data[];
};

struct tscope_conn_close {
	struct tscope_event_head head;
	__u64 conn_id;
	__u64 read_bytes; /* final stream offsets: any tail loss shows against them */
	__u64 write_bytes;
};

/* ---- TLS secrets ----
 * The kernel knows nothing about SSL structures: user space finds, per library build, where
 * each value lives (calibration or a table) and hands over a list of memory paths. The kernel
 * reads them all once per handshake and user space gives the bytes their meaning. */
#define TSCOPE_KEY_SLOTS 12
#define TSCOPE_KEY_SLOT_SIZE 64 /* EVP_MAX_MD_SIZE */
#define TSCOPE_PATH_DEPTH 3
#define TSCOPE_MAX_LIBRARIES 256

/* Where one value lives, starting at the library's connection object (the SSL *): load the
 * pointer at base + off[i] for each i < deref in turn, then read size bytes at base + off[deref]. */
struct tscope_mem_path {
	__u32 off[TSCOPE_PATH_DEPTH + 1];
	__u32 deref;
	__u32 size; /* 0: slot unused; at most TSCOPE_KEY_SLOT_SIZE */
};

/* One library build's layout, stored in the key_layouts map at the library's index. */
struct tscope_key_layout {
	struct tscope_mem_path
		slot[TSCOPE_KEY_SLOTS]; /* slot 0: client random, the set's identity */
	__u32 valid;			/* 0: keys are not read for this library */
	__u32 version_slot; /* slot whose first 2 bytes (little endian) are the protocol version */
	__u32 ready_slot12; /* slot that is non-zero once a TLS 1.2 handshake's keys are complete */
	__u32 ready_slot13; /* the same for TLS 1.3 (0x0304) */
	__u32 handshake_mask; /* bit i: slot i only exists during the handshake (BoringSSL's TLS 1.3
			       * handshake secrets): read at the handshake's socket syscalls */
	__u32 handshake_ready_slot; /* non-zero once those are derived (the lowest of the mask) */
};

enum tscope_keys_flags {
	TSCOPE_KEYS_HANDSHAKE = 1, /* read during the handshake: slot 0 and handshake_mask slots */
};

struct tscope_keys {
	struct tscope_event_head head;
	__u64 conn_id;	 /* the connection the secrets belong to; 0 during the handshake */
	__u64 ssl;	 /* the connection object's address in the process */
	__u32 library;	 /* attach cookie, as in tscope_chunk */
	__u32 read_mask; /* bit i: slot i was read */
	__u8 slots[TSCOPE_KEY_SLOTS *
		   TSCOPE_KEY_SLOT_SIZE]; /* slot i at i * TSCOPE_KEY_SLOT_SIZE */
};

/* ---- Go crypto/tls (bpf/tls/go_tls.h) ---- */
enum tscope_go_abi {
	TSCOPE_GO_ABI_REGS = 1,	 /* Go >= 1.17: arguments and results in registers, g in R14 */
	TSCOPE_GO_ABI_STACK = 2, /* older Go: arguments and results on the stack, g in TLS */
};

/* One Go binary's facts, in the go_layouts map at the library's index. User space reads the Go
 * version from the binary's buildinfo and takes these from its table (a test checks it against
 * the binaries' DWARF). abi 0: the library is not a Go binary. */
struct tscope_go_layout {
	__u32 abi;		/* enum tscope_go_abi */
	__u32 goid_offset;	/* runtime.g.goid */
	__u32 conn_offset;	/* crypto/tls.Conn.conn, a net.Conn interface: itab, then data */
	__u32 itab_hash_offset; /* runtime.itab.hash: the concrete type's hash */
	__u32 tcpconn_hash; /* that hash for *net.TCPConn: the only type whose data is followed */
	__u32 netfd_offset; /* net.TCPConn -> conn.fd, a *net.netFD */
	__u32 sysfd_offset; /* net.netFD -> pfd.Sysfd, the descriptor */
	__u32 stack_lo_offset; /* runtime.g.stack.lo: a buffer on a stack that grew moves with it */
};

/* One line of the NSS key log, as crypto/tls.(*Config).writeKeyLog received it. */
#define TSCOPE_KEY_LABEL_MAX 48
#define TSCOPE_KEY_RANDOM_LEN 32
#define TSCOPE_KEY_SECRET_MAX 64
struct tscope_key_line {
	struct tscope_event_head head;
	__u32 library;	  /* attach cookie, as in tscope_chunk */
	__u32 label_len;  /* bytes of label[] used; a longer label is not read (counted as 0) */
	__u32 random_len; /* TSCOPE_KEY_RANDOM_LEN when read */
	__u32 secret_len; /* bytes of secret[] used */
	char label[TSCOPE_KEY_LABEL_MAX];
	__u8 random[TSCOPE_KEY_RANDOM_LEN];
	__u8 secret[TSCOPE_KEY_SECRET_MAX];
};

/* ---- packets (TC) ---- */
#define TSCOPE_PACKET_MAX 65536 /* bytes of one packet kept; the rest is counted in len */

enum tscope_packet_flags {
	TSCOPE_PACKET_EGRESS = 1, /* leaving the interface; else arriving */
	TSCOPE_PACKET_OWNED = 2,  /* pid/uid/comm name the socket's process */
};

struct tscope_packet {
	struct tscope_event_head head; /* flags: tscope_packet_flags; task: the socket's owner */
	__u32 ifindex;
	__u32 len;     /* bytes on the wire */
	__u32 cap_len; /* bytes in data[] */
	__u32 pad;
	__u8 data[];
};

/* Who owns a socket (keyed by its tscope_sock_addr; a listener: remote zeroed) is the struct
 * tscope_task that connected or listened. */

/* A process's command line, read in the process when it connects or listens: short-lived
 * clients are gone by the time their packets are written out. */
#define TSCOPE_CMDLINE_MAX 256
struct tscope_cmdline {
	__u32 len; /* bytes in args[]: NUL-separated arguments, cut at TSCOPE_CMDLINE_MAX */
	__u32 pad;
	char args[TSCOPE_CMDLINE_MAX];
};

struct tscope_packet_stats {
	__u64 packets; /* records submitted */
	__u64 bytes;
	__u64 lost_packets; /* ring buffer was full */
	__u64 filtered;	    /* not from a traced process's connection */
	__u64 truncated;    /* longer than TSCOPE_PACKET_MAX */
};

/* Counters kept per CPU in the kernel and summed by user space. */
struct tscope_stats {
	__u64 chunks;	    /* records submitted */
	__u64 bytes;	    /* payload bytes submitted */
	__u64 lost_records; /* ring buffer was full */
	__u64 lost_bytes;
	__u64 unreadable_bytes; /* bpf_probe_read_user failed */
	__u64 truncated_bytes;	/* dropped on purpose by --max-payload */
	__u64 busy_drops;	/* per-CPU scratch was in use (preempted probe) */
};

/* Which processes a capture is about (struct tscope_config.scope); lib/target.h. */
enum tscope_scope {
	TSCOPE_SCOPE_ALL = 0, /* every process */
	TSCOPE_SCOPE_PID = 1, /* one process: target_pid */
	TSCOPE_SCOPE_PIDS =
		2, /* the processes in the target_tgids map (several --pid, a launched command's tree) */
	TSCOPE_SCOPE_CGROUP =
		3, /* the tasks of the cgroup in target_cgroup and of its descendants */
};

/* Filters and limits, set by user space between open and load (.rodata). */
struct tscope_config {
	__u32 scope;	  /* enum tscope_scope */
	__u32 target_pid; /* TSCOPE_SCOPE_PID */
	__u32 target_uid;
	__u32 filter_uid;   /* 1: target_uid applies */
	__u32 filter_comm;  /* 1: comm applies */
	__u32 follow_forks; /* bpf/process: children of traced processes join target_tgids */
	__u32 exec_events;  /* bpf/process: an event for every exec of a traced process */
	__u32 hold_new; /* bpf/process: stop a never-seen program at its exec until user space has
			     * attached to it (TSCOPE_EXEC_HELD; user space sends SIGCONT) */
	__u32 self_pid; /* TlsScope's own pid: its children are never held */
	__u32 max_payload;  /* 0: unlimited; else bytes kept per call */
	__u32 wakeup_bytes; /* wake the reader early once this much is unread */
	__u32 keys; /* 1: --keylog/--pcapng: read TLS secrets (keys.h); 0 skips even the lookups */
	char comm[TSCOPE_COMM_LEN];
};

/* ---- processes (bpf/process) ---- */
#define TSCOPE_PATH_MAX 256

enum tscope_exec_flags {
	TSCOPE_EXEC_HELD = 1, /* the program is stopped (SIGSTOP) until user space continues it */
};

/* A traced process executed a program (the exec has happened: head.task is the new program). */
struct tscope_exec {
	struct tscope_event_head head; /* kind TSCOPE_EVENT_EXEC */
	__u32 exe_major; /* the executable's device and inode, as stat(2) gives them */
	__u32 exe_minor;
	__u64 exe_ino;
	__u32 old_pid; /* the thread that called exec (a non-leader thread takes the leader's pid) */
	__u32 filename_len; /* bytes in filename[], without the NUL */
	char filename
		[TSCOPE_PATH_MAX]; /* as passed to execve: may be relative to the process's cwd */
};

_Static_assert(sizeof(struct tscope_sock_addr) == 40, "tscope_sock_addr layout");
_Static_assert(sizeof(struct tscope_task) == 40, "tscope_task layout");
_Static_assert(sizeof(struct tscope_event_head) == 56, "tscope_event_head layout");
_Static_assert(__builtin_offsetof(struct tscope_chunk, addr) == 104, "tscope_chunk layout");
_Static_assert(sizeof(struct tscope_chunk) == 144, "tscope_chunk layout");
_Static_assert(sizeof(struct tscope_conn_close) == 80, "tscope_conn_close layout");
_Static_assert(sizeof(struct tscope_stats) == 56, "tscope_stats layout");
_Static_assert(sizeof(struct tscope_config) == 64, "tscope_config layout");
_Static_assert(sizeof(struct tscope_exec) == 336, "tscope_exec layout");
_Static_assert(sizeof(struct tscope_mem_path) == 24, "tscope_mem_path layout");
_Static_assert(sizeof(struct tscope_key_layout) == 312, "tscope_key_layout layout");
_Static_assert(sizeof(struct tscope_keys) == 848, "tscope_keys layout");
_Static_assert(sizeof(struct tscope_packet) == 72, "tscope_packet layout");
_Static_assert(sizeof(struct tscope_packet_stats) == 40, "tscope_packet_stats layout");
_Static_assert(sizeof(struct tscope_cmdline) == 264, "tscope_cmdline layout");
_Static_assert(sizeof(struct tscope_go_layout) == 32, "tscope_go_layout layout");
_Static_assert(sizeof(struct tscope_key_line) == 216, "tscope_key_line layout");

#endif
