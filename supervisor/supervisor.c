/*
 * Broker side of supervision: spawning through the zygote, the handshake,
 * heartbeats, exit classification, restart policy with backoff and a
 * crash-loop limit, graceful shutdown, and the framework requests a worker
 * may make (files, shared memory, sandbox status, crash reports).
 *
 * A worker's life: IDLE -> SPAWNING (request sent to the zygote) ->
 * STARTING (pid known, waiting for Hello) -> READY -> (exit) -> WAITING
 * (backoff timer) -> SPAWNING ... or STOPPED / FAILED. STOPPING overlays
 * READY/STARTING while a graceful stop is in progress.
 */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bulkhead/filebroker.h>
#include <bulkhead/shm.h>
#include <bulkhead/supervisor.h>

#include "bulkhead.pb-c.h"
#include "common/internal.h"
#include "supervisor/supervisor_private.h"

extern char **environ;

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

enum wstate { W_IDLE, W_SPAWNING, W_STARTING, W_READY, W_WAITING, W_STOPPED, W_FAILED };

struct bh_worker {
	bh_supervisor *sup;
	size_t spec_index;
	const bh_worker_spec *spec;
	uint32_t id;
	void *userdata;
	bh_worker *next;

	enum wstate state;
	int stopping;      /* a graceful stop is in progress */
	int stop_step;     /* 0: Shutdown sent, 1: SIGTERM sent, 2: SIGKILL sent */
	pid_t pid;
	int pidfd;
	bh_watch *pid_watch;
	bh_channel *ch;
	int report_fd;
	uint8_t token[BH_TOKEN_SIZE];
	uint64_t spawn_gen; /* ignores zygote replies for an earlier spawn */

	/* Hello that arrived before the zygote told us the pid. */
	uint32_t hello_req;
	pid_t hello_pid;

	/* Why the broker killed it, if it did. */
	bh_exit_kind kill_kind;
	int kill_bad_reason;
	char kill_detail[160];

	/* What the worker told us before dying. */
	int crash_signal;
	uint64_t fault_addr;
	char setup_failed[160];

	bh_timer *start_timer, *watchdog, *restart_timer, *stop_timer;
	uint64_t started_ns, last_beat_ns;

	unsigned restarts;
	unsigned backoff_ms;
	uint64_t *restart_times; /* ring of crash_limit timestamps */
	unsigned restart_pos;

	bh_exit_info last_exit;
	int have_exit;
	bh_sandbox_status sandbox;
	int have_sandbox;
};

struct bh_supervisor {
	bh_loop *loop;
	const bh_registry *reg;
	const bh_worker_spec *specs;
	size_t n_specs;
	const bh_supervisor_ops *ops;
	void *userdata;

	pid_t zygote_pid;
	int zygote_pidfd;
	bh_channel *zygote;
	bh_file_broker **files; /* per spec, or NULL */
	bh_quota *quota;

	bh_worker *workers;
	uint32_t next_id;
	uint64_t gen;

	void (*shutdown_done)(bh_supervisor *, void *);
	void *shutdown_ud;
	int shutting_down;
};

static void worker_spawn(bh_worker *w);
static void worker_exited(bh_worker *w, const siginfo_t *si);
static void worker_kill(bh_worker *w, bh_exit_kind why, int bad_reason, const char *fmt, ...)
	BH_PRINTF(4, 5);

const char *bh_exit_kind_name(bh_exit_kind kind)
{
	static const char *const names[BH_EXIT_KIND_COUNT] = {
		[BH_EXIT_CLEAN] = "clean exit",  [BH_EXIT_CODE] = "exit code",
		[BH_EXIT_CRASH] = "crash",       [BH_EXIT_SANDBOX] = "sandbox violation",
		[BH_EXIT_HUNG] = "hung",         [BH_EXIT_BAD_MESSAGE] = "bad message",
		[BH_EXIT_RESOURCE] = "resource limit", [BH_EXIT_SETUP_FAILED] = "setup failed",
		[BH_EXIT_STOPPED] = "stopped",
	};

	return (unsigned)kind < BH_EXIT_KIND_COUNT ? names[kind] : "?";
}

static unsigned dflt(unsigned v, unsigned d)
{
	return v ? v : d;
}

/* ---- zygote ---------------------------------------------------------------- */

static void zygote_message(bh_channel *ch, bh_msg *m, void *ud)
{
	bh_supervisor *sup = ud;

	/* The zygote only ever replies; anything else means it is not ours any more. */
	bh__log(sup->loop, BH_LOG_ERROR, "supervisor: unexpected message %u from the zygote",
		bh_msg_type(m));
	bh_channel_close(ch);
}

static void zygote_gone(bh_channel *ch, int err, void *ud)
{
	bh_supervisor *sup = ud;

	bh__log(sup->loop, BH_LOG_ERROR, "supervisor: the zygote went away (%s); no more workers can start",
		err ? strerror(-err) : "EOF");
}

static void zygote_bad(bh_channel *ch, int reason, const char *detail, void *ud)
{
	zygote_gone(ch, -EPROTO, ud);
}

static const bh_channel_ops zygote_ops = {
	.on_message = zygote_message,
	.on_close = zygote_gone,
	.on_bad_message = zygote_bad,
};

/*
 * BH_ZYGOTE_EXEC=1 in the environment: the zygote is a fresh execve() of
 * this program (same argv and environment, plus ZYGOTE_ENV naming its
 * channel and the broker), not a fork of the broker. Valgrind, run with
 * --trace-children=no, then watches the broker alone: a forked zygote
 * would stay under it, and valgrind cannot run the sandboxes the zygote
 * builds. The exec'd copy becomes the zygote inside its own
 * bh_supervisor_create(), so main() must reach that call with the same
 * specs before doing anything the broker alone should do.
 */
#define ZYGOTE_EXEC_ENV "BH_ZYGOTE_EXEC"
#define ZYGOTE_ENV "BH__ZYGOTE"
#define MAX_CMDLINE (256u << 10)

