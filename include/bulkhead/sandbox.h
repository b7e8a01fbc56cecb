/*
 * bulkhead sandbox: the layers that confine a worker process, the profiles
 * that say which layers and which system calls each worker type gets, and
 * the reports that tell the broker what is really in force.
 *
 * A worker is started with bh_sandbox_spawn() (clone() into new user, pid,
 * net, ipc, mount and uts namespaces) and, inside the child, calls
 * bh_sandbox_enter() before it reads any untrusted input:
 *
 *   fds -> namespaces -> empty read-only root -> rlimits -> no_new_privs,
 *   not dumpable -> capabilities dropped, unprivileged ids -> seccomp filter
 *
 * Every layer ends up APPLIED, ABSENT (the profile made it optional and the
 * kernel refused it, or the profile does not ask for it) or FAILED. A layer
 * the profile requires that is not applied makes bh_sandbox_enter() fail:
 * the worker must then _exit() without touching untrusted input (fail
 * closed). docs/SANDBOX.md describes each layer and every built-in rule.
 *
 * Forbidden system calls raise SIGSYS (SECCOMP_RET_TRAP). The handler that
 * bh_sandbox_enter() installs writes one fixed-size record
 * (BH_SANDBOX_RECORD_SIZE bytes) naming the call to the report fd and the
 * process then dies by SIGSYS. The broker reads the record after reaping
 * the worker and decodes it with bh_sandbox_record_decode(). A failed setup
 * is reported on the same fd with a record of kind BH_RECORD_SETUP_FAILED.
 *
 * Everything a worker sends (records, status messages) is hostile input to
 * the broker: the decoders validate every byte.
 *
 * Threading: profiles are immutable once shared; lookups and the decoders
 * are thread-safe. bh_sandbox_spawn() is fork()-like without fork()'s
 * handlers: call it from a single-threaded process (the zygote, or a broker
 * whose only thread runs its bh_loop), since the child allocates memory and
 * could find a lock held by a thread that did not come along.
 * bh_sandbox_enter() must run while the process has one thread; threads
 * created afterwards inherit everything (TSYNC covers any that exist).
 */
#ifndef BULKHEAD_SANDBOX_H
#define BULKHEAD_SANDBOX_H

#include <bulkhead/common.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct Bh__SandboxStatus;
struct Bh__CrashReport;
struct Bh__SetupFailed;

/* ---- layers -------------------------------------------------------------- */

typedef enum bh_sandbox_layer {
	BH_LAYER_FDS = 0,       /* every fd closed but the kept ones */
	BH_LAYER_USERNS,        /* own user namespace, ids mapped to an unprivileged uid */
	BH_LAYER_PIDNS,         /* own pid namespace: the worker is pid 1, sees no one else */
	BH_LAYER_NETNS,         /* own (or shared, empty) network namespace: no interface up */
	BH_LAYER_IPCNS,         /* own System V IPC / POSIX mqueue namespace */
	BH_LAYER_UTSNS,         /* own host name */
	BH_LAYER_FS,            /* own mount namespace, empty read-only tmpfs root */
	BH_LAYER_RLIMITS,       /* the profile's resource limits (soft = hard) */
	BH_LAYER_NO_NEW_PRIVS,  /* PR_SET_NO_NEW_PRIVS and PR_SET_DUMPABLE 0 */
	BH_LAYER_CAPS,          /* unprivileged ids, no capability in any set, securebits locked */
	BH_LAYER_SECCOMP,       /* the profile's seccomp-bpf allow-list, all threads */
	BH_LAYER_COUNT
} bh_sandbox_layer;

/* What a profile asks of a layer. */
typedef enum bh_layer_need {
	BH_NEED_OFF = 0,      /* not wanted: reported ABSENT */
	BH_NEED_OPTIONAL = 1, /* applied when the kernel allows; else reported ABSENT with why */
	BH_NEED_REQUIRED = 2, /* applied, or the worker refuses to start */
} bh_layer_need;

