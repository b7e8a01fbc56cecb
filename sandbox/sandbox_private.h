/* Private pieces shared by the sandbox module's files. Not installed. */
#ifndef BH_SANDBOX_PRIVATE_H
#define BH_SANDBOX_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <bulkhead/sandbox.h>

#include "sandbox/sigsys.h"

/* Resources a profile may limit, in this order in bh_profile.rlimits[]. */
enum { BH__RL_AS, BH__RL_NOFILE, BH__RL_NPROC, BH__RL_FSIZE, BH__RL_CORE, BH__RL_MEMLOCK, BH__RL_COUNT };
int bh__rlimit_index(int resource);
int bh__rlimit_resource(int index);
const char *bh__rlimit_name(int index);

struct bh_profile {
	char name[BH_PROFILE_NAME_MAX];
	bool builtin;
	const char *summary;               /* one line, built-in profiles only */
	bh_layer_need layers[BH_LAYER_COUNT];
	uint64_t rlimits[BH__RL_COUNT];
	const bh_syscall_rule *table;      /* the built-in table this profile starts from */
	size_t ntable;
	bh_syscall_rule *extra;            /* owned copies (strings too) */
	size_t nextra, cap;
};

struct bh_sandbox_prog {
	pid_t pid;
	unsigned flags;                    /* BH__COMPILE_* it was built with */
	size_t len;                        /* instructions */
	struct sock_filter *insns;
};

/* Filters for bulkhead-run (see docs/SANDBOX.md, "bulkhead-run"). */
enum {
	BH__COMPILE_NOTIFY_DEFAULT = 1u << 0, /* forbidden calls go to a user-notification listener */
	BH__COMPILE_NOTIFY_EXEC = 1u << 1,    /* execve/execveat go to the listener (the one permitted exec) */
	BH__COMPILE_LOADER = 1u << 2,         /* add the dynamic loader's needs (before the preload filter) */
};
int bh__sandbox_compile_ex(const bh_profile *p, pid_t self_pid, unsigned flags, bh_sandbox_prog **out);

/*
 * Loads `prog` for the calling process. flags: SECCOMP_FILTER_FLAG_*.
 * Returns the syscall's result (>= 0: a listener fd with NEW_LISTENER) or -errno.
 */
int bh__sandbox_prog_load(const bh_sandbox_prog *prog, unsigned flags);

/* The spawn context the child sees (written before clone, so the child has its own copy). */
struct bh_sandbox_child {
	const bh_profile *profile;
	bh_sandbox_ns_ids parent_ns;       /* the broker's namespaces */
	char ns_why[BH_LAYER_COUNT][64];   /* why an optional namespace was left out */
	uid_t uid;
	gid_t gid;
	bool shared_netns;
};

/*
 * Credential changes for the calling thread only, with the raw system
 * calls: the child of bh_sandbox_spawn() is single-threaded but inherits
 * glibc's view of the broker's threads, and glibc's setresuid() would try
 * to broadcast to them (and take locks another broker thread may hold).
 * Return 0 or -errno.
 */
int bh__set_ids(uid_t uid, gid_t gid, bool drop_groups);

/*
 * bh_sandbox_enter() whose fs layer binds `binds` (NULL-terminated host
 * paths) read-only into the new root instead of leaving it empty; for
 * bulkhead-run's dynamic programs. NULL: the empty root.
 */
int bh__sandbox_enter_ex(const bh_profile *p, const bh_sandbox_opts *opts, bh_sandbox_report *rep,
			 const char *const *binds);

/* The CLONE_NEW* flag for a namespace layer, 0 for the other layers. */
unsigned long bh__layer_clone_flag(int layer);

/*
 * For a process in a user namespace it just created: denies setgroups() and
 * maps uid and gid (its own ids in the parent namespace) to themselves.
 */
int bh__write_self_id_maps(uid_t uid, gid_t gid);

/* Reads /proc/self/ns/<type> inode numbers. */
int bh__ns_ids_read(bh_sandbox_ns_ids *out);

/* Sets the failure fields (text is printf-formatted). Returns -code. */
int bh__fail(bh_sandbox_failure *f, int layer, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* snprintf into a fixed buffer, truncating. */
void bh__detail(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A growable output buffer with snprintf semantics for the formatters. */
struct bh__out {
	char *buf;
	size_t size;
	size_t len;                        /* length needed so far */
};
void bh__out_printf(struct bh__out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends `s` as a JSON string (with quotes), escaping everything a hostile worker could send. */
void bh__out_json_string(struct bh__out *o, const char *s);

/* Writes a setup-failed record to fd (if >= 0). Async-signal-safe. */
void bh__report_failure(int fd, const bh_sandbox_failure *f);

#endif