/* The exec'd zygote's main(): ZYGOTE_ENV is "<fd>:<broker pid>". Never returns. */
static void exec_zygote_main(const char *env, const bh_worker_spec *specs, size_t n_specs,
			     const bh_registry *reg)
{
	char *end;
	long fd, broker;

	errno = 0;
	fd = strtol(env, &end, 10);
	if (errno || *end != ':' || fd < 0 || fd > INT_MAX)
		_exit(1);
	broker = strtol(end + 1, &end, 10);
	if (errno || *end || broker <= 0 || broker > INT_MAX)
		_exit(1);
	/* Workers must not inherit it (and a program they exec must not become a zygote). */
	if (unsetenv(ZYGOTE_ENV) < 0 || unsetenv(ZYGOTE_EXEC_ENV) < 0 ||
	    fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0)
		_exit(1);
	bh__zygote_main((int)fd, specs, n_specs, reg, (pid_t)broker);
}

/* What execve() needs for the zygote, prepared before fork(). */
struct zygote_exec {
	char exe[PATH_MAX];
	char *cmdline;
	char **argv, **envp;
	char env[64];
};

static void zygote_exec_free(struct zygote_exec *x)
{
	free(x->cmdline);
	free(x->argv);
	free(x->envp);
}

static int zygote_exec_prepare(struct zygote_exec *x, int fd)
{
	size_t len = 0, argc = 0, envc = 0, k = 0;
	ssize_t n;
	int cfd, r = 0;

	memset(x, 0, sizeof *x);
	n = readlink("/proc/self/exe", x->exe, sizeof x->exe - 1);
	if (n < 0)
		return -errno;
	if ((size_t)n >= sizeof x->exe - 1)
		return -ENAMETOOLONG;
	x->exe[n] = '\0';
	x->cmdline = malloc(MAX_CMDLINE + 1);
	if (!x->cmdline)
		return -ENOMEM;
	cfd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (cfd < 0)
		return -errno;
	/* Until EOF: /proc files come in pieces. */
	while (len < MAX_CMDLINE) {
		n = read(cfd, x->cmdline + len, MAX_CMDLINE - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = -errno;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	bh__close(cfd);
	if (r < 0)
		return r;
	if (len == 0 || len >= MAX_CMDLINE)
		return -E2BIG;
	x->cmdline[len] = '\0';
	for (size_t i = 0; i < len; i++)
		argc += x->cmdline[i] == '\0';
	for (char **e = environ; *e; e++)
		envc++;
	x->argv = calloc(argc + 1, sizeof *x->argv);
	x->envp = calloc(envc + 2, sizeof *x->envp);
	if (!x->argv || !x->envp)
		return -ENOMEM;
	for (size_t i = 0, a = 0; i < len && a < argc; a++) {
		x->argv[a] = x->cmdline + i;
		i += strlen(x->cmdline + i) + 1;
	}
	for (char **e = environ; *e; e++)
		if (strncmp(*e, ZYGOTE_ENV "=", sizeof ZYGOTE_ENV))
			x->envp[k++] = *e;
	snprintf(x->env, sizeof x->env, ZYGOTE_ENV "=%d:%d", fd, (int)getpid());
	x->envp[k] = x->env;
	return 0;
}

static int start_zygote(bh_supervisor *sup)
{
	struct zygote_exec x = { .cmdline = NULL };
	const char *how = getenv(ZYGOTE_EXEC_ENV);
	bool exec_it = how && !strcmp(how, "1");
	int sv[2], r;
	pid_t broker = getpid(), pid;

	r = bh_channel_socketpair(sv);
	if (r < 0)
		return r;
	if (exec_it)
		r = zygote_exec_prepare(&x, sv[1]);
	if (r < 0) {
		bh__log(sup->loop, BH_LOG_ERROR, "supervisor: cannot exec the zygote: %s", strerror(-r));
		goto fail;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto fail;
	}
	if (pid == 0) {
		bh__close(sv[0]);
		if (exec_it) {
			/* Only the channel crosses the exec; everything else stays close-on-exec. */
			if (fcntl(sv[1], F_SETFD, 0) == 0)
				execve(x.exe, x.argv, x.envp);
			_exit(127);
		}
		bh__zygote_main(sv[1], sup->specs, sup->n_specs, sup->reg, broker);
	}
	zygote_exec_free(&x);
	bh__close(sv[1]);
	sup->zygote_pid = pid;
	sup->zygote_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	r = bh_channel_create(sup->loop, sup->reg, sv[0], &zygote_ops, sup, NULL, &sup->zygote);
	if (r < 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		sup->zygote_pid = 0;
		return r;
	}
	return 0;
fail:
	zygote_exec_free(&x);
	bh__close(sv[0]);
	bh__close(sv[1]);
	return r;
}

/* ---- creation ---------------------------------------------------------------- */

int bh_supervisor_create(bh_loop *loop, const bh_registry *reg, const bh_worker_spec *specs,
			 size_t n_specs, const bh_supervisor_ops *ops, void *userdata,
			 bh_supervisor **out)
{
	static const bh_supervisor_ops no_ops;
	const char *env;
	bh_supervisor *sup;
	int r = 0;

	if (!loop || !reg || (!specs && n_specs))
		return -EINVAL;
	for (size_t i = 0; i < n_specs; i++) {
		if (!specs[i].name || !specs[i].entry || !specs[i].profile) {
			bh__log(loop, BH_LOG_ERROR, "supervisor: worker spec #%zu (%s) needs a name, an entry point and a profile",
				i, specs[i].name ? specs[i].name : "unnamed");
			return -EINVAL;
		}
		for (size_t j = 0; j < i; j++) {
			if (!strcmp(specs[i].name, specs[j].name)) {
				bh__log(loop, BH_LOG_ERROR, "supervisor: two worker specs are named '%s'",
					specs[i].name);
				return -EINVAL;
			}
		}
	}
	env = getenv(ZYGOTE_ENV);
	if (env)
		exec_zygote_main(env, specs, n_specs, reg); /* never returns */
	sup = calloc(1, sizeof *sup);
	if (!sup)
		return -ENOMEM;
	sup->loop = loop;
	sup->reg = reg;
	sup->specs = specs;
	sup->n_specs = n_specs;
	sup->ops = ops ? ops : &no_ops;
	sup->userdata = userdata;
	sup->zygote_pidfd = -1;
	sup->next_id = 1;
	sup->files = calloc(n_specs ? n_specs : 1, sizeof *sup->files);
	if (!sup->files) {
		r = -ENOMEM;
		goto fail;
	}
	r = bh_quota_create(NULL, &sup->quota);
	for (size_t i = 0; i < n_specs && r == 0; i++) {
		if (specs[i].n_files)
			r = bh_file_broker_create(specs[i].files, specs[i].n_files, &sup->files[i]);
		if (r == 0 && specs[i].shm_quota_bytes) {
			bh_quota_limits lim = { specs[i].shm_quota_bytes,
						dflt(specs[i].shm_quota_regions, 16) };

			r = bh_quota_set_type_limits(sup->quota, specs[i].name, &lim);
		}
	}
	if (r < 0)
		goto fail;
	/* Last: the zygote must be a copy of the broker before it holds anything else. */
	r = start_zygote(sup);
	if (r < 0)
		goto fail;
	*out = sup;
	return 0;
fail:
	for (size_t i = 0; sup->files && i < n_specs; i++)
		bh_file_broker_destroy(sup->files[i]);
	free(sup->files);
	bh_quota_destroy(sup->quota);
	free(sup);
	return r;
}

static void worker_free(bh_worker *w)
{
	bh_timer_destroy(w->start_timer);
	bh_timer_destroy(w->watchdog);
	bh_timer_destroy(w->restart_timer);
	bh_timer_destroy(w->stop_timer);
	free(w->restart_times);
	free(w);
}

/* Drops everything of the current incarnation (channel, fds, timers). */
static void worker_detach(bh_worker *w)
{
	bh_channel_destroy(w->ch);
	w->ch = NULL;
	bh_watch_remove(w->pid_watch);
	w->pid_watch = NULL;
	w->pidfd = bh__close(w->pidfd);
	w->report_fd = bh__close(w->report_fd);
	bh_timer_disarm(w->start_timer);
	bh_timer_disarm(w->watchdog);
	bh_timer_disarm(w->stop_timer);
}

/*
 * pidfd_send_signal(), or kill() where the kernel or a tool (valgrind up
 * to 3.19) lacks it. kill() is as safe here: every pidfd the supervisor
 * holds is of its own child (the zygote, or a worker it cloned with
 * CLONE_PARENT), not reaped yet (reaping closes the pidfd), so the pid
 * cannot have been reused.
 */
static int signal_pidfd(int pidfd, pid_t pid, int sig)
{
	if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) == 0)
		return 0;
	if (errno != ENOSYS || pid <= 0)
		return -errno;
	return kill(pid, sig) < 0 ? -errno : 0;
}