/* What is in force; the same values as bh.SandboxLayer.State. */
typedef enum bh_layer_state {
	BH_STATE_ABSENT = 0,
	BH_STATE_APPLIED = 1,
	BH_STATE_FAILED = 2,
} bh_layer_state;

/*
 * Static names: "fds", "userns", "pidns", "netns", "ipcns", "utsns", "fs",
 * "rlimits", "no_new_privs", "caps", "seccomp"; "setup" for any other value
 * (failures that belong to no layer, such as clone() itself failing).
 */
BH_EXPORT const char *bh_sandbox_layer_name(int layer);
/* The layer called `name`, or -ENOENT. */
BH_EXPORT int bh_sandbox_layer_from_name(const char *name);
/* "off", "optional", "required". */
BH_EXPORT const char *bh_layer_need_name(bh_layer_need need);
/* "absent", "applied", "failed". */
BH_EXPORT const char *bh_layer_state_name(bh_layer_state state);

/* ---- profiles ------------------------------------------------------------ */

#define BH_PROFILE_NAME_MAX 32   /* including the NUL */
#define BH_RULE_MAX_ARGS 3       /* argument comparisons per rule (AND-ed) */

typedef enum bh_cmp_op {
	BH_CMP_EQ = 1,        /* arg == value */
	BH_CMP_NE,            /* arg != value */
	BH_CMP_LT,            /* arg <  value (unsigned 64-bit) */
	BH_CMP_LE,
	BH_CMP_GT,
	BH_CMP_GE,
	BH_CMP_MASKED_EQ,     /* (arg & mask) == value */
	BH_CMP_EQ_SELF,       /* arg == the sandboxed process's own pid (value unused) */
} bh_cmp_op;

typedef struct bh_arg_cmp {
	unsigned arg;         /* 0 .. 5 */
	bh_cmp_op op;
	uint64_t value;
	uint64_t mask;        /* BH_CMP_MASKED_EQ only */
} bh_arg_cmp;

typedef enum bh_rule_action {
	BH_RULE_ALLOW = 0,    /* the call runs */
	BH_RULE_ERRNO = 1,    /* the call fails with `err` (a harmless probe) */
} bh_rule_action;

/*
 * One line of a profile's seccomp policy. Rules for the same system call are
 * OR-ed; the comparisons inside one rule are AND-ed. A call that matches no
 * rule is forbidden: the process is killed and the call reported.
 */
typedef struct bh_syscall_rule {
	const char *syscall;  /* name as libseccomp knows it ("openat", "mmap") */
	bh_rule_action action;
	int err;              /* BH_RULE_ERRNO: the positive errno returned */
	unsigned nargs;       /* comparisons used in args[] */
	bh_arg_cmp args[BH_RULE_MAX_ARGS];
	const char *why;      /* the reason, shown in the policy table; required */
} bh_syscall_rule;

typedef struct bh_profile bh_profile;

/*
 * Finds a built-in profile: "renderer" (strictest), "gpu", "utility".
 * Built-in profiles live for the whole process. Returns 0 and the profile in
 * *out, -ENOENT for an unknown name (bh_profile_lookup_error() formats the
 * message), -EINVAL if name is NULL.
 */
BH_EXPORT int bh_profile_lookup(const char *name, const bh_profile **out);

/* NULL-terminated static array of the built-in profile names. */
BH_EXPORT const char *const *bh_profile_builtin_names(void);

/*
 * Formats the one-line message for an unknown profile name
 * ("unknown sandbox profile 'x' (known: renderer, gpu, utility)") into buf
 * (always NUL-terminated when size > 0). Returns the length it needed.
 */
BH_EXPORT int bh_profile_lookup_error(const char *name, char *buf, size_t size);

/*
 * Creates a profile `name` that starts as a copy of `base` (built-in or
 * derived; base may be destroyed afterwards). Add rules, change limits or
 * layer needs, then use it like a built-in. Returns 0 and the new profile
 * in *out (caller owns it: bh_profile_destroy()), -EINVAL for a NULL or
 * too long name, -ENOMEM.
 */
