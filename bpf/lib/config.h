/* Filters set by user space before load (.rodata.config) and the one check every probe runs
 * first, so filtered-out processes pay as little as possible. */
#ifndef TLSSCOPE_CONFIG_H
#define TLSSCOPE_CONFIG_H

const volatile struct tscope_config cfg SEC(".rodata.config") = {};

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

/* pid_tgid is bpf_get_current_pid_tgid(); cheapest checks first. */
static __always_inline int trace_allowed(__u64 pid_tgid)
{
	if (cfg.target_pid && (__u32)(pid_tgid >> 32) != cfg.target_pid)
		return 0;
	if (cfg.filter_uid && (__u32)bpf_get_current_uid_gid() != cfg.target_uid)
		return 0;
	if (cfg.filter_comm && !comm_matches())
		return 0;
	return 1;
}

#endif