/* SIGKILL and reap synchronously: only for destroy, where blocking is the point. */
static void kill_and_reap(pid_t pid, int pidfd)
{
	siginfo_t si;

	if (pid <= 0)
		return;
	if (pidfd >= 0)
		(void)signal_pidfd(pidfd, pid, SIGKILL);
	else
		(void)kill(pid, SIGKILL);
	while (waitid(P_PID, (id_t)pid, &si, WEXITED) < 0 && errno == EINTR)
		;
}

void bh_supervisor_destroy(bh_supervisor *sup)
{
	if (!sup)
		return;
	while (sup->workers) {
		bh_worker *w = sup->workers;

		sup->workers = w->next;
		if (w->pid > 0 && w->pidfd >= 0)
			kill_and_reap(w->pid, w->pidfd);
		worker_detach(w);
		worker_free(w);
	}
	bh_channel_destroy(sup->zygote);
	kill_and_reap(sup->zygote_pid, sup->zygote_pidfd);
	bh__close(sup->zygote_pidfd);
	for (size_t i = 0; i < sup->n_specs; i++)
		bh_file_broker_destroy(sup->files[i]);
	free(sup->files);
	bh_quota_destroy(sup->quota);
	free(sup);
}

pid_t bh_supervisor_zygote_pid(const bh_supervisor *sup)
{
	return sup->zygote_pid;
}

bh_worker *bh_supervisor_next(const bh_supervisor *sup, const bh_worker *prev)
{
	return prev ? prev->next : sup->workers;
}

/* ---- accessors ------------------------------------------------------------------ */

bh_channel *bh_worker_channel(const bh_worker *w)
{
	return w->state == W_READY ? w->ch : NULL;
}

uint32_t bh_worker_id(const bh_worker *w)
{
	return w->id;
}

const char *bh_worker_type(const bh_worker *w)
{
	return w->spec->name;
}

void *bh_worker_userdata(const bh_worker *w)
{
	return w->userdata;
}

void bh_worker_set_userdata(bh_worker *w, void *userdata)
{
	w->userdata = userdata;
}

pid_t bh_worker_pid(const bh_worker *w)
{
	return w->state == W_STARTING || w->state == W_READY ? w->pid : 0;
}

int bh_worker_is_ready(const bh_worker *w)
{
	return w->state == W_READY && !w->stopping;
}

int bh_worker_failed(const bh_worker *w)
{
	return w->state == W_FAILED;
}

unsigned bh_worker_restarts(const bh_worker *w)
{
	return w->restarts;
}

const bh_exit_info *bh_worker_last_exit(const bh_worker *w)
{
	return w->have_exit ? &w->last_exit : NULL;
}

const bh_sandbox_status *bh_worker_sandbox_status(const bh_worker *w)
{
	return w->have_sandbox ? &w->sandbox : NULL;
}

int bh_worker_send(bh_worker *w, uint32_t type, const ProtobufCMessage *body, const int *fds,
		   unsigned nfds)
{
	if (w->state != W_READY || !w->ch)
		return -ENOTCONN;
	return bh_channel_send(w->ch, type, body, fds, nfds);
}

/* ---- messages from the worker -------------------------------------------------- */

static int type_allowed(const bh_worker *w, uint32_t type)
{
	for (size_t i = 0; i < w->spec->n_send_types; i++)
		if (w->spec->send_types[i] == type)
			return 1;
	return 0;
}

