/* The envelope every record starts with (struct tscope_event_head): what, when, about whom. */
#ifndef TLSSCOPE_TASK_H
#define TLSSCOPE_TASK_H

/* The current task, as every source reports it. */
static __always_inline void task_fill(struct tscope_task *t, __u64 pid_tgid)
{
	t->pid = pid_tgid >> 32;
	t->tid = (__u32)pid_tgid;
	t->uid = (__u32)bpf_get_current_uid_gid();
	t->pad = 0;
	t->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(t->comm, sizeof(t->comm));
}

static __always_inline void event_head(struct tscope_event_head *h, __u32 kind, __u32 flags,
				       __u64 pid_tgid)
{
	h->kind = kind;
	h->flags = flags;
	h->time_ns = bpf_ktime_get_ns();
	task_fill(&h->task, pid_tgid);
}

#endif
