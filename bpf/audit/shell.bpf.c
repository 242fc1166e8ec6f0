// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The shell source: the command lines interactive bash and zsh read, with the real status of
 * each (read from the shell's own global when it asks for the next line), and every exec of a
 * traced process (bash -c, scripts, any other shell). User space pairs prompts with lines
 * (src/TlsScope.Sources.Shell). Probes: bash readline (entry) and readline_internal_teardown
 * (return: the line, also the one being typed when the capture starts), zsh zleentry (entry
 * and return); sched_process_exec and sched_process_exit. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "shell_events.h"
#include "../lib/target.h"
#include "../lib/task.h"
#include "who.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define ZLE_CMD_READ 1
#define TSCOPE_ANCESTORS 8 /* how far up an exec looks for the shell whose line runs it */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} shell_events SEC(".maps");

/* Per CPU; user space sets max_entries to the CPU count like every source's scratch, only
 * entry 0 is used. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tscope_shell_stats);
} shell_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TSCOPE_MAX_SHELL_BINARIES);
	__type(key, __u32);
	__type(value, struct tscope_shell_layout);
} shell_layouts SEC(".maps");

enum running {
	RUNNING_NONE = 0,
	RUNNING_LINE = 1, /* a line was read; its commands run until the next prompt */
	RUNNING_EXEC = 2, /* the line exec'd: the program now in the shell's pid ends it */
};

/* Shells by tgid, with whether a line is running. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u32);
} shells SEC(".maps");

/* zsh processes whose zleentry was entered since the capture started: their lines come from
 * its return; zlegetline's is taken only for the line being typed when the capture started. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u32);
} zsh_seen SEC(".maps");

/* zleentry's arguments from its entry to its return, by thread. */
struct zle_call {
	__u32 cmd;
	__u32 context;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct zle_call);
} zle_calls SEC(".maps");

/* One zeroed value: later chunks of a line carry no who (copying zeros beats 1 KiB of stores). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tscope_shell_who);
} zeros SEC(".maps");

static __always_inline void zero_who(struct tscope_shell_who *w)
{
	__u32 zero = 0;
	void *z = bpf_map_lookup_elem(&zeros, &zero);
	if (z)
		bpf_probe_read_kernel(w, sizeof(*w), z);
}

static __always_inline struct tscope_shell_stats *stats(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&shell_stats, &zero);
}

static __always_inline void count_lost(void)
{
	struct tscope_shell_stats *s = stats();
	if (s)
		s->lost++;
}

/* A global of the shell at run time: ip is the probed function's address in this process. */
static __always_inline int read_global(__u64 ip, __u64 anchor, __u64 var, __s32 *out)
{
	if (!var)
		return 0;
	return bpf_probe_read_user(out, sizeof(*out), (void *)(ip - anchor + var)) == 0;
}

static __always_inline void set_running(__u32 tgid, __u32 state)
{
	bpf_map_update_elem(&shells, &tgid, &state, BPF_ANY);
}

static __always_inline int emit_prompt(struct pt_regs *ctx, __u64 pid_tgid, __u32 context)
{
	__u32 index = (__u32)bpf_get_attach_cookie(ctx);
	struct tscope_shell_layout *l = bpf_map_lookup_elem(&shell_layouts, &index);
	if (!l)
		return 0;
	struct tscope_shell_prompt *e = bpf_ringbuf_reserve(&shell_events, sizeof(*e), 0);
	if (!e) {
		count_lost();
		return 0;
	}
	__u64 ip = PT_REGS_IP(ctx);
	__u32 flags = 0;
	e->status = e->line_count = e->in_builtin = 0;
	if (read_global(ip, l->anchor, l->status, &e->status))
		flags |= TSCOPE_PROMPT_STATUS;
	if (read_global(ip, l->anchor, l->line_count, &e->line_count))
		flags |= TSCOPE_PROMPT_COUNT;
	if (read_global(ip, l->anchor, l->in_builtin, &e->in_builtin))
		flags |= TSCOPE_PROMPT_BUILTIN;
	event_head(&e->head, TSCOPE_EVENT_SHELL_PROMPT, flags, pid_tgid);
	e->shell = l->shell;
	e->context = context;
	e->pad = 0;
	/* A new command (not a continuation, not `read -e`): the last one has ended. */
	int input = e->in_builtin != 0 || context > 1;
	int continued = e->line_count > 0 || context == 1;
	bpf_ringbuf_submit(e, 0);
	if (!input && !continued)
		set_running(pid_tgid >> 32, RUNNING_NONE);
	return 0;
}