static void welcome(bh_worker *w, uint32_t req)
{
	Bh__Welcome wl = BH__WELCOME__INIT;

	wl.protocol_version = BH_PROTOCOL_VERSION;
	wl.worker_id = w->id;
	wl.heartbeat_ms = w->spec->heartbeat_ms;
	if (bh_channel_reply_id(w->ch, req, BH_MSG_WELCOME, &wl.base, NULL, 0) < 0) {
		worker_kill(w, BH_EXIT_SETUP_FAILED, 0, "cannot answer its Hello");
		return;
	}
	/* Credentials were needed for the Hello only. */
	(void)bh_channel_set_passcred(w->ch, 0);
	w->state = W_READY;
	w->hello_req = 0;
	bh_timer_disarm(w->start_timer);
	w->last_beat_ns = bh_now_ns();
	if (w->spec->heartbeat_ms)
		(void)bh_timer_arm(w->watchdog, w->spec->heartbeat_ms, w->spec->heartbeat_ms);
	if (w->sup->ops->on_ready)
		w->sup->ops->on_ready(w, w->sup->userdata);
}

static void handle_hello(bh_worker *w, bh_msg *m)
{
	pid_t sender;
	int r;

	if (w->state != W_STARTING && w->state != W_SPAWNING) {
		bh_channel_bad_message(w->ch, "second Hello");
		return;
	}
	if (bh_msg_sender(m, &sender, NULL, NULL) < 0) {
		bh_channel_bad_message(w->ch, "Hello without credentials");
		return;
	}
	/* Until the zygote answers, the kernel's pid is checked against itself, and later against the real one. */
	r = bh_hello_verify(w->ch, m, w->state == W_STARTING ? w->pid : sender, w->spec->name, w->id,
			    w->token);
	if (r < 0) {
		bh_channel_reply_error(w->ch, m, -r, "hello refused");
		worker_kill(w, BH_EXIT_SETUP_FAILED, 0, "Hello refused: %s", strerror(-r));
		return;
	}
	if (w->state == W_SPAWNING) {
		w->hello_req = bh_msg_request_id(m);
		w->hello_pid = sender;
		return;
	}
	welcome(w, bh_msg_request_id(m));
}

static void handle_sandbox_status(bh_worker *w, bh_msg *m)
{
	bh_sandbox_status st;

	if (bh_sandbox_status_from_pb((const Bh__SandboxStatus *)bh_msg_body(m), &st) < 0) {
		bh_channel_bad_message(w->ch, "malformed SandboxStatus");
		return;
	}
	w->sandbox = st;
	w->have_sandbox = 1;
	if (w->sup->ops->on_sandbox_status)
		w->sup->ops->on_sandbox_status(w, w->sup->userdata);
}

static void handle_file_open(bh_worker *w, bh_msg *m)
{
	const Bh__FileOpen *req = (const Bh__FileOpen *)bh_msg_body(m);
	bh_file_broker *fb = w->sup->files[w->spec_index];
	Bh__FileOpened ok = BH__FILE_OPENED__INIT;
	struct stat st;
	int fd;

	if (!(bh_msg_flags(m) & BH_FLAG_REQUEST)) {
		bh_channel_bad_message(w->ch, "FileOpen is a request");
		return;
	}
	fd = fb ? bh_file_broker_open(fb, req->path.data, req->path.len) : -EACCES;
	if (fd < 0) {
		bh__log(w->sup->loop, BH_LOG_INFO, "worker %s#%u: file request refused: %s",
			w->spec->name, w->id, strerror(-fd));
		bh_channel_reply_error(w->ch, m, -fd, "file request refused");
		return;
	}
	if (fstat(fd, &st) == 0)
		ok.size = (uint64_t)st.st_size;
	if (bh_channel_reply(w->ch, m, BH_MSG_FILE_OPENED, &ok.base, &fd, 1) < 0)
		bh__log(w->sup->loop, BH_LOG_WARN, "worker %s#%u: cannot send the opened file",
			w->spec->name, w->id);
	bh__close(fd);
}

static void worker_message(bh_channel *ch, bh_msg *m, void *ud)
{
	bh_worker *w = ud;
	uint32_t type = bh_msg_type(m);

	if (type == BH_MSG_HELLO) {
		handle_hello(w, m);
		return;
	}
	if (w->state != W_READY) {
		bh_channel_bad_message(ch, "message before Hello");
		return;
	}
	switch (type) {
	case BH_MSG_HEARTBEAT:
		w->last_beat_ns = bh_now_ns();
		return;
	case BH_MSG_SANDBOX_STATUS:
		handle_sandbox_status(w, m);
		return;
	case BH_MSG_CRASH_REPORT: {
		const Bh__CrashReport *cr = (const Bh__CrashReport *)bh_msg_body(m);

		if (cr->signal > 0 && cr->signal < 65)
			w->crash_signal = cr->signal;
		w->fault_addr = cr->fault_addr;
		return;
	}
	case BH_MSG_SETUP_FAILED: {
		const Bh__SetupFailed *sf = (const Bh__SetupFailed *)bh_msg_body(m);

		snprintf(w->setup_failed, sizeof w->setup_failed, "%.40s: %.100s", sf->layer, sf->text);
		return;
	}
	case BH_MSG_FILE_OPEN:
		handle_file_open(w, m);
		return;
	case BH_MSG_SHM_ALLOC:
		if (!w->spec->shm_quota_bytes) {
			bh_channel_reply_error(ch, m, EDQUOT, "no shared memory for this worker type");
			return;
		}
		if (bh_quota_handle_alloc(w->sup->quota, ch, m, w->id, w->spec->name) == -EBADMSG)
			bh_channel_bad_message(ch, "malformed ShmAlloc");
		return;
	default:
		break;
	}
	if (!type_allowed(w, type)) {
		char why[96];

		snprintf(why, sizeof why, "message type %u is not one %s may send", type, w->spec->name);
		bh_channel_bad_message(ch, why);
		return;
	}
	if (w->sup->ops->on_message)
		w->sup->ops->on_message(w, m, w->sup->userdata);
}

static void worker_bad(bh_channel *ch, int reason, const char *detail, void *ud)
{
	bh_worker *w = ud;

	worker_kill(w, BH_EXIT_BAD_MESSAGE, reason, "bad message: %s%s%s", bh_bad_reason_name(reason),
		    detail ? ": " : "", detail ? detail : "");
}

static void worker_closed(bh_channel *ch, int err, void *ud)
{
	/* The pidfd tells when it is really gone; nothing to do until then. */
}