BH_EXPORT int bh_profile_derive(const bh_profile *base, const char *name, bh_profile **out);

/* Frees a derived profile. NULL and built-in profiles are ignored. */
BH_EXPORT void bh_profile_destroy(bh_profile *p);

/*
 * Adds a copy of `rule` to a derived profile (strings are copied). An
 * unconditional rule covers every use of the call and replaces the
 * conditional rules the profile has for it (libseccomp semantics), so
 * derivation can widen a rule but never narrow one: an unconditional
 * BH_RULE_ERRNO for a call the profile allows, or a conditional rule under
 * an unconditional rule of another action, is refused with -EEXIST.
 * Returns 0; -EINVAL if the syscall is unknown on this architecture, an
 * argument index or operator is invalid, an argument is compared twice,
 * err is not 1..4095 for BH_RULE_ERRNO, or why is missing; -EEXIST (above);
 * -EPERM for a built-in profile; -ENOMEM.
 */
BH_EXPORT int bh_profile_add_rule(bh_profile *p, const bh_syscall_rule *rule);

/* Shorthand: adds an unconditional BH_RULE_ALLOW rule. Same errors. */
BH_EXPORT int bh_profile_allow(bh_profile *p, const char *syscall, const char *why);

/* Sets what the profile asks of `layer`. -EINVAL, -EPERM (built-in). */
BH_EXPORT int bh_profile_set_layer(bh_profile *p, bh_sandbox_layer layer, bh_layer_need need);

/*
 * Sets a resource limit applied as both soft and hard limit. `resource` is
 * one of RLIMIT_AS, RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_FSIZE, RLIMIT_CORE,
 * RLIMIT_MEMLOCK; BH_RLIMIT_KEEP leaves the inherited limit alone. Hard
 * limits are only ever lowered. -EINVAL, -EPERM (built-in).
 */
#define BH_RLIMIT_KEEP UINT64_MAX
BH_EXPORT int bh_profile_set_rlimit(bh_profile *p, int resource, uint64_t value);

/* Accessors. The strings and rules live as long as the profile. */
BH_EXPORT const char *bh_profile_name(const bh_profile *p);
BH_EXPORT bh_layer_need bh_profile_layer(const bh_profile *p, bh_sandbox_layer layer);
/* 0 and the limit (or BH_RLIMIT_KEEP) in *out, or -EINVAL for another resource. */
BH_EXPORT int bh_profile_rlimit(const bh_profile *p, int resource, uint64_t *out);
BH_EXPORT size_t bh_profile_rule_count(const bh_profile *p);
/* The i-th rule (0 <= i < count), or NULL. */
BH_EXPORT const bh_syscall_rule *bh_profile_rule_at(const bh_profile *p, size_t i);

/*
 * Writes the profile as a table (layers, limits, then one line per rule:
 * syscall, action, condition, reason) into buf like snprintf: always
 * NUL-terminated when size > 0, returns the length the whole table needs.
 */
BH_EXPORT int bh_profile_format(const bh_profile *p, char *buf, size_t size);
/* Same table written to `f`. Returns 0 or -EIO. */
BH_EXPORT int bh_profile_print(const bh_profile *p, FILE *f);

/* ---- compiled filters ---------------------------------------------------- */

typedef struct bh_sandbox_prog bh_sandbox_prog;

/*
 * The pid the sandboxed process will have: a worker started by
 * bh_sandbox_spawn() in its own pid namespace is pid 1, so a filter built
 * for BH_SANDBOX_PID_NS_INIT can be compiled once (in the broker or a
 * zygote) and loaded by every worker. bh_sandbox_enter() recompiles a
 * filter whose pid does not match getpid().
 */
#define BH_SANDBOX_PID_NS_INIT 1

