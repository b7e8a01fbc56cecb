/*
 * bulkhead supervisor: declare worker types once; the framework launches
 * them sandboxed, checks their handshake, watches them, classifies every
 * exit, restarts them by policy and stops a crash loop.
 *
 * Launching: bh_supervisor_create() forks a zygote at once, before the
 * application holds anything sensitive. Every worker is cloned from that
 * zygote (as a child of the broker, into the namespaces of its profile), so
 * no worker ever sees memory the broker filled after start. Seccomp filters
 * are compiled once per profile in the zygote.
 *
 * Supervision: each worker's pidfd wakes the loop when it exits; it is
 * reaped at once (waitid), its end classified (bh_exit_kind), reported to
 * the application, and the restart policy acts. A worker keeps its identity
 * (bh_worker handle, id, userdata) across restarts.
 *
 * Threading: everything here runs on the loop's thread.
 */
#ifndef BULKHEAD_SUPERVISOR_H
#define BULKHEAD_SUPERVISOR_H

#include <bulkhead/channel.h>
#include <bulkhead/common.h>
#include <bulkhead/loop.h>
#include <bulkhead/sandbox.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bh_supervisor bh_supervisor;
typedef struct bh_worker bh_worker;         /* broker side: one supervised worker */
typedef struct bh_worker_ctx bh_worker_ctx; /* worker side: given to the entry point */

/* ---- worker specs -------------------------------------------------------- */

typedef enum bh_restart_policy {
	BH_RESTART_NEVER = 0,    /* never restart */
	BH_RESTART_ON_CRASH = 1, /* restart unless it exited with status 0 or was stopped */
	BH_RESTART_ALWAYS = 2,   /* restart whenever it ends, unless stopped */
} bh_restart_policy;

/*
 * Worker entry point, run in the worker after its sandbox is in force and
 * the broker's Welcome arrived. Typically installs handlers with
 * bh_worker_ctx_set_handler() and returns bh_worker_ctx_run(ctx). The return
 * value is the exit status.
 */
typedef int (*bh_worker_main)(bh_worker_ctx *ctx, void *arg);

/* Files a worker type may ask the broker to open (read-only). */
typedef struct bh_file_rule {
	const char *dir;      /* absolute directory; paths are resolved beneath it */
	const char *suffix;   /* required file name suffix (".html"), or NULL for any */
} bh_file_rule;

/*
 * Everything about one worker type. Strings, arrays and the profile must
 * outlive the supervisor (static tables are the usual choice). Zero fields
 * take the defaults named.
 */
typedef struct bh_worker_spec {
	const char *name;               /* type name, sent in Hello (required) */
	bh_worker_main entry;           /* required */
	void *entry_arg;                /* passed to entry in the worker */
	const bh_profile *profile;      /* sandbox profile (required) */
	bh_restart_policy restart;
	unsigned backoff_initial_ms;    /* delay of the second restart in a row (100) */
	unsigned backoff_max_ms;        /* cap of the doubling delay (10000) */
	unsigned backoff_jitter_pct;    /* +- this percentage of random jitter (20) */
	unsigned crash_limit;           /* this many restarts ... (5) */
	unsigned crash_period_ms;       /* ... within this period: permanent failure (30000) */
	unsigned heartbeat_ms;          /* worker heartbeat interval; 0: no watchdog */
	unsigned hang_timeout_ms;       /* no heartbeat for this long: hung (3 x heartbeat_ms) */
	unsigned start_timeout_ms;      /* spawn to accepted Hello (5000) */
	unsigned shutdown_grace_ms;     /* Shutdown -> SIGTERM -> SIGKILL step (1000) */
	uint64_t shm_quota_bytes;       /* shared memory the broker may allocate for it (0: none) */
	unsigned shm_quota_regions;     /* regions it may hold (0: 16 if bytes > 0) */
	const uint32_t *send_types;     /* message types it may send besides the framework's */
	size_t n_send_types;
	const bh_file_rule *files;      /* files it may open through the broker */
	size_t n_files;
} bh_worker_spec;

/* ---- exit classification ------------------------------------------------- */

typedef enum bh_exit_kind {
	BH_EXIT_CLEAN = 0,       /* exited with status 0 */
	BH_EXIT_CODE,            /* exited with a non-zero status */
	BH_EXIT_CRASH,           /* killed by a signal it did not get from the broker */
	BH_EXIT_SANDBOX,         /* killed by the seccomp filter: syscall named */
	BH_EXIT_HUNG,            /* killed by the hang watchdog */
	BH_EXIT_BAD_MESSAGE,     /* killed for sending a bad message */
	BH_EXIT_RESOURCE,        /* out of memory or over an rlimit */
	BH_EXIT_SETUP_FAILED,    /* could not enter its sandbox or say Hello */
	BH_EXIT_STOPPED,         /* stopped on request (bh_worker_stop, shutdown) */
	BH_EXIT_KIND_COUNT
} bh_exit_kind;