static const bh_channel_ops worker_ops = {
	.on_message = worker_message,
	.on_bad_message = worker_bad,
	.on_close = worker_closed,
};

void bh_worker_bad_message(bh_worker *w, const char *detail)
{
	if (w->ch)
		bh_channel_bad_message(w->ch, detail);
}

/* ---- killing ----------------------------------------------------------------- */

static void worker_kill(bh_worker *w, bh_exit_kind why, int bad_reason, const char *fmt, ...)
{
	va_list ap;

	/* The first reason wins: a hung worker that then sends garbage is still "hung". */
	if (!w->kill_kind) {
		w->kill_kind = why;
		w->kill_bad_reason = bad_reason;
		va_start(ap, fmt);
		vsnprintf(w->kill_detail, sizeof w->kill_detail, fmt, ap);
		va_end(ap);
	}
	if (w->ch)
		bh_channel_close(w->ch);
	if (w->pidfd >= 0)
		(void)signal_pidfd(w->pidfd, w->pid, SIGKILL);
	/* Still spawning: the kill happens when the zygote tells us the pid. */
}

void bh_worker_hung(bh_worker *w, const char *detail)
{
	if (w->pidfd >= 0)
		worker_kill(w, BH_EXIT_HUNG, 0, "%s", detail ? detail : "hung");
}

int bh_worker_kill(bh_worker *w, int sig)
{
	if (w->pidfd < 0)
		return -ESRCH;
	return signal_pidfd(w->pidfd, w->pid, sig);
}

static void on_start_timeout(bh_timer *t, void *ud)
{
	bh_worker *w = ud;

	worker_kill(w, BH_EXIT_SETUP_FAILED, 0, "no Hello within %u ms", dflt(w->spec->start_timeout_ms, 5000));
}

static void on_watchdog(bh_timer *t, void *ud)
{
	bh_worker *w = ud;
	uint64_t limit = (uint64_t)dflt(w->spec->hang_timeout_ms, 3 * w->spec->heartbeat_ms) * 1000000ull;

	if (w->state != W_READY || bh_now_ns() - w->last_beat_ns <= limit)
		return;
	bh_timer_disarm(t);
	bh__log(w->sup->loop, BH_LOG_WARN, "worker %s#%u (pid %d): no heartbeat for %u ms, killing it",
		w->spec->name, w->id, (int)w->pid, (unsigned)(limit / 1000000ull));
	worker_kill(w, BH_EXIT_HUNG, 0, "no heartbeat for %u ms", (unsigned)(limit / 1000000ull));
}

/* ---- spawning ------------------------------------------------------------------ */

static void on_pidfd(bh_watch *watch, int fd, uint32_t events, void *ud)
{
	bh_worker *w = ud;
	siginfo_t si;

	memset(&si, 0, sizeof si);
	while (waitid((idtype_t)P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG) < 0) {
		if (errno == EINTR)
			continue;
		bh__log(w->sup->loop, BH_LOG_ERROR, "supervisor: waitid(pidfd) failed: %s", strerror(errno));
		si.si_code = CLD_KILLED;
		si.si_status = SIGKILL;
		break;
	}
	if (si.si_pid == 0 && si.si_code == 0)
		return; /* not yet: a spurious wake-up */
	worker_exited(w, &si);
}

static void spawned(bh_channel *ch, int status, bh_msg *reply, void *ud);

struct spawn_cookie {
	bh_worker *w;
	uint64_t gen;
};

static void spawn_failed(bh_worker *w, int err, const char *what)
{
	siginfo_t si;

	memset(&si, 0, sizeof si);
	snprintf(w->setup_failed, sizeof w->setup_failed, "%.100s (%s)", what, strerror(err > 0 ? err : -err));
	si.si_code = CLD_EXITED;
	si.si_status = BH_SANDBOX_EXIT_SETUP;
	worker_exited(w, &si);
}

static void worker_spawn(bh_worker *w)
{
	bh_supervisor *sup = w->sup;
	Bh__ZygoteSpawn req = BH__ZYGOTE_SPAWN__INIT;
	int cv[2] = { -1, -1 }, rp[2] = { -1, -1 }, fds[2], r;
	struct spawn_cookie *cookie;

	w->kill_kind = 0;
	w->kill_detail[0] = '\0';
	w->crash_signal = 0;
	w->fault_addr = 0;
	w->setup_failed[0] = '\0';
	w->have_sandbox = 0;
	w->hello_req = 0;
	w->pid = 0;
	w->state = W_SPAWNING;
	w->spawn_gen = ++sup->gen;
	w->started_ns = bh_now_ns();

	r = bh_token_generate(w->token);
	if (r == 0)
		r = bh_channel_socketpair(cv);
	if (r == 0 && pipe2(rp, O_CLOEXEC | O_NONBLOCK) < 0)
		r = -errno;
	if (r < 0)
		goto fail;
	w->report_fd = rp[0];
	rp[0] = -1;
	r = bh_channel_create(sup->loop, sup->reg, cv[0], &worker_ops, w, NULL, &w->ch);
	cv[0] = -1;
	if (r < 0)
		goto fail;
	cookie = malloc(sizeof *cookie);
	if (!cookie) {
		r = -ENOMEM;
		goto fail;
	}
	cookie->w = w;
	cookie->gen = w->spawn_gen;
	req.spec_index = (uint32_t)w->spec_index;
	req.worker_id = w->id;
	req.token.data = w->token;
	req.token.len = BH_TOKEN_SIZE;
	fds[0] = cv[1];
	fds[1] = rp[1];
	r = sup->zygote ? bh_channel_call(sup->zygote, BH_MSG_ZYGOTE_SPAWN, &req.base, fds, 2, 10000,
					  spawned, cookie)
			: -EPIPE;
	if (r < 0) {
		free(cookie);
		goto fail;
	}
	bh__close(cv[1]);
	bh__close(rp[1]);
	(void)bh_timer_arm(w->start_timer, dflt(w->spec->start_timeout_ms, 5000), 0);
	return;
fail:
	bh__close(cv[0]);
	bh__close(cv[1]);
	bh__close(rp[0]);
	bh__close(rp[1]);
	spawn_failed(w, r, "spawn");
}

