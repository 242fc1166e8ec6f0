// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The floor under any uprobe tracer: programs that return at once. Attached where TlsScope
 * attaches its SSL probes, they measure the trap alone (breakpoint, uprobe dispatch, return
 * trampoline for the uretprobe) with no map, helper or ring-buffer work on top. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

SEC("uprobe")
int noop_enter(void *ctx)
{
	return 0;
}

SEC("uretprobe")
int noop_return(void *ctx)
{
	return 0;
}

/* For the decomposition: the socket syscall tracepoints TlsScope attaches, doing nothing.
 * Enabling any syscall tracepoint also sends every syscall of every task through the kernel's
 * syscall tracing path, which is part of what this measures. */
SEC("tracepoint")
int noop_syscall(void *ctx)
{
	return 0;
}