typedef struct bh_exit_info {
	bh_exit_kind kind;
	int status;              /* exit status (CLEAN, CODE, SETUP_FAILED) */
	int signal;              /* terminating signal, or 0 */
	int syscall_nr;          /* BH_EXIT_SANDBOX: the forbidden syscall, else -1 */
	char syscall[32];        /* its name ("openat") */
	uint64_t fault_addr;     /* from the worker's crash report, if it sent one */
	int bad_reason;          /* BH_EXIT_BAD_MESSAGE: bh_bad_reason */
	char detail[160];        /* one line: what happened, for logs and UI */
	unsigned restarts;       /* restarts of this worker so far */
	pid_t pid;
	uint64_t uptime_ms;
} bh_exit_info;

/* Static name of an exit kind ("crash", "sandbox", ...). */
BH_EXPORT const char *bh_exit_kind_name(bh_exit_kind kind);

/* ---- broker side --------------------------------------------------------- */

typedef struct bh_supervisor_ops {
	/*
	 * The worker said Hello and was welcomed (after every start and
	 * restart): send it whatever state it needs. Optional.
	 */
	void (*on_ready)(bh_worker *w, void *userdata);
	/* A message of one of the spec's send_types (already validated). Optional. */
	void (*on_message)(bh_worker *w, bh_msg *msg, void *userdata);
	/* The worker ended; `restarting` says whether the policy will restart it. Optional. */
	void (*on_exit)(bh_worker *w, const bh_exit_info *info, int restarting, void *userdata);
	/* The crash-loop limit was reached: no more restarts. Optional. */
	void (*on_failed)(bh_worker *w, const bh_exit_info *info, void *userdata);
	/* The worker reported its sandbox state (read it with bh_worker_sandbox_status). Optional. */
	void (*on_sandbox_status)(bh_worker *w, void *userdata);
} bh_supervisor_ops;

/*
 * Creates a supervisor for the worker types in `specs` and forks its zygote
 * now: call it early in main(), before the process reads secrets, opens
 * sensitive files or starts threads. `specs`, `reg` and `ops` must outlive
 * the supervisor. Returns 0 or -errno (-EINVAL for an incomplete spec).
 *
 * With BH_ZYGOTE_EXEC=1 in the environment the zygote is not a fork but a
 * fresh execve() of this program (/proc/self/exe, same argv and
 * environment): for valgrind with --trace-children=no, which then watches
 * the broker alone. In that copy this same call never returns: it becomes
 * the zygote with the `specs` and `reg` it was given, so main() must reach
 * it with the same ones before doing anything only the broker should do
 * (write files, talk to the terminal). Tests that create supervisors in
 * several places (cmocka suites) cannot use it.
 */
BH_EXPORT int bh_supervisor_create(bh_loop *loop, const bh_registry *reg,
				   const bh_worker_spec *specs, size_t n_specs,
				   const bh_supervisor_ops *ops, void *userdata,
				   bh_supervisor **out);

/*
 * Kills every worker and the zygote with SIGKILL, reaps them, and frees
 * everything. For a graceful end use bh_supervisor_shutdown() first.
 * NULL is a no-op.
 */
BH_EXPORT void bh_supervisor_destroy(bh_supervisor *sup);

/*
 * Asks every worker to stop (Shutdown message, then SIGTERM, then SIGKILL,
 * each after the spec's grace period), without blocking; calls `done` once
 * all are gone. Returns 0 or -EALREADY.
 */
BH_EXPORT int bh_supervisor_shutdown(bh_supervisor *sup, void (*done)(bh_supervisor *, void *),
				     void *userdata);

/* The zygote's pid (for tests and status pages). */
BH_EXPORT pid_t bh_supervisor_zygote_pid(const bh_supervisor *sup);

/*
 * Starts a worker of the spec named `type`. Spawning is asynchronous: the
 * handle is returned at once, on_ready follows when its Hello is accepted.
 * `userdata` is per worker (bh_worker_userdata). Returns 0 and the handle in
 * *out if out is not NULL (owned by the supervisor until bh_worker_forget),
 * -ENOENT for an unknown type, -ESHUTDOWN during bh_supervisor_shutdown(),
 * -errno otherwise.
 */
BH_EXPORT int bh_worker_start(bh_supervisor *sup, const char *type, void *userdata, bh_worker **out);

/*
 * Stops the worker gracefully (as bh_supervisor_shutdown, for one). It is
 * not restarted; on_exit reports BH_EXIT_STOPPED. Returns 0 or -ESRCH if it
 * is not running.
 */
BH_EXPORT int bh_worker_stop(bh_worker *w);

/*
 * Sends `sig` to a running worker (tests, debug pages, chaos drivers). The
 * broker does not excuse what it did not decide itself: the resulting end is
 * classified from the signal like any other (a SIGKILL or SIGSEGV sent this
 * way is a crash) and the restart policy applies. Returns 0, -ESRCH if no
 * process is running, or -errno.
 */
BH_EXPORT int bh_worker_kill(bh_worker *w, int sig);

/* Restarts a worker that is stopped or failed permanently (counters reset). 0 or -EBUSY. */
BH_EXPORT int bh_worker_restart(bh_worker *w);

/*
 * Removes a worker that is not running (after on_exit with no restart, or
 * after on_failed) and frees its handle. Returns 0 or -EBUSY.
 */