static void spawned(bh_channel *ch, int status, bh_msg *reply, void *ud)
{
	struct spawn_cookie cookie = *(struct spawn_cookie *)ud;
	bh_worker *w = cookie.w;
	const Bh__ZygoteSpawned *sp;
	int pidfd, r;

	free(ud);
	if (status == -ECANCELED || w->spawn_gen != cookie.gen || w->state != W_SPAWNING) {
		bh__log(w->sup->loop, BH_LOG_DEBUG, "worker %s#%u: stale spawn reply (%d)", w->spec->name,
			w->id, status);
		return; /* the supervisor is going away, or this spawn was abandoned */
	}
	if (status < 0) {
		/* The zygote's Error names the layer that could not be set up. */
		const char *why = reply && bh_msg_type(reply) == BH_MSG_ERROR ?
					  ((const Bh__Error *)bh_msg_body(reply))->text : NULL;

		spawn_failed(w, status, why && why[0] ? why : "zygote");
		return;
	}
	sp = (const Bh__ZygoteSpawned *)bh_msg_body(reply);
	pidfd = bh_msg_take_fd(reply, 0);
	w->pid = (pid_t)sp->pid;
	w->pidfd = pidfd;
	r = bh_loop_add_fd(w->sup->loop, pidfd, BH_EV_IN, on_pidfd, w, &w->pid_watch);
	if (r < 0) {
		/* Without a watch we would never reap it: kill and reap now. */
		kill_and_reap(w->pid, pidfd);
		w->pidfd = bh__close(pidfd);
		spawn_failed(w, r, "watching the worker");
		return;
	}
	w->state = W_STARTING;
	bh__log(w->sup->loop, BH_LOG_DEBUG, "worker %s#%u: spawned as pid %d", w->spec->name, w->id,
		(int)w->pid);
	if (w->kill_kind) {
		/* Killed (or stopped) while it was being spawned. */
		(void)signal_pidfd(w->pidfd, w->pid, SIGKILL);
		return;
	}
	if (w->hello_req) {
		if (w->hello_pid != w->pid) {
			worker_kill(w, BH_EXIT_SETUP_FAILED, 0, "Hello came from pid %d, not %d",
				    (int)w->hello_pid, (int)w->pid);
			return;
		}
		welcome(w, w->hello_req);
	}
}

/* ---- exits, classification, restart -------------------------------------------- */

static void read_report(bh_worker *w, bh_exit_info *info)
{
	bh_sandbox_record viol, fail;
	int n;

	if (w->report_fd < 0)
		return;
	memset(&viol, 0, sizeof viol);
	memset(&fail, 0, sizeof fail);
	n = bh_sandbox_records_drain(w->report_fd, &viol, &fail);
	if (n <= 0)
		return;
	if (viol.kind == BH_RECORD_VIOLATION) {
		info->syscall_nr = viol.violation.nr;
		snprintf(info->syscall, sizeof info->syscall, "%s", viol.violation.name);
	}
	if (fail.kind == BH_RECORD_SETUP_FAILED && !w->setup_failed[0])
		snprintf(w->setup_failed, sizeof w->setup_failed, "%s: %s",
			 bh_sandbox_layer_name(fail.failure.layer), fail.failure.text);
}

static int is_crash_signal(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGABRT ||
	       sig == SIGTRAP || sig == SIGSYS;
}

