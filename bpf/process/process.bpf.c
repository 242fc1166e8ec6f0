// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The engine's process object: it owns the target's maps (lib/target.h), which every source
 * object shares, follows a launched command's tree through fork and exit, and tells user space
 * of every exec of a traced process at once (sources attach to the new program before it runs
 * far). Raw tracepoints: the tasks themselves, no tracefs. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "events.h"
#include "../lib/target.h"
#include "../lib/task.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} process_events SEC(".maps");

/* Records lost because the ring was full (a burst of execs): user space reports them. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} process_lost SEC(".maps");

/* Programs user space has examined (whether they hold TLS or not), by the kernel's device
 * number and inode: only a program not in here is held at its exec. */
struct exe_key {
	__u64 dev;
	__u64 ino;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct exe_key);
	__type(value, __u8);
} known_exes SEC(".maps");

#define TSCOPE_SIGSTOP 19
#define TSCOPE_PIDTYPE_PGID 2
#define TSCOPE_PF_KTHREAD 0x00200000

static __always_inline __u32 pgrp_of(struct task_struct *task)
{
	struct pid *group = BPF_CORE_READ(task, signal, pids[TSCOPE_PIDTYPE_PGID]);
	return group ? BPF_CORE_READ(group, numbers[0].nr) : 0;
}

/* Holding a program is invisible to it and to a parent that does not do job control: it is
 * stopped before its first instruction and continued once its probes are in. So only a process
 * in its parent's process group is held: a job-control shell puts each job (a pipeline too) in a
 * group of its own, and would report the stop ("Stopped") and take the terminal back. Never a
 * traced one (strace, gdb see a stop), a child of the kernel (a usermode helper it waits on), or
 * a helper TlsScope runs itself (it waits on them); the command it launches is held like any. */
static __always_inline int may_hold(struct task_struct *task, __u32 tgid)
{
	if (!cfg.hold_new || BPF_CORE_READ(task, ptrace))
		return 0;
	struct task_struct *parent = BPF_CORE_READ(task, real_parent);
	if (!parent || (BPF_CORE_READ(parent, flags) & TSCOPE_PF_KTHREAD))
		return 0;
	if (BPF_CORE_READ(parent, tgid) == cfg.self_pid && !in_target_tgids(tgid))
		return 0;
	__u32 group = pgrp_of(task);
	return group != 0 && group != tgid && group == pgrp_of(parent);
}

/* A new process (not a thread) whose parent is traced joins the target. */
SEC("raw_tp/sched_process_fork")
int BPF_PROG(process_fork, struct task_struct *parent, struct task_struct *child)
{
	if (!cfg.follow_forks)
		return 0;
	__u32 pid = BPF_CORE_READ(child, pid);
	__u32 tgid = BPF_CORE_READ(child, tgid);
	if (pid != tgid)
		return 0; /* a thread: its process is traced or not already */
	__u32 parent_tgid = BPF_CORE_READ(parent, tgid);
	if (!in_target_tgids(parent_tgid))
		return 0;
	__u32 one = 1;
	bpf_map_update_elem(&target_tgids, &tgid, &one, BPF_ANY);
	return 0;
}

/* A traced process is gone (its last thread exits; the leader may go first): a later process
 * with its pid is not traced for it. The tracepoint fires after signal->live is counted down. */
SEC("raw_tp/sched_process_exit")
int BPF_PROG(process_exit, struct task_struct *task)
{
	if (cfg.scope != TSCOPE_SCOPE_PIDS)
		return 0;
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	__u32 tgid = BPF_CORE_READ(task, tgid);
	bpf_map_delete_elem(&target_tgids, &tgid);
	return 0;
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(process_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	if (!cfg.exec_events)
		return 0;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!trace_allowed(pid_tgid))
		return 0;
	struct tscope_exec *e = bpf_ringbuf_reserve(&process_events, sizeof(*e), 0);
	if (!e) {
		__u32 zero = 0;
		__u64 *lost = bpf_map_lookup_elem(&process_lost, &zero);
		if (lost)
			*lost += 1;
		return 0;
	}
	struct inode *inode = BPF_CORE_READ(bprm, file, f_inode);
	__u32 dev = BPF_CORE_READ(inode, i_sb, s_dev); /* the kernel's dev_t: major << 20 | minor */
	struct exe_key exe = { .dev = dev, .ino = BPF_CORE_READ(inode, i_ino) };
	__u32 flags = 0;
	if (may_hold(task, pid_tgid >> 32) && !bpf_map_lookup_elem(&known_exes, &exe) &&
	    bpf_send_signal(TSCOPE_SIGSTOP) == 0)
		flags = TSCOPE_EXEC_HELD;
	event_head(&e->head, TSCOPE_EVENT_EXEC, flags, pid_tgid);
	e->exe_major = dev >> 20;
	e->exe_minor = dev & 0xfffff;
	e->exe_ino = exe.ino;
	e->old_pid = old_pid;
	const char *filename = BPF_CORE_READ(bprm, filename);
	long n = bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), filename);
	e->filename_len = n > 0 ? n - 1 : 0;
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP); /* the attach races the program: no batching */
	return 0;
}