enum chunk_which {
	CHUNK_FIRST = 1,
	CHUNK_FINAL = 2, /* the last one kept: more is cut */
};

/* One chunk of the line at user address `line`: the bytes from `offset` on; the first carries
 * who. Returns the bytes it holds, or -1 when the line ends here (or cannot be read). A global
 * function: the verifier checks it once, not once per chunk of the caller's loop. */
__noinline long emit_chunk(__u64 line, __u32 offset, __u32 which, __u32 shell, __u64 pid_tgid)
{
	int first = which & CHUNK_FIRST, final = which & CHUNK_FINAL;
	struct tscope_shell_stats *s = stats();
	struct tscope_shell_line *e = bpf_ringbuf_reserve(&shell_events, sizeof(*e), 0);
	if (!e) {
		count_lost();
		return -1;
	}
	long n = bpf_probe_read_user_str(e->data, TSCOPE_LINE_CHUNK, (void *)(line + offset));
	if (n <= 0) {
		bpf_ringbuf_discard(e, 0);
		if (s)
			s->unreadable++;
		return -1;
	}
	int more = n == TSCOPE_LINE_CHUNK;
	__u32 flags = first ? TSCOPE_LINE_FIRST : 0;
	if (!more)
		flags |= TSCOPE_LINE_LAST;
	else if (final)
		flags |= TSCOPE_LINE_LAST | TSCOPE_LINE_TRUNCATED;
	event_head(&e->head, TSCOPE_EVENT_SHELL_LINE, flags, pid_tgid);
	e->shell = shell;
	e->offset = offset;
	e->len = n - 1;
	e->pad = 0;
	if (first)
		who_fill(&e->who, (struct task_struct *)bpf_get_current_task());
	else
		zero_who(&e->who);
	bpf_ringbuf_submit(e, 0);
	if (flags & TSCOPE_LINE_LAST) {
		if (s) {
			s->lines++;
			if (flags & TSCOPE_LINE_TRUNCATED)
				s->truncated++;
		}
		return -1;
	}
	return n - 1;
}

/* The line at user address `line`, in chunks of up to TSCOPE_LINE_CHUNK - 1 bytes; who is read
 * once, outside the loop (the verifier walks the loop's body once per iteration). */
static __always_inline void emit_line(const char *line, __u32 shell, __u64 pid_tgid)
{
	long n = emit_chunk((__u64)line, 0, CHUNK_FIRST, shell, pid_tgid);
	__u32 offset = 0;
	for (int i = 1; i < TSCOPE_LINE_MAX_CHUNKS && n > 0; i++) {
		offset += n;
		n = emit_chunk((__u64)line, offset,
			       i == TSCOPE_LINE_MAX_CHUNKS - 1 ? CHUNK_FINAL : 0, shell, pid_tgid);
	}
}

static __always_inline __u32 shell_of(struct pt_regs *ctx)
{
	__u32 index = (__u32)bpf_get_attach_cookie(ctx);
	struct tscope_shell_layout *l = bpf_map_lookup_elem(&shell_layouts, &index);
	return l ? l->shell : 0;
}

SEC("uprobe")
int BPF_KPROBE(bash_readline)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!trace_allowed(pid_tgid))
		return 0;
	return emit_prompt(ctx, pid_tgid, 0);
}

SEC("uretprobe")
int BPF_KRETPROBE(bash_line, const char *line)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!line || !trace_allowed(pid_tgid))
		return 0;
	emit_line(line, shell_of(ctx), pid_tgid);
	set_running(pid_tgid >> 32, RUNNING_LINE);
	return 0;
}

/* char *zleentry(int cmd, ...): ZLE_CMD_READ's variadic arguments are the prompts, the flags
 * and the context, all in registers. */
SEC("uprobe")
int BPF_KPROBE(zsh_zleentry, int cmd)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (cmd != ZLE_CMD_READ || !trace_allowed(pid_tgid))
		return 0;
	struct zle_call call = { .cmd = cmd, .context = (__u32)PT_REGS_PARM5(ctx) };
	__u32 tgid = pid_tgid >> 32, one = 1;
	bpf_map_update_elem(&zsh_seen, &tgid, &one, BPF_ANY);
	bpf_map_update_elem(&zle_calls, &pid_tgid, &call, BPF_ANY);
	return emit_prompt(ctx, pid_tgid, call.context);
}