static void classify(bh_worker *w, const siginfo_t *si, bh_exit_info *info)
{
	int sig = 0;

	memset(info, 0, sizeof *info);
	info->syscall_nr = -1;
	info->pid = w->pid;
	info->uptime_ms = (bh_now_ns() - w->started_ns) / 1000000ull;
	info->fault_addr = w->fault_addr;
	read_report(w, info);
	if (si->si_code == CLD_EXITED) {
		info->status = si->si_status;
	} else {
		sig = si->si_status;
		info->signal = sig;
	}

	if (w->kill_kind) {
		/* The broker's own reason comes first: it knows why it pulled the trigger. */
		info->kind = w->kill_kind;
		info->bad_reason = w->kill_bad_reason;
		snprintf(info->detail, sizeof info->detail, "%s", w->kill_detail);
		if (w->kill_kind == BH_EXIT_STOPPED && sig == 0)
			info->status = si->si_status;
		return;
	}
	/*
	 * The report fd is written by the worker, so a record alone proves
	 * nothing: only a death by SIGSYS, which the filter forces, makes it a
	 * sandbox kill. (A worker dying by SIGSYS cannot have forged one either:
	 * its own handler is gone once the filter has fired.)
	 */
	if (info->syscall_nr >= 0 && !(si->si_code != CLD_EXITED && info->signal == SIGSYS)) {
		info->syscall_nr = -1;
		info->syscall[0] = '\0';
	}
	if (info->syscall_nr >= 0) {
		info->kind = BH_EXIT_SANDBOX;
		snprintf(info->detail, sizeof info->detail, "killed by the sandbox for calling %s (%d)",
			 info->syscall[0] ? info->syscall : "?", info->syscall_nr);
		return;
	}
	if (si->si_code == CLD_EXITED) {
		if (info->status == 0) {
			info->kind = BH_EXIT_CLEAN;
			snprintf(info->detail, sizeof info->detail, "exited normally");
		} else if (info->status == BH_SANDBOX_EXIT_SETUP) {
			info->kind = BH_EXIT_SETUP_FAILED;
			snprintf(info->detail, sizeof info->detail, "%.150s",
				 w->setup_failed[0] ? w->setup_failed : "no reason given");
		} else if (info->status == BH_WORKER_EXIT_OOM) {
			info->kind = BH_EXIT_RESOURCE;
			snprintf(info->detail, sizeof info->detail, "out of memory");
		} else {
			info->kind = BH_EXIT_CODE;
			snprintf(info->detail, sizeof info->detail, "exited with status %d", info->status);
		}
		return;
	}
	/*
	 * A worker that is pid 1 of its namespace cannot re-raise a signal on
	 * itself; its crash handler reports the real one and dies by a forced
	 * fault, so the report wins over the wait status.
	 */
	if (w->crash_signal && is_crash_signal(sig))
		sig = info->signal = w->crash_signal;
	if (sig == SIGXCPU || sig == SIGXFSZ) {
		info->kind = BH_EXIT_RESOURCE;
		snprintf(info->detail, sizeof info->detail, "over its %s limit (%s)",
			 sig == SIGXCPU ? "CPU time" : "file size", sigabbrev_np(sig));
	} else if (sig == SIGKILL) {
		/* Not sent by the broker: the OOM killer, or someone outside. */
		info->kind = BH_EXIT_CRASH;
		snprintf(info->detail, sizeof info->detail, "killed by SIGKILL from outside (out of memory?)");
	} else {
		info->kind = BH_EXIT_CRASH;
		if (info->fault_addr)
			snprintf(info->detail, sizeof info->detail, "crashed with SIG%s at 0x%llx",
				 sigabbrev_np(sig) ? sigabbrev_np(sig) : "?",
				 (unsigned long long)info->fault_addr);
		else
			snprintf(info->detail, sizeof info->detail, "crashed with SIG%s",
				 sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
	}
}

static int should_restart(const bh_worker *w, const bh_exit_info *info)
{
	if (w->stopping || w->sup->shutting_down || info->kind == BH_EXIT_STOPPED)
		return 0;
	switch (w->spec->restart) {
	case BH_RESTART_ALWAYS:
		return 1;
	case BH_RESTART_ON_CRASH:
		return info->kind != BH_EXIT_CLEAN;
	default:
		return 0;
	}
}

/* Records a restart; returns 1 if the crash-loop limit is now exceeded. */
static int crash_loop(bh_worker *w)
{
	unsigned limit = dflt(w->spec->crash_limit, 5);
	uint64_t period = (uint64_t)dflt(w->spec->crash_period_ms, 30000) * 1000000ull;
	uint64_t now = bh_now_ns(), oldest;

	if (!w->restart_times) {
		w->restart_times = calloc(limit, sizeof *w->restart_times);
		if (!w->restart_times)
			return 0;
	}
	/* The ring holds the last `limit` restarts; the one about to be overwritten is the oldest. */
	oldest = w->restart_times[w->restart_pos];
	if (oldest && now - oldest < period)
		return 1;
	w->restart_times[w->restart_pos] = now;
	w->restart_pos = (w->restart_pos + 1) % limit;
	return 0;
}

static unsigned next_backoff(bh_worker *w, uint64_t uptime_ms)
{
	unsigned initial = dflt(w->spec->backoff_initial_ms, 100);
	unsigned max = dflt(w->spec->backoff_max_ms, 10000);
	unsigned jitter = w->spec->backoff_jitter_pct ? w->spec->backoff_jitter_pct : 20;
	unsigned delay, rnd = 0;

	/* A worker that ran for a while earns an immediate restart again. */
	if (uptime_ms > max)
		w->backoff_ms = 0;
	delay = w->backoff_ms;
	w->backoff_ms = w->backoff_ms ? BH_MIN(w->backoff_ms * 2, max) : initial;
	if (delay && jitter <= 100 && getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) == sizeof rnd) {
		int64_t span = (int64_t)delay * jitter / 100;

		delay = (unsigned)((int64_t)delay - span + (int64_t)(rnd % (unsigned)(2 * span + 1)));
	}
	return delay;
}

static void on_restart_timer(bh_timer *t, void *ud)
{
	bh_worker *w = ud;

	if (w->state == W_WAITING)
		worker_spawn(w);
}

static void check_shutdown_done(bh_supervisor *sup)
{
	void (*done)(bh_supervisor *, void *);

	if (!sup->shutting_down || !sup->shutdown_done)
		return;
	for (bh_worker *w = sup->workers; w; w = w->next)
		if (w->state == W_SPAWNING || w->state == W_STARTING || w->state == W_READY)
			return;
	done = sup->shutdown_done;
	sup->shutdown_done = NULL;
	done(sup, sup->shutdown_ud);
}

static void worker_exited(bh_worker *w, const siginfo_t *si)
{
	bh_supervisor *sup = w->sup;
	bh_exit_info info;
	int restart, failed = 0;
	unsigned delay = 0;

	/* Its last messages first: a CrashReport tells the signal a trap stands in for. */
	if (w->ch)
		bh__channel_read_now(w->ch);
	classify(w, si, &info);
	worker_detach(w);
	bh_quota_forget_worker(sup->quota, w->id);
	restart = should_restart(w, &info);
	if (restart && crash_loop(w)) {
		restart = 0;
		failed = 1;
	}
	info.restarts = w->restarts;
	w->last_exit = info;
	w->have_exit = 1;
	bh__log(sup->loop, info.kind == BH_EXIT_CLEAN || info.kind == BH_EXIT_STOPPED ? BH_LOG_INFO : BH_LOG_WARN,
		"worker %s#%u pid %d: %s: %s (restarts %u)%s", w->spec->name, w->id, (int)info.pid,
		bh_exit_kind_name(info.kind), info.detail, w->restarts,
		failed ? "; crash loop: giving up" : restart ? "; restarting" : "");
	if (restart) {
		delay = next_backoff(w, info.uptime_ms);
		w->restarts++;
		w->state = W_WAITING;
	} else {
		w->state = failed ? W_FAILED : W_STOPPED;
	}
	w->stopping = 0;
	w->pid = 0;
	if (sup->ops->on_exit)
		sup->ops->on_exit(w, &info, restart, sup->userdata);
	if (failed && sup->ops->on_failed)
		sup->ops->on_failed(w, &info, sup->userdata);
	if (restart && w->state == W_WAITING) {
		if (delay == 0)
			worker_spawn(w);
		else
			(void)bh_timer_arm(w->restart_timer, delay, 0);
	}
	check_shutdown_done(sup);
}

/* ---- starting and stopping ------------------------------------------------------- */