/*
 * Compiles the profile's seccomp policy with libseccomp into a BPF program
 * (native architecture only; calls from other architectures are forbidden).
 * BH_CMP_EQ_SELF compares against `self_pid`. Returns 0 and the program in
 * *out (caller owns it), -EINVAL for a rule libseccomp refuses, -ENOMEM.
 */
BH_EXPORT int bh_sandbox_compile(const bh_profile *p, pid_t self_pid, bh_sandbox_prog **out);
/* Frees a compiled program. NULL is a no-op. */
BH_EXPORT void bh_sandbox_prog_destroy(bh_sandbox_prog *prog);
/* Number of BPF instructions. */
BH_EXPORT size_t bh_sandbox_prog_length(const bh_sandbox_prog *prog);
/* The pid the program was compiled for. */
BH_EXPORT pid_t bh_sandbox_prog_pid(const bh_sandbox_prog *prog);

/* ---- spawning ------------------------------------------------------------ */

typedef struct bh_sandbox_failure {
	int layer;            /* bh_sandbox_layer, or -1 ("setup") */
	int code;             /* positive errno */
	char text[152];       /* one line, NUL-terminated */
} bh_sandbox_failure;

/* Fills the fields of a bh.SetupFailed message; strings point into `f`. */
BH_EXPORT void bh_sandbox_failure_to_pb(const bh_sandbox_failure *f, struct Bh__SetupFailed *m);

typedef struct bh_sandbox_netns bh_sandbox_netns;

/*
 * Creates one empty network namespace (loopback down) that workers can
 * share instead of each creating their own, which is the slowest part of
 * spawning. Needs root (CAP_SYS_ADMIN): returns -EPERM otherwise, and
 * spawning then creates a namespace per worker. The object holds one fd.
 */
BH_EXPORT int bh_sandbox_netns_create(bh_sandbox_netns **out);
/* Closes the namespace fd and frees. Workers already in it keep it alive. NULL is a no-op. */
BH_EXPORT void bh_sandbox_netns_destroy(bh_sandbox_netns *ns);

/* Context given to the child function; valid in the child only. */
typedef struct bh_sandbox_child bh_sandbox_child;
/* The profile the child was spawned for (to pass to bh_sandbox_enter()); NULL for NULL. */
BH_EXPORT const bh_profile *bh_sandbox_child_profile(const bh_sandbox_child *child);

/*
 * Runs in the new process. Its return value becomes the exit status
 * (_exit(ret & 0xff)); it may also _exit() itself.
 */
typedef int (*bh_sandbox_child_fn)(const bh_sandbox_child *child, void *arg);

enum {
	BH_SPAWN_NO_PDEATHSIG = 1u << 0, /* do not kill the worker when the spawning thread's process dies */
	/*
	 * Make the worker a child of the caller's parent (CLONE_PARENT): a
	 * zygote spawns workers that the broker reaps and signals. The caller
	 * cannot wait for such a child; on failure it is killed, not reaped.
	 */
	BH_SPAWN_CLONE_PARENT = 1u << 1,
};

typedef struct bh_spawn_opts {
	/*
	 * The worker's uid/gid when the broker runs as root (0/0: 65534/65534,
	 * "nobody"). Inside its user namespace the worker has the same ids.
	 * A non-root broker's workers keep the broker's ids.
	 */
	uid_t uid;
	gid_t gid;
	const bh_sandbox_netns *netns; /* shared empty netns, or NULL */
	unsigned flags;                /* BH_SPAWN_* */
} bh_spawn_opts;

