/* The shell source's records (bpf/audit/shell.bpf.c). Same rules as events.h; the C# mirrors
 * are src/TlsScope.Sources.Shell/Records/ShellRecords.cs, pinned by a test. Kinds start at 16 so
 * that they never meet another source's (each source reads its own ring anyway). */
#ifndef TLSSCOPE_SHELL_EVENTS_H
#define TLSSCOPE_SHELL_EVENTS_H

#include "events.h"

enum tscope_shell_kind {
	TSCOPE_EVENT_SHELL_PROMPT = 16, /* struct tscope_shell_prompt: the shell asks for a line */
	TSCOPE_EVENT_SHELL_LINE = 17,	/* struct tscope_shell_line: one chunk of a line read */
	TSCOPE_EVENT_SHELL_END =
		18, /* struct tscope_shell_end: a shell with a line running exited */
	TSCOPE_EVENT_SHELL_EXEC = 19, /* struct tscope_shell_exec: any traced process executed */
};

enum tscope_shell_family {
	TSCOPE_SHELL_BASH = 1,
	TSCOPE_SHELL_ZSH = 2,
};

enum tscope_shell_line_flags {
	TSCOPE_LINE_FIRST = 1,	   /* first chunk of a line */
	TSCOPE_LINE_LAST = 2,	   /* last chunk of a line */
	TSCOPE_LINE_TRUNCATED = 4, /* the line is longer than TSCOPE_LINE_MAX_CHUNKS chunks */
};

enum tscope_shell_prompt_flags {
	TSCOPE_PROMPT_STATUS = 1,  /* status was read */
	TSCOPE_PROMPT_COUNT = 2,   /* line_count was read (bash) */
	TSCOPE_PROMPT_BUILTIN = 4, /* in_builtin was read (bash) */
};

#define TSCOPE_TTY_LEN 32
#define TSCOPE_CWD_DEPTH 16 /* path components kept, innermost first */
#define TSCOPE_CWD_PART 64  /* bytes kept of one component, NUL included */
#define TSCOPE_LINE_CHUNK 4096
#define TSCOPE_LINE_MAX_CHUNKS 16 /* a line keeps 16 * 4095 bytes; longer ones are cut, counted */
#define TSCOPE_ARGS_MAX 8192	  /* bytes of an exec's argv kept; the rest is counted */
#define TSCOPE_MAX_SHELL_BINARIES 64

/* Who ran something, where: the same for a line and an exec. */
struct tscope_shell_who {
	__u32 ppid;	 /* the real parent's tgid */
	__u32 loginuid;	 /* (u32)-1: not set (no login session) */
	__u32 sessionid; /* (u32)-1: not set */
	__u32 cwd_depth; /* components in cwd[]; TSCOPE_CWD_DEPTH + 1: deeper, the outer ones cut */
	__u32 cwd_cut;	 /* 1: a component was longer than TSCOPE_CWD_PART - 1 bytes */
	__u32 pad;
	char tty[TSCOPE_TTY_LEN]; /* the controlling terminal's name ("pts3"); empty: none */
	char cwd[TSCOPE_CWD_DEPTH *
		 TSCOPE_CWD_PART]; /* component i at i * TSCOPE_CWD_PART, innermost first */
};

/* The shell is about to read a line (bash: readline entry; zsh: zleentry(ZLE_CMD_READ) entry),
 * with the globals that tell a new command from a continuation or an input read. */
struct tscope_shell_prompt {
	struct tscope_event_head head; /* flags: tscope_shell_prompt_flags */
	__u32 shell;		       /* enum tscope_shell_family */
	__s32 status;		       /* bash last_command_exit_value, zsh lastval */
	__s32 line_count;	       /* bash current_command_line_count: 0 at a new command */
	__s32 in_builtin;	       /* bash executing_builtin: non-zero in `read -e` */
	__u32 context;		       /* zsh zleentry's context (0 new line, 1 continued) */
	__u32 pad;
};

/* One chunk of a line the shell read (bash: readline_internal_teardown's return; zsh:
 * zleentry(ZLE_CMD_READ)'s, still metafied). */
struct tscope_shell_line {
	struct tscope_event_head head; /* flags: tscope_shell_line_flags */
	__u32 shell;
	__u32 offset; /* bytes of the line before this chunk */
	__u32 len;    /* bytes in data[] */
	__u32 pad;
	struct tscope_shell_who who;
	__u8 data[TSCOPE_LINE_CHUNK];
};

/* A shell whose line was running (or the program a line exec'd) exited. */
struct tscope_shell_end {
	struct tscope_event_head head;
	__s32 status; /* exit status; 128 + signal when killed */
	__u32 pad;
};

struct tscope_shell_exec {
	struct tscope_event_head head; /* task: the new program */
	__u32 shell_pid;    /* nearest ancestor (or itself) with a line running; 0: none */
	__u32 args_len;	    /* bytes of the whole argv (NUL-separated) */
	__u32 args_read;    /* bytes in args[] */
	__u32 filename_len; /* bytes in filename[], without the NUL */
	struct tscope_shell_who who;
	char filename[TSCOPE_PATH_MAX];
	__u8 args[TSCOPE_ARGS_MAX];
};

/* Where one shell binary keeps what a prompt reads, as link-time addresses: the probed function
 * (anchor) and the globals. At run time a global is at ip - anchor + its address (PIE or not).
 * In the shell_layouts map at the attach cookie; 0: not read. */
struct tscope_shell_layout {
	__u64 anchor;
	__u64 status;
	__u64 line_count;
	__u64 in_builtin;
	__u32 shell; /* enum tscope_shell_family */
	__u32 pad;
};

struct tscope_shell_stats {
	__u64 lines;	  /* lines read (all chunks submitted) */
	__u64 truncated;  /* lines cut at TSCOPE_LINE_MAX_CHUNKS chunks */
	__u64 lost;	  /* records lost: the ring buffer was full */
	__u64 execs;	  /* exec records submitted */
	__u64 args_cut;	  /* execs whose argv was cut at TSCOPE_ARGS_MAX */
	__u64 unreadable; /* a line or argv the kernel could not read */
};

_Static_assert(sizeof(struct tscope_shell_who) == 1080, "tscope_shell_who layout");
_Static_assert(sizeof(struct tscope_shell_prompt) == 80, "tscope_shell_prompt layout");
_Static_assert(sizeof(struct tscope_shell_line) == 56 + 16 + 1080 + 4096,
	       "tscope_shell_line layout");
_Static_assert(sizeof(struct tscope_shell_end) == 64, "tscope_shell_end layout");
_Static_assert(sizeof(struct tscope_shell_exec) == 56 + 16 + 1080 + 256 + 8192,
	       "tscope_shell_exec layout");
_Static_assert(sizeof(struct tscope_shell_layout) == 40, "tscope_shell_layout layout");
_Static_assert(sizeof(struct tscope_shell_stats) == 48, "tscope_shell_stats layout");

#endif