/* A new worker record of spec `type` in state IDLE, linked into the supervisor's list. */
static int worker_new(bh_supervisor *sup, const char *type, void *userdata, bh_worker **out)
{
	bh_worker *w;
	size_t i;
	int r;

	for (i = 0; i < sup->n_specs; i++)
		if (!strcmp(sup->specs[i].name, type))
			break;
	if (i == sup->n_specs)
		return -ENOENT;
	if (sup->shutting_down)
		return -ESHUTDOWN;
	w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	w->sup = sup;
	w->spec_index = i;
	w->spec = &sup->specs[i];
	w->id = sup->next_id++;
	w->userdata = userdata;
	w->pidfd = -1;
	w->report_fd = -1;
	r = bh_timer_create(sup->loop, on_start_timeout, w, &w->start_timer);
	if (r == 0)
		r = bh_timer_create(sup->loop, on_watchdog, w, &w->watchdog);
	if (r == 0)
		r = bh_timer_create(sup->loop, on_restart_timer, w, &w->restart_timer);
	if (r < 0) {
		worker_free(w);
		return r;
	}
	w->next = sup->workers;
	sup->workers = w;
	*out = w;
	return 0;
}

int bh_worker_start(bh_supervisor *sup, const char *type, void *userdata, bh_worker **out)
{
	bh_worker *w;
	int r;

	r = worker_new(sup, type, userdata, &w);
	if (r < 0)
		return r;
	worker_spawn(w);
	if (out)
		*out = w;
	return 0;
}

static void on_stop_timer(bh_timer *t, void *ud)
{
	bh_worker *w = ud;

	if (w->pidfd < 0)
		return;
	/* Each step gives the worker one grace period more, then escalates. */
	w->stop_step++;
	(void)signal_pidfd(w->pidfd, w->pid, w->stop_step == 1 ? SIGTERM : SIGKILL);
	if (w->stop_step == 1)
		(void)bh_timer_arm(t, dflt(w->spec->shutdown_grace_ms, 1000), 0);
}

int bh_worker_stop(bh_worker *w)
{
	Bh__Shutdown sd = BH__SHUTDOWN__INIT;
	unsigned grace = dflt(w->spec->shutdown_grace_ms, 1000);
	int r;

	if (w->state == W_WAITING) {
		bh_timer_disarm(w->restart_timer);
		w->state = W_STOPPED;
		check_shutdown_done(w->sup);
		return 0;
	}
	if (w->state != W_SPAWNING && w->state != W_STARTING && w->state != W_READY)
		return -ESRCH;
	if (w->stopping)
		return 0;
	w->stopping = 1;
	w->stop_step = 0;
	if (!w->kill_kind) {
		w->kill_kind = BH_EXIT_STOPPED;
		snprintf(w->kill_detail, sizeof w->kill_detail, "stopped on request");
	}
	if (!w->stop_timer) {
		r = bh_timer_create(w->sup->loop, on_stop_timer, w, &w->stop_timer);
		if (r < 0) {
			worker_kill(w, BH_EXIT_STOPPED, 0, "stopped on request");
			return 0;
		}
	}
	if (w->state == W_READY) {
		sd.grace_ms = grace;
		if (bh_channel_send(w->ch, BH_MSG_SHUTDOWN, &sd.base, NULL, 0) < 0)
			w->stop_step = 1; /* cannot ask nicely: go straight to SIGTERM next */
	}
	(void)bh_timer_arm(w->stop_timer, grace, 0);
	return 0;
}

int bh_worker_restart(bh_worker *w)
{
	if (w->state != W_STOPPED && w->state != W_FAILED)
		return -EBUSY;
	w->restarts = 0;
	w->backoff_ms = 0;
	free(w->restart_times);
	w->restart_times = NULL;
	w->restart_pos = 0;
	worker_spawn(w);
	return 0;
}

int bh_worker_forget(bh_worker *w)
{
	bh_supervisor *sup = w->sup;

	if (w->state != W_STOPPED && w->state != W_FAILED && w->state != W_IDLE)
		return -EBUSY;
	for (bh_worker **pp = &sup->workers; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	worker_detach(w);
	worker_free(w);
	return 0;
}

int bh_supervisor_shutdown(bh_supervisor *sup, void (*done)(bh_supervisor *, void *), void *userdata)
{
	if (sup->shutting_down)
		return -EALREADY;
	sup->shutting_down = 1;
	sup->shutdown_done = done;
	sup->shutdown_ud = userdata;
	for (bh_worker *w = sup->workers; w; w = w->next)
		(void)bh_worker_stop(w);
	check_shutdown_done(sup);
	return 0;
}

/* ---- workers without a process (fuzz harnesses only) ------------------------------ */

/*
 * Why a fake worker cannot hurt anything: it has no pidfd and no pid watch,
 * and every path that signals or reaps a worker goes through its pidfd
 * (worker_kill, bh_worker_kill, the stop timer) or needs pid > 0 and a
 * pidfd (bh_supervisor_destroy, spawned() is never called for it). Its
 * `pid` is only what the Hello check compares the kernel's sender pid with.
 */
int bh__supervisor_attach_fake(bh_supervisor *sup, const char *type, uint32_t id, int fd,
			       const uint8_t *token, pid_t hello_pid, bh_worker **out)
{
	bh_worker *w;
	int r;

	r = worker_new(sup, type, NULL, &w);
	if (r < 0) {
		bh__close(fd);
		return r;
	}
	if (id)
		w->id = id;
	w->spawn_gen = ++sup->gen;
	w->started_ns = bh_now_ns();
	r = bh_channel_create(sup->loop, sup->reg, fd, &worker_ops, w, NULL, &w->ch);
	if (r < 0) {
		(void)bh_worker_forget(w);
		return r;
	}
	if (token) {
		memcpy(w->token, token, BH_TOKEN_SIZE);
		w->pid = hello_pid;
		w->state = W_STARTING;
	} else {
		/* As welcome() leaves a worker whose Hello was accepted. */
		(void)bh_channel_set_passcred(w->ch, 0);
		w->last_beat_ns = w->started_ns;
		w->state = W_READY;
	}
	*out = w;
	return 0;
}

int bh__supervisor_end_fake(bh_worker *w)
{
	siginfo_t si;

	if (w->pidfd >= 0 || w->pid_watch)
		return -EINVAL;
	if (w->state != W_STARTING && w->state != W_READY)
		return -ESRCH;
	memset(&si, 0, sizeof si);
	if (w->kill_kind) {
		si.si_code = CLD_KILLED;
		si.si_status = SIGKILL;
	} else {
		si.si_code = CLD_EXITED;
	}
	/* There is no process to start again: end it as a worker being stopped. */
	w->stopping = 1;
	worker_exited(w, &si);
	return 0;
}