/*
 * Starts a worker for profile `p` in the namespaces the profile wants
 * (clone() with CLONE_NEWUSER|NEWPID|NEWNET|NEWIPC|NEWNS|NEWUTS as needed).
 * Optional namespaces the kernel refuses are left out (the child then
 * reports them ABSENT with the reason); if a required one is refused, no
 * child is left behind and -errno is returned with *why naming the layer.
 *
 * The child is pid 1 of its pid namespace, runs with default signal
 * dispositions and an empty signal mask, dies with SIGKILL when the broker
 * dies (unless BH_SPAWN_NO_PDEATHSIG), already has its unprivileged ids,
 * and inherits every fd of the broker: it must call bh_sandbox_enter()
 * before touching untrusted input. `fn` runs with `arg` in the child.
 *
 * Returns 0, the pid in *pid and, if pidfd is not NULL, a close-on-exec
 * pidfd in *pidfd (caller owns it). On failure, -errno and, if `why` is not
 * NULL, the failing layer and reason in *why (written only on failure).
 * `o` may be NULL for the defaults.
 */
BH_EXPORT int bh_sandbox_spawn(const bh_profile *p, const bh_spawn_opts *o, bh_sandbox_child_fn fn,
			       void *arg, pid_t *pid, int *pidfd, bh_sandbox_failure *why);

/* ---- entering the sandbox (in the child) -------------------------------- */

typedef struct bh_sandbox_ns_ids {
	uint64_t user, pid, net, ipc, mnt, uts; /* inode numbers of /proc/<pid>/ns/<type>; 0: unknown */
} bh_sandbox_ns_ids;

/* Reads the calling process's namespace ids (the broker's, for comparison). 0 or -errno. */
BH_EXPORT int bh_sandbox_ns_ids_self(bh_sandbox_ns_ids *out);

typedef struct bh_sandbox_layer_report {
	bh_layer_need need;
	bh_layer_state state;
	char detail[96];      /* what was done, or why not; NUL-terminated */
} bh_sandbox_layer_report;

/* What the kernel says about a sandboxed process. */
typedef struct bh_sandbox_status {
	char profile[BH_PROFILE_NAME_MAX];
	bh_sandbox_layer_report layers[BH_LAYER_COUNT];
	int seccomp_mode;     /* 0 off, 1 strict, 2 filter */
	unsigned seccomp_filters;
	bool no_new_privs;
	bool dumpable;
	uint64_t cap_eff, cap_prm, cap_inh, cap_bnd, cap_amb;
	uint32_t uid, gid;    /* real ids as the worker sees them */
	int32_t pid;          /* getpid() in the worker (1 in its own pid namespace) */
	bh_sandbox_ns_ids ns;
	uint32_t open_fds;    /* open fds, not counting the status fd itself */
	uint64_t rlimit_as, rlimit_nofile, rlimit_nproc, rlimit_fsize, rlimit_core; /* hard limits; UINT64_MAX: unlimited */
	bool fs_empty;        /* "/" is an empty read-only tmpfs and /proc is gone */
	uint32_t net_ifaces_up; /* network interfaces up in the worker's netns */
} bh_sandbox_status;

enum {
	/* On failure, write the setup-failed record and _exit(BH_SANDBOX_EXIT_SETUP) instead of returning. */
	BH_SANDBOX_EXIT_ON_FAILURE = 1u << 0,
	/* Apply every layer but seccomp (bulkhead-run loads its own filter right before exec). */
	BH_SANDBOX_NO_SECCOMP = 1u << 1,
};

/* Documented exit status of a worker that could not finish its sandbox. */
#define BH_SANDBOX_EXIT_SETUP 125

typedef struct bh_sandbox_opts {
	const bh_sandbox_child *child; /* from bh_sandbox_spawn(), or NULL (namespaces via unshare(), no pidns) */
	const int *keep_fds;           /* fds that stay open (channels, regions) */
	unsigned n_keep_fds;
	int report_fd;                 /* violation and setup-failed records go here (kept open); -1: none */
	const bh_sandbox_prog *prog;   /* precompiled filter, or NULL to compile here */
	unsigned flags;                /* BH_SANDBOX_* */
} bh_sandbox_opts;

/*
 * Result of bh_sandbox_enter(). Unlike other output parameters it is
 * written on failure too: it says which layer failed and why.
 */
