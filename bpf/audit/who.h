/* Who runs something, and where: the fields an audit record carries beyond struct tscope_task
 * (parent, login uid, session, terminal, working directory), read from the task itself so that
 * they are right even when the process is gone before user space looks. */
#ifndef TLSSCOPE_WHO_H
#define TLSSCOPE_WHO_H

/* Mount crossings and components walked at most: deeper paths keep their innermost parts. */
#define TSCOPE_CWD_STEPS (TSCOPE_CWD_DEPTH + 8)

/* Where who is put together, one per CPU, then copied into the record: the path walk runs in a
 * bpf_loop callback (checked once by the verifier), which cannot hold the record itself. A
 * program preempted on its CPU by another that fills one too may report the other's cwd. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tscope_shell_who);
} who_scratch SEC(".maps");

struct cwd_walk {
	struct dentry *d;
	struct vfsmount *vm;
	struct mount *mnt;
	__u32 n;
	__u32 cut;
};

static __always_inline struct tscope_shell_who *who_buffer(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&who_scratch, &zero);
}

/* One step up: a component (innermost first), or from a mount's root to where it is mounted.
 * Returns 1 at the root of everything. */
static long cwd_step(__u32 i, void *ctx)
{
	struct cwd_walk *c = ctx;
	struct tscope_shell_who *w = who_buffer();
	if (!w)
		return 1;
	struct dentry *d = c->d;
	struct vfsmount *vm = c->vm;
	struct mount *mnt = c->mnt;
	struct dentry *root = BPF_CORE_READ(vm, mnt_root);
	if (d == root) {
		struct mount *up = BPF_CORE_READ(mnt, mnt_parent);
		if (up == mnt || !up)
			return 1;
		c->d = BPF_CORE_READ(mnt, mnt_mountpoint);
		c->mnt = up;
		c->vm = (void *)up + bpf_core_field_offset(struct mount, mnt);
		return 0;
	}
	struct dentry *parent = BPF_CORE_READ(d, d_parent);
	if (d == parent)
		return 1;
	__u32 n = c->n;
	if (n >= TSCOPE_CWD_DEPTH) {
		c->n = TSCOPE_CWD_DEPTH + 1;
		return 1;
	}
	const unsigned char *name = BPF_CORE_READ(d, d_name.name);
	if (bpf_probe_read_kernel_str(w->cwd + (n & (TSCOPE_CWD_DEPTH - 1)) * TSCOPE_CWD_PART,
				      TSCOPE_CWD_PART, name) == TSCOPE_CWD_PART)
		c->cut = 1;
	c->n = n + 1;
	c->d = parent;
	return 0;
}

/* Fills *out (record memory) with the current task's who. */
static __always_inline void who_fill(struct tscope_shell_who *out, struct task_struct *task)
{
	struct tscope_shell_who *w = who_buffer();
	if (!w)
		return;
	w->ppid = BPF_CORE_READ(task, real_parent, tgid);
	w->loginuid = BPF_CORE_READ(task, loginuid.val);
	w->sessionid = BPF_CORE_READ(task, sessionid);
	w->pad = 0;
	w->tty[0] = 0;
	struct tty_struct *tty = BPF_CORE_READ(task, signal, tty);
	if (tty)
		bpf_probe_read_kernel_str(w->tty, sizeof(w->tty), &tty->name);
	struct vfsmount *vm = BPF_CORE_READ(task, fs, pwd.mnt);
	struct cwd_walk c = {
		.d = BPF_CORE_READ(task, fs, pwd.dentry),
		.vm = vm,
		.mnt = (void *)vm - bpf_core_field_offset(struct mount, mnt),
	};
	bpf_loop(TSCOPE_CWD_STEPS, cwd_step, &c, 0);
	w->cwd_depth = c.n;
	w->cwd_cut = c.cut;
	bpf_probe_read_kernel(out, sizeof(*out), w);
}

#endif
