/* The target: which processes a capture is about, read by every source's programs alike.
 * Filters are set by user space before load (.rodata.config); the sets a target can name (pids,
 * a launched command's tree, a cgroup) live in maps every object shares (one copy, created by
 * the process object, bpf/process). trace_allowed() is the one check every probe runs first, so
 * processes outside the target pay as little as possible. */
#ifndef TLSSCOPE_TARGET_H
#define TLSSCOPE_TARGET_H

const volatile struct tscope_config cfg SEC(".rodata.config") = {};

/* TSCOPE_SCOPE_PIDS: the traced processes (tgid -> 1). The launched command's tree is followed
 * into it at fork by bpf/process. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u32);
} target_tgids SEC(".maps");

/* TSCOPE_SCOPE_CGROUP: the one cgroup (v2) whose tasks, and its descendants' tasks, are traced. */
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} target_cgroup SEC(".maps");

static __always_inline int comm_matches(void)
{
	char comm[TSCOPE_COMM_LEN];
	bpf_get_current_comm(comm, sizeof(comm));
#pragma unroll
	for (int i = 0; i < TSCOPE_COMM_LEN; i++) {
		if (comm[i] != cfg.comm[i])
			return 0;
		if (comm[i] == 0)
			return 1;
	}
	return 1;
}

static __always_inline int in_target_tgids(__u32 tgid)
{
	return bpf_map_lookup_elem(&target_tgids, &tgid) != 0;
}

/* pid_tgid is bpf_get_current_pid_tgid(); cheapest checks first. */
static __always_inline int trace_allowed(__u64 pid_tgid)
{
	__u32 tgid = pid_tgid >> 32;
	switch (cfg.scope) {
	case TSCOPE_SCOPE_PID:
		if (tgid != cfg.target_pid)
			return 0;
		break;
	case TSCOPE_SCOPE_PIDS:
		if (!in_target_tgids(tgid))
			return 0;
		break;
	case TSCOPE_SCOPE_CGROUP:
		if (bpf_current_task_under_cgroup(&target_cgroup, 0) != 1)
			return 0;
		break;
	}
	if (cfg.filter_uid && (__u32)bpf_get_current_uid_gid() != cfg.target_uid)
		return 0;
	if (cfg.filter_comm && !comm_matches())
		return 0;
	return 1;
}

/* Whether anything narrows the target (TC programs keep only owned packets then). */
static __always_inline int target_restricted(void)
{
	return cfg.scope != TSCOPE_SCOPE_ALL || cfg.filter_uid || cfg.filter_comm;
}

#endif