typedef struct bh_sandbox_report {
	bh_sandbox_status status;     /* layer states and what was captured while entering */
	bh_sandbox_failure failure;   /* set when enter fails */
	int status_fd;                /* /proc/self/status opened before the root vanished; owned by the report */
	int fd_limit;                 /* one past the highest fd that may be open (for counting them) */
} bh_sandbox_report;

/*
 * Applies every layer of profile `p` to the calling process, in the order
 * given at the top of this file, seccomp last (with TSYNC). Layers the
 * profile wants that the kernel refuses are reported ABSENT if optional.
 *
 * Returns 0 with `rep` describing every layer; rep->status_fd stays open so
 * that bh_sandbox_status_read() can read the kernel's view afterwards
 * (release it with bh_sandbox_report_release()). On failure returns -errno,
 * rep->failure names the layer, a BH_RECORD_SETUP_FAILED record has been
 * written to opts->report_fd, and the process is in an unknown, partially
 * sandboxed state: it must _exit() (BH_SANDBOX_EXIT_ON_FAILURE does that).
 *
 * Fds: every fd but keep_fds, report_fd and rep->status_fd is closed.
 * The SIGSYS handler is installed for the whole process.
 */
BH_EXPORT int bh_sandbox_enter(const bh_profile *p, const bh_sandbox_opts *opts,
			       bh_sandbox_report *rep);

/* Closes rep->status_fd. Idempotent. */
BH_EXPORT void bh_sandbox_report_release(bh_sandbox_report *rep);

/* ---- status -------------------------------------------------------------- */

/*
 * Reads the calling process's sandbox state back from the kernel: the
 * status fd of `rep` (Seccomp, NoNewPrivs, Cap*, Uid, Gid), getrlimit(),
 * the open fds, plus what `rep` captured before the root vanished (layer
 * states, namespace ids, fs_empty, interfaces up). Works under every
 * built-in profile. Returns 0 or -errno (-EBADF if the status fd is gone).
 */
BH_EXPORT int bh_sandbox_status_read(const bh_sandbox_report *rep, bh_sandbox_status *out);

/*
 * Builds a bh.SandboxStatus message from `st` in one allocation; free it
 * with bh_sandbox_status_pb_free(). Returns 0 or -ENOMEM.
 */
BH_EXPORT int bh_sandbox_status_to_pb(const bh_sandbox_status *st, struct Bh__SandboxStatus **out);
/* Frees a message built by bh_sandbox_status_to_pb() (not one unpacked by protobuf-c). NULL is a no-op. */
BH_EXPORT void bh_sandbox_status_pb_free(struct Bh__SandboxStatus *m);

/*
 * Validates a bh.SandboxStatus a worker sent (hostile input: string
 * lengths, layer names and states, counts) and converts it. Returns 0, or
 * -EBADMSG if anything is out of range (out untouched).
 */
BH_EXPORT int bh_sandbox_status_from_pb(const struct Bh__SandboxStatus *m, bh_sandbox_status *out);

/*
 * Formats a status as one JSON object, or as a chrome://sandbox-like table.
 * `broker` (may be NULL) gives the broker's namespace ids so that each
 * namespace is shown as separate or shared. snprintf semantics: always
 * NUL-terminated when size > 0, returns the length needed.
 */
BH_EXPORT int bh_sandbox_status_format_json(const bh_sandbox_status *st, const bh_sandbox_ns_ids *broker,
					    char *buf, size_t size);
BH_EXPORT int bh_sandbox_status_format_table(const bh_sandbox_status *st,
					     const bh_sandbox_ns_ids *broker, char *buf, size_t size);

/* ---- reports from the report fd ----------------------------------------- */

#define BH_SANDBOX_RECORD_SIZE 256u

typedef enum bh_record_kind {
	BH_RECORD_VIOLATION = 1,    /* a forbidden system call; the process died by SIGSYS */
	BH_RECORD_SETUP_FAILED = 2, /* bh_sandbox_enter() failed; the process exits with BH_SANDBOX_EXIT_SETUP */
	BH_RECORD_READY = 3,        /* bulkhead-run's loader library installed the filter */
} bh_record_kind;