SEC("uretprobe")
int BPF_KRETPROBE(zsh_line, const char *line)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct zle_call *call = bpf_map_lookup_elem(&zle_calls, &pid_tgid);
	if (!call)
		return 0;
	bpf_map_delete_elem(&zle_calls, &pid_tgid);
	if (!line)
		return 0;
	emit_line(line, shell_of(ctx), pid_tgid);
	set_running(pid_tgid >> 32, RUNNING_LINE);
	return 0;
}

/* zle.so's zlegetline returns the line zleread is about to return (metafied, '\n' ended). A
 * zleentry entered before the capture started has no uretprobe: this catches that one line. */
SEC("uretprobe")
int BPF_KRETPROBE(zsh_first_line, const char *line)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	if (!line || bpf_map_lookup_elem(&zsh_seen, &tgid) || !trace_allowed(pid_tgid))
		return 0;
	emit_line(line, TSCOPE_SHELL_ZSH, pid_tgid);
	set_running(tgid, RUNNING_LINE);
	return 0;
}

/* The nearest process, this one first, whose shell line is running. */
static __always_inline __u32 running_shell(struct task_struct *task)
{
	for (int i = 0; i < TSCOPE_ANCESTORS && task; i++) {
		__u32 tgid = BPF_CORE_READ(task, tgid);
		__u32 *state = bpf_map_lookup_elem(&shells, &tgid);
		if (state && *state == RUNNING_LINE)
			return tgid;
		task = BPF_CORE_READ(task, real_parent);
	}
	return 0;
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(shell_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!trace_allowed(pid_tgid))
		return 0;
	__u32 tgid = pid_tgid >> 32;
	__u32 shell_pid = running_shell(task);
	if (shell_pid == tgid)
		set_running(tgid, RUNNING_EXEC); /* `exec cmd`: cmd's exit ends the line */
	struct tscope_shell_exec *e = bpf_ringbuf_reserve(&shell_events, sizeof(*e), 0);
	if (!e) {
		count_lost();
		return 0;
	}
	event_head(&e->head, TSCOPE_EVENT_SHELL_EXEC, 0, pid_tgid);
	e->shell_pid = shell_pid;
	who_fill(&e->who, task);
	long n = bpf_probe_read_kernel_str(e->filename, sizeof(e->filename),
					   BPF_CORE_READ(bprm, filename));
	e->filename_len = n > 0 ? n - 1 : 0;
	__u64 start = BPF_CORE_READ(task, mm, arg_start);
	__u64 end = BPF_CORE_READ(task, mm, arg_end);
	__u32 len = end > start ? end - start : 0;
	__u32 take = len > TSCOPE_ARGS_MAX ? TSCOPE_ARGS_MAX : len;
	struct tscope_shell_stats *s = stats();
	long err =
		take == TSCOPE_ARGS_MAX
			? bpf_probe_read_user(e->args, TSCOPE_ARGS_MAX, (void *)start)
			: bpf_probe_read_user(e->args, take & (TSCOPE_ARGS_MAX - 1), (void *)start);
	if (err != 0) {
		take = 0;
		if (s)
			s->unreadable++;
	}
	e->args_len = len;
	e->args_read = take;
	if (s) {
		s->execs++;
		if (take < len)
			s->args_cut++;
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* A shell with a running line (or what its line exec'd) is gone: `exit 7`, `exec true`. */
SEC("raw_tp/sched_process_exit")
int BPF_PROG(shell_exit, struct task_struct *task)
{
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	__u32 tgid = BPF_CORE_READ(task, tgid);
	bpf_map_delete_elem(&zsh_seen, &tgid);
	__u32 *state = bpf_map_lookup_elem(&shells, &tgid);
	if (!state)
		return 0;
	__u32 running = *state;
	bpf_map_delete_elem(&shells, &tgid);
	if (running == RUNNING_NONE)
		return 0;
	struct tscope_shell_end *e = bpf_ringbuf_reserve(&shell_events, sizeof(*e), 0);
	if (!e) {
		count_lost();
		return 0;
	}
	int code = BPF_CORE_READ(task, exit_code);
	event_head(&e->head, TSCOPE_EVENT_SHELL_END, 0, bpf_get_current_pid_tgid());
	e->status = (code & 0x7f) ? 128 + (code & 0x7f) : (code >> 8) & 0xff;
	e->pad = 0;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