BH_EXPORT int bh_worker_forget(bh_worker *w);

/* Sends a message to the worker (see bh_channel_send). -ENOTCONN unless ready. */
BH_EXPORT int bh_worker_send(bh_worker *w, uint32_t type, const ProtobufCMessage *body,
			     const int *fds, unsigned nfds);

/* The worker's channel while it is ready, else NULL. */
BH_EXPORT bh_channel *bh_worker_channel(const bh_worker *w);

/* The worker's id: unique in this supervisor, never 0, kept across restarts. */
BH_EXPORT uint32_t bh_worker_id(const bh_worker *w);
/* Its spec's name (the spec's string: valid as long as the supervisor). */
BH_EXPORT const char *bh_worker_type(const bh_worker *w);
/* The per-worker pointer given to bh_worker_start() or set since; never touched by the framework. */
BH_EXPORT void *bh_worker_userdata(const bh_worker *w);
BH_EXPORT void bh_worker_set_userdata(bh_worker *w, void *userdata);
/* Current pid, or 0 when not running. */
BH_EXPORT pid_t bh_worker_pid(const bh_worker *w);
/* True from on_ready until it exits or is asked to stop: bh_worker_send() works only then. */
BH_EXPORT int bh_worker_is_ready(const bh_worker *w);
/* True once the crash-loop limit stopped restarts. */
BH_EXPORT int bh_worker_failed(const bh_worker *w);
/* Restarts so far (reset by bh_worker_restart()). */
BH_EXPORT unsigned bh_worker_restarts(const bh_worker *w);
/* The last exit, or NULL if it never ended. Valid until the next exit. */
BH_EXPORT const bh_exit_info *bh_worker_last_exit(const bh_worker *w);
/* The last sandbox state it reported, or NULL. */
BH_EXPORT const bh_sandbox_status *bh_worker_sandbox_status(const bh_worker *w);
/* Declares the message being handled bad: the worker is killed as a bad-message sender. */
BH_EXPORT void bh_worker_bad_message(bh_worker *w, const char *detail);
/*
 * Declares the worker hung by a check of the application's own (a request it
 * never answered, a channel it stopped reading while its heartbeats go on):
 * it is killed and its end classified BH_EXIT_HUNG with `detail`, as the
 * heartbeat watchdog would. No-op unless a process is running.
 */
BH_EXPORT void bh_worker_hung(bh_worker *w, const char *detail);

/* Iterates over workers: first with NULL, then the previous one; NULL at the end. */
BH_EXPORT bh_worker *bh_supervisor_next(const bh_supervisor *sup, const bh_worker *prev);

/* ---- worker side ---------------------------------------------------------- */

/*
 * The worker's loop, its channel to the broker and the registry, all owned by
 * the framework and valid until the entry point returns: add watches, timers
 * and defers to the loop, send on the channel, but destroy none of them.
 */
BH_EXPORT bh_loop *bh_worker_ctx_loop(bh_worker_ctx *ctx);
BH_EXPORT bh_channel *bh_worker_ctx_channel(bh_worker_ctx *ctx);
BH_EXPORT const bh_registry *bh_worker_ctx_registry(bh_worker_ctx *ctx);
/* The id the broker gave this worker (bh_worker_id() on the broker side). */
BH_EXPORT uint32_t bh_worker_ctx_id(const bh_worker_ctx *ctx);
/* The worker type's name (the spec's). */
BH_EXPORT const char *bh_worker_ctx_type(const bh_worker_ctx *ctx);
/* The sandbox report of bh_sandbox_enter() (its status fd still open). */
BH_EXPORT const bh_sandbox_report *bh_worker_ctx_sandbox(const bh_worker_ctx *ctx);

/*
 * Installs the handler for application messages from the broker (the
 * framework handles its own). `fn` may be NULL to drop them.
 */
BH_EXPORT void bh_worker_ctx_set_handler(bh_worker_ctx *ctx,
					 void (*fn)(bh_worker_ctx *ctx, bh_msg *msg, void *userdata),
					 void *userdata);

/*
 * Runs the worker's loop until the broker asks it to stop or goes away.
 * Returns the exit status to use (0 after a Shutdown, 1 if the broker vanished).
 */
BH_EXPORT int bh_worker_ctx_run(bh_worker_ctx *ctx);

/*
 * Asks the broker to open `path` (read-only, checked against the spec's
 * bh_file_rule list). `cb` runs once, on the loop, with the fd (the callback
 * owns it) or -errno (-EACCES: not allowed, -ENOENT, -ETIMEDOUT, ...).
 * Returns 0, or -errno if the request could not be sent (cb is then not called).
 */
BH_EXPORT int bh_worker_ctx_open(bh_worker_ctx *ctx, const char *path, unsigned timeout_ms,
				 void (*cb)(bh_worker_ctx *ctx, int fd, void *userdata),
				 void *userdata);

/* Exit status a worker uses when it ran out of memory: classified BH_EXIT_RESOURCE. */
#define BH_WORKER_EXIT_OOM 124

#ifdef __cplusplus
}
#endif
#endif