typedef struct bh_sandbox_violation {
	int nr;               /* syscall number for `arch` */
	uint32_t arch;        /* AUDIT_ARCH_* of the call */
	int32_t pid;          /* pid as the worker saw it */
	uint64_t ip;          /* address after the syscall instruction */
	uint64_t args[6];
	char name[32];        /* resolved by the decoder ("openat"), or "syscall_<nr>" */
} bh_sandbox_violation;

typedef struct bh_sandbox_record {
	bh_record_kind kind;
	bh_sandbox_violation violation; /* BH_RECORD_VIOLATION */
	bh_sandbox_failure failure;     /* BH_RECORD_SETUP_FAILED */
} bh_sandbox_record;

/*
 * Decodes one record read from a report fd. Every field is checked (size,
 * magic, version, kind, NUL-terminated strings, known layer name).
 * Returns 0, or -EBADMSG (out untouched).
 */
BH_EXPORT int bh_sandbox_record_decode(const void *buf, size_t len, bh_sandbox_record *out);

/* Same, but accepts only a violation record. 0 or -EBADMSG. */
BH_EXPORT int bh_sandbox_violation_decode(const void *buf, size_t len, bh_sandbox_violation *out);

/*
 * Reads every complete record from a non-blocking report fd (a pipe or a
 * SOCK_SEQPACKET socket, read end) and keeps the last valid one of each
 * kind. Returns the number of valid records (0 if none), or -errno.
 * Call it after reaping the worker.
 */
BH_EXPORT int bh_sandbox_records_drain(int fd, bh_sandbox_record *violation,
				       bh_sandbox_record *failure);

/* Fills a bh.CrashReport for a violation (signal SIGSYS); strings point into `v`. */
BH_EXPORT void bh_sandbox_violation_to_pb(const bh_sandbox_violation *v, struct Bh__CrashReport *m);

/*
 * Names syscall `nr` of architecture `arch` (AUDIT_ARCH_*) into buf
 * ("openat"). Returns 0, or -ENOENT when unknown (buf then holds
 * "syscall_<nr>"), or -EINVAL when size is 0.
 */
BH_EXPORT int bh_sandbox_syscall_name(uint32_t arch, int nr, char *buf, size_t size);

/* "x86_64", "i386", "x32", "aarch64", ... or "unknown". */
BH_EXPORT const char *bh_sandbox_arch_name(uint32_t arch);

/* ---- costs (for the benchmark) -------------------------------------------- */

typedef struct bh_sandbox_costs {
	double compile_us;        /* bh_sandbox_compile(), median */
	double spawn_plain_us;    /* fork() + exit + reap with no sandbox, median */
	double spawn_us;          /* bh_sandbox_spawn() with the profile's namespaces + exit + reap */
	double spawn_shared_netns_us; /* same with a shared netns (0: not measured, needs root) */
	double enter_us;          /* bh_sandbox_enter() inside the child, precompiled filter */
	double syscall_ns;        /* a cheap allowed syscall (getpid) without a filter */
	double syscall_filtered_ns; /* the same call under the profile's filter */
	double roundtrip_us;      /* 64-byte ping-pong over a SEQPACKET socketpair, unsandboxed child */
	double roundtrip_filtered_us; /* the same with the child in the sandbox (filter on its side) */
	unsigned filter_insns;    /* BPF instructions of the profile's filter */
} bh_sandbox_costs;

/*
 * Measures the costs above for `p`, `iterations` times each (medians).
 * Starts real workers; takes roughly iterations * 2 ms. Returns 0 or -errno.
 */
BH_EXPORT int bh_sandbox_measure(const bh_profile *p, unsigned iterations, bh_sandbox_costs *out);

#ifdef __cplusplus
}
#endif
#endif
