/*
 * Supervision with real sandboxed workers: every kind of end classified,
 * restarts by policy, the crash-loop limit, the hang watchdog, bad-message
 * senders, setup failures, graceful stop, the broker's death, a thousand
 * restart cycles without growth, and the zygote keeping the broker's later
 * secrets out of workers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bulkhead/filebroker.h>
#include <bulkhead/supervisor.h>

#include "bulkhead.pb-c.h"
#include "testutil.h"

#define T_PING (BH_MSG_APP_BASE + 1)   /* broker -> worker: Heartbeat{seq} */
#define T_PONG (BH_MSG_APP_BASE + 2)   /* worker -> broker: Heartbeat{seq} */
#define T_EVIL (BH_MSG_APP_BASE + 3)   /* registered, but no worker may send it */

/* Written by the test broker after the supervisor (and its zygote) exist. */
static char secret_buf[64];
static const char secret[] = "the broker's secret: 7f3a9c";

/* ---- worker entry points ---------------------------------------------------- */

/* Writes to a small unmapped address the compiler cannot see through. */
static void fault_at(uintptr_t addr)
{
	volatile uintptr_t a = addr;

	*(volatile int *)a = 1;
}

static void pong(bh_worker_ctx *ctx, bh_msg *m, void *ud)
{
	const Bh__Heartbeat *hb = (const Bh__Heartbeat *)bh_msg_body(m);
	Bh__Heartbeat out = BH__HEARTBEAT__INIT;

	if (bh_msg_type(m) != T_PING)
		return;
	switch (hb->seq) {
	case 1000: /* crash now, while handling a message */
		fault_at(16);
		break;
	case 1001: /* forbidden syscall */
		syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY);
		break;
	case 1002: /* send something no worker may send */
		(void)bh_channel_send(bh_worker_ctx_channel(ctx), T_EVIL, &out.base, NULL, 0);
		return;
	case 1003: /* spin without returning to the loop */
		for (;;)
			__asm__ volatile("" ::: "memory");
	case 1004: /* is the broker's late secret visible here? */
		out.seq = memcmp(secret_buf, secret, sizeof secret) == 0 ? 666 : 1004;
		(void)bh_channel_send(bh_worker_ctx_channel(ctx), T_PONG, &out.base, NULL, 0);
		return;
	case 1005:
		abort();
	case 1006:
		exit(3);
	}
	out.seq = hb->seq;
	(void)bh_channel_send(bh_worker_ctx_channel(ctx), T_PONG, &out.base, NULL, 0);
}

static int echo_main(bh_worker_ctx *ctx, void *arg)
{
	bh_worker_ctx_set_handler(ctx, pong, NULL);
	return bh_worker_ctx_run(ctx);
}

static int segv_main(bh_worker_ctx *ctx, void *arg)
{
	fault_at(32);
	return 0;
}

static int exit3_main(bh_worker_ctx *ctx, void *arg)
{
	return 3;
}

static int clean_main(bh_worker_ctx *ctx, void *arg)
{
	return 0;
}

/* Never looks at its channel again: only SIGTERM (its handler exits) ends it. */
static int deaf_main(bh_worker_ctx *ctx, void *arg)
{
	for (;;)
		(void)poll(NULL, 0, -1);
	return 0;
}

/* Ignores the Shutdown message and blocks SIGTERM: only SIGKILL ends it. */
static int stubborn_main(bh_worker_ctx *ctx, void *arg)
{
	sigset_t term;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, NULL);
	for (;;)
		(void)poll(NULL, 0, -1);
	return 0;
}

/* Allocates until its address-space limit says no, as a worker should handle it. */
static int hog_main(bh_worker_ctx *ctx, void *arg)
{
	for (;;) {
		char *p = malloc(1 << 20);

		if (!p)
			return BH_WORKER_EXIT_OOM;
		memset(p, 1, 1 << 20);
	}
}

/* ---- specs ------------------------------------------------------------------- */

static const uint32_t pong_types[] = { T_PONG };

enum { S_ECHO, S_SEGV, S_EXIT3, S_LOOP, S_CLEAN, S_SETUP, S_CYCLE, S_DEAF, S_STUBBORN, S_HOG, S_COUNT };

static bh_worker_spec specs[S_COUNT];
static bh_profile *tight; /* derived profile that cannot be entered */
static bh_profile *small; /* derived profile with a small address space */

static void make_specs(void)
{
	const bh_profile *renderer;

	assert_int_equal(bh_profile_lookup("renderer", &renderer), 0);
	for (int i = 0; i < S_COUNT; i++) {
		specs[i].profile = renderer;
		specs[i].send_types = pong_types;
		specs[i].n_send_types = 1;
		specs[i].restart = BH_RESTART_NEVER;
		specs[i].heartbeat_ms = 100;
		specs[i].hang_timeout_ms = 400;
	}
	specs[S_ECHO].name = "echo";
	specs[S_ECHO].entry = echo_main;
	specs[S_SEGV].name = "segv";
	specs[S_SEGV].entry = segv_main;
	specs[S_EXIT3].name = "exit3";
	specs[S_EXIT3].entry = exit3_main;
	specs[S_LOOP].name = "crashloop";
	specs[S_LOOP].entry = segv_main;
	specs[S_LOOP].restart = BH_RESTART_ON_CRASH;
	specs[S_LOOP].crash_limit = 3;
	specs[S_LOOP].crash_period_ms = 60000;
	specs[S_LOOP].backoff_initial_ms = 10;
	specs[S_LOOP].backoff_max_ms = 40;
	specs[S_CLEAN].name = "clean";
	specs[S_CLEAN].entry = clean_main;
	specs[S_CLEAN].restart = BH_RESTART_ON_CRASH;
	/* A profile whose fd limit is below what the worker must keep open. */
	assert_int_equal(bh_profile_derive(renderer, "too-tight", &tight), 0);
	assert_int_equal(bh_profile_set_rlimit(tight, RLIMIT_NOFILE, 1), 0);
	specs[S_SETUP].name = "setupfail";
	specs[S_SETUP].entry = echo_main;
	specs[S_SETUP].profile = tight;
	specs[S_CYCLE].name = "cycle";
	specs[S_CYCLE].entry = echo_main;
	specs[S_CYCLE].restart = BH_RESTART_ALWAYS;
	specs[S_CYCLE].crash_limit = 100000;
	specs[S_CYCLE].heartbeat_ms = 0;
	specs[S_DEAF].name = "deaf";
	specs[S_DEAF].entry = deaf_main;
	specs[S_DEAF].heartbeat_ms = 0;
	specs[S_DEAF].shutdown_grace_ms = 100;
	specs[S_STUBBORN].name = "stubborn";
	specs[S_STUBBORN].entry = stubborn_main;
	specs[S_STUBBORN].heartbeat_ms = 0;
	specs[S_STUBBORN].shutdown_grace_ms = 100;
	assert_int_equal(bh_profile_derive(renderer, "small", &small), 0);
	assert_int_equal(bh_profile_set_rlimit(small, RLIMIT_AS, 256u << 20), 0);
	specs[S_HOG].name = "hog";
	specs[S_HOG].entry = hog_main;
	specs[S_HOG].profile = small;
	/* Filling 256 MiB can take longer than a heartbeat on a loaded machine. */
	specs[S_HOG].heartbeat_ms = 0;
	/* Restart at once every time: the test counts cycles, not backoff. */
	specs[S_CYCLE].backoff_initial_ms = 1;
	specs[S_CYCLE].backoff_max_ms = 1;
}

/* ---- a test broker -------------------------------------------------------------- */

struct events {
	int ready, exits, failed, pongs;
	uint64_t last_pong;
	bh_exit_info last;
	int last_restarting;
	int sandbox_reports;
};

static void on_ready(bh_worker *w, void *ud)
{
	((struct events *)ud)->ready++;
}

static void on_message(bh_worker *w, bh_msg *m, void *ud)
{
	struct events *e = ud;

	e->pongs++;
	e->last_pong = ((const Bh__Heartbeat *)bh_msg_body(m))->seq;
}

static void on_exit_cb(bh_worker *w, const bh_exit_info *info, int restarting, void *ud)
{
	struct events *e = ud;

	e->exits++;
	e->last = *info;
	e->last_restarting = restarting;
}

static void on_failed(bh_worker *w, const bh_exit_info *info, void *ud)
{
	((struct events *)ud)->failed++;
}

static void on_sandbox(bh_worker *w, void *ud)
{
	((struct events *)ud)->sandbox_reports++;
}

static const bh_supervisor_ops sup_ops = {
	.on_ready = on_ready,
	.on_message = on_message,
	.on_exit = on_exit_cb,
	.on_failed = on_failed,
	.on_sandbox_status = on_sandbox,
};

struct broker {
	bh_loop *loop;
	bh_registry *reg;
	bh_supervisor *sup;
	struct events ev;
};

static void log_stderr(bh_log_level level, const char *msg, void *ud)
{
	if (getenv("BH_TEST_VERBOSE") || level <= BH_LOG_ERROR)
		fprintf(stderr, "[%s] %s\n", bh_log_level_name(level), msg);
}

/* The broker of the running test, so that a failed assertion still tears it down. */
static struct broker *live_broker;

static void broker_init(struct broker *b)
{
	memset(b, 0, sizeof *b);
	assert_int_equal(bh_loop_create(&b->loop), 0);
	bh_loop_set_logger(b->loop, log_stderr, NULL);
	assert_int_equal(bh_registry_create(&b->reg), 0);
	assert_int_equal(bh_registry_add(b->reg, T_PING, &bh__heartbeat__descriptor, 0), 0);
	assert_int_equal(bh_registry_add(b->reg, T_PONG, &bh__heartbeat__descriptor, 0), 0);
	assert_int_equal(bh_registry_add(b->reg, T_EVIL, &bh__heartbeat__descriptor, 0), 0);
	assert_int_equal(bh_supervisor_create(b->loop, b->reg, specs, S_COUNT, &sup_ops, &b->ev, &b->sup), 0);
	live_broker = b;
}

static void broker_fini(struct broker *b)
{
	live_broker = NULL;
	bh_supervisor_destroy(b->sup);
	bh_registry_destroy(b->reg);
	bh_loop_destroy(b->loop);
}

static void wait_for(struct broker *b, const int *counter, int target, int ms)
{
	uint64_t end = bh_now_ns() + (uint64_t)ms * 1000000ull;

	while (*counter < target && bh_now_ns() < end)
		assert_true(bh_loop_run_once(b->loop, 50) >= 0);
	if (*counter < target)
		fail_msg("waited %d ms for %d events, got %d (last exit: %s: %s)", ms, target, *counter,
			 bh_exit_kind_name(b->ev.last.kind), b->ev.last.detail);
}

static void ping(bh_worker *w, uint64_t seq)
{
	Bh__Heartbeat hb = BH__HEARTBEAT__INIT;

	hb.seq = seq;
	assert_int_equal(bh_worker_send(w, T_PING, &hb.base, NULL, 0), 0);
}

/* Starts one worker of `type`, waits until ready; returns it. */
static bh_worker *start_ready(struct broker *b, const char *type)
{
	bh_worker *w;
	int want = b->ev.ready + 1;

	assert_int_equal(bh_worker_start(b->sup, type, NULL, &w), 0);
	wait_for(b, &b->ev.ready, want, 10000);
	assert_true(bh_worker_is_ready(w));
	assert_true(bh_worker_pid(w) > 0);
	return w;
}

/* ---- tests -------------------------------------------------------------------- */

static void test_ready_ping_and_sandbox_status(void **state)
{
	static struct broker b; /* static: the teardown may need it after a failed assertion */
	bh_worker *w;
	const bh_sandbox_status *st;

	broker_init(&b);
	w = start_ready(&b, "echo");
	ping(w, 7);
	wait_for(&b, &b.ev.pongs, 1, 5000);
	assert_int_equal(b.ev.last_pong, 7);
	wait_for(&b, &b.ev.sandbox_reports, 1, 5000);
	st = bh_worker_sandbox_status(w);
	assert_non_null(st);
	assert_int_equal(st->seccomp_mode, 2);
	assert_true(st->no_new_privs);
	assert_int_equal(st->cap_eff, 0);
	assert_int_equal(bh_worker_start(b.sup, "no-such-type", NULL, &w), -ENOENT);
	broker_fini(&b);
}

static void expect_exit(struct broker *b, bh_worker *w, uint64_t seq, bh_exit_kind kind)
{
	int want = b->ev.exits + 1;

	ping(w, seq);
	wait_for(b, &b->ev.exits, want, 10000);
	if (b->ev.last.kind != kind)
		fail_msg("seq %llu: got %s (%s), want %s", (unsigned long long)seq,
			 bh_exit_kind_name(b->ev.last.kind), b->ev.last.detail, bh_exit_kind_name(kind));
}

static void test_classification(void **state)
{
	static struct broker b; /* static: the teardown may need it after a failed assertion */
	bh_worker *w;

	broker_init(&b);

	w = start_ready(&b, "echo");
	expect_exit(&b, w, 1000, BH_EXIT_CRASH);
	assert_int_equal(b.ev.last.signal, SIGSEGV);
	assert_int_equal(b.ev.last.fault_addr, 16);
	assert_false(b.ev.last_restarting);

	w = start_ready(&b, "echo");
	expect_exit(&b, w, 1005, BH_EXIT_CRASH);
	assert_int_equal(b.ev.last.signal, SIGABRT);

	w = start_ready(&b, "echo");
	expect_exit(&b, w, 1006, BH_EXIT_CODE);
	assert_int_equal(b.ev.last.status, 3);

	w = start_ready(&b, "echo");
	expect_exit(&b, w, 1001, BH_EXIT_SANDBOX);
	assert_string_equal(b.ev.last.syscall, "openat");
	assert_int_equal(b.ev.last.syscall_nr, SYS_openat);

	w = start_ready(&b, "echo");
	expect_exit(&b, w, 1002, BH_EXIT_BAD_MESSAGE);
	assert_int_equal(b.ev.last.bad_reason, BH_BAD_APP);
	assert_non_null(strstr(b.ev.last.detail, "not one echo may send"));

	w = start_ready(&b, "echo");
	expect_exit(&b, w, 1003, BH_EXIT_HUNG);
	assert_int_equal(b.ev.last.signal, SIGKILL);

	/* The whole sequence left no zombie and no fd behind (beyond the zygote's). */
	broker_fini(&b);
	assert_false(bh_test_have_children());
}

static void test_exit_codes_at_start(void **state)
{
	static struct broker b; /* static: the teardown may need it after a failed assertion */
	bh_worker *w;

	broker_init(&b);
	assert_int_equal(bh_worker_start(b.sup, "segv", NULL, &w), 0);
	wait_for(&b, &b.ev.exits, 1, 10000);
	assert_int_equal(b.ev.last.kind, BH_EXIT_CRASH);
	assert_int_equal(b.ev.last.signal, SIGSEGV);
	assert_int_equal(b.ev.ready, 1);

	assert_int_equal(bh_worker_start(b.sup, "exit3", NULL, &w), 0);
	wait_for(&b, &b.ev.exits, 2, 10000);
	assert_int_equal(b.ev.last.kind, BH_EXIT_CODE);
	assert_int_equal(b.ev.last.status, 3);

	/* on-crash policy: a clean exit is not restarted. */
	assert_int_equal(bh_worker_start(b.sup, "clean", NULL, &w), 0);
	wait_for(&b, &b.ev.exits, 3, 10000);
	assert_int_equal(b.ev.last.kind, BH_EXIT_CLEAN);
	assert_false(b.ev.last_restarting);
	assert_int_equal(bh_worker_forget(w), 0);
	broker_fini(&b);
}

static void test_setup_failure_reported(void **state)
{
	static struct broker b; /* static: the teardown may need it after a failed assertion */
	bh_worker *w;

	broker_init(&b);
	assert_int_equal(bh_worker_start(b.sup, "setupfail", NULL, &w), 0);
	wait_for(&b, &b.ev.exits, 1, 10000);
	assert_int_equal(b.ev.last.kind, BH_EXIT_SETUP_FAILED);
	assert_int_equal(b.ev.ready, 0);
	/* The reason says what failed, not just that something did. */
	if (!strstr(b.ev.last.detail, "event loop"))
		fail_msg("setup failure without its reason: %s", b.ev.last.detail);
	broker_fini(&b);
}

static void test_crash_loop_limit(void **state)
{
	static struct broker b; /* static: the teardown may need it after a failed assertion */
	bh_worker *w;

	broker_init(&b);
	assert_int_equal(bh_worker_start(b.sup, "crashloop", NULL, &w), 0);
	wait_for(&b, &b.ev.failed, 1, 20000);
	/* crash_limit 3: three restarts, then the fourth crash ends it for good. */
	assert_int_equal(b.ev.exits, 4);
	assert_int_equal(bh_worker_restarts(w), 3);
	assert_true(bh_worker_failed(w));
	assert_false(b.ev.last_restarting);
	/* Nothing more happens. */
	for (int i = 0; i < 10; i++)
		bh_loop_run_once(b.loop, 20);
	assert_int_equal(b.ev.exits, 4);
	assert_int_equal(bh_worker_pid(w), 0);
	broker_fini(&b);
}

static void test_restart_keeps_identity(void **state)
{
	static struct broker b; /* static: the teardown may need it after a failed assertion */
	bh_worker *w;
	uint32_t id;
	pid_t pid;

	specs[S_ECHO].restart = BH_RESTART_ON_CRASH;
	broker_init(&b);
	w = start_ready(&b, "echo");
	id = bh_worker_id(w);
	pid = bh_worker_pid(w);
	assert_int_equal(bh_worker_kill(w, SIGKILL), 0);
	wait_for(&b, &b.ev.ready, 2, 10000);
	assert_int_equal(bh_worker_id(w), id);
	assert_int_not_equal(bh_worker_pid(w), pid);
	assert_int_equal(bh_worker_restarts(w), 1);
	assert_int_equal(b.ev.last.kind, BH_EXIT_CRASH);
	assert_true(b.ev.last_restarting);
	/* The new incarnation answers. */
	ping(w, 42);
	wait_for(&b, &b.ev.pongs, 1, 5000);
	assert_int_equal(b.ev.last_pong, 42);

	/* Graceful stop: no restart, classified as stopped. */
	assert_int_equal(bh_worker_stop(w), 0);
	wait_for(&b, &b.ev.exits, 2, 10000);
	assert_int_equal(b.ev.last.kind, BH_EXIT_STOPPED);
	assert_false(b.ev.last_restarting);
	specs[S_ECHO].restart = BH_RESTART_NEVER;
	broker_fini(&b);
}

static void test_zygote_hides_late_secrets(void **state)
{
	static struct broker b; /* static: the teardown may need it after a failed assertion */
	bh_worker *w;

	memset(secret_buf, 0, sizeof secret_buf);
	broker_init(&b);
	/* The broker learns a secret after start: no worker may ever see it. */
	memcpy(secret_buf, secret, sizeof secret);
	w = start_ready(&b, "echo");
	ping(w, 1004);
	wait_for(&b, &b.ev.pongs, 1, 5000);
	assert_int_equal(b.ev.last_pong, 1004);
	broker_fini(&b);
	memset(secret_buf, 0, sizeof secret_buf);
}

/* The broker in its own process, killed with SIGKILL: its workers must follow. */
static void doomed_broker(void *arg)
{
	int out = *(int *)arg;
	static struct broker b; /* static: the teardown may need it after a failed assertion */
	pid_t pids[4];

	broker_init(&b);
	for (int i = 0; i < 3; i++)
		pids[i] = bh_worker_pid(start_ready(&b, "echo"));
	pids[3] = bh_supervisor_zygote_pid(b.sup);
	if (write(out, pids, sizeof pids) != sizeof pids)
		_exit(1);
	for (;;)
		bh_loop_run_once(b.loop, -1);
}

static void note_orphan(pid_t pid, int code, int status)
{
	char path[64], comm[64] = "?";
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
	f = fopen(path, "re");
	if (f) {
		if (!fgets(comm, sizeof comm, f))
			snprintf(comm, sizeof comm, "?");
		comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	fprintf(stderr, "reaping %d (%s), %s %d, orphaned onto the test\n", (int)pid, comm,
		code == CLD_EXITED ? "exit status" : "signal", status);
}

static void test_broker_death_kills_workers(void **state)
{
	int p[2], pidfds[4];
	pid_t broker, pids[4];
	uint64_t deadline;

	/* Orphaned workers come to us, so that we can reap them and see them go. */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	broker = bh_test_fork(doomed_broker, &p[1]);
	close(p[1]);
	assert_int_equal(bh_test_read_full(p[0], pids, sizeof pids), 0);
	close(p[0]);
	for (int i = 0; i < 4; i++) {
		pidfds[i] = (int)syscall(SYS_pidfd_open, pids[i], 0);
		assert_true(pidfds[i] >= 0);
	}
	assert_int_equal(kill(broker, SIGKILL), 0);
	deadline = bh_now_ns() + 1000000000ull;
	for (int i = 0; i < 4; i++) {
		struct pollfd pf = { .fd = pidfds[i], .events = POLLIN };
		int64_t left = (int64_t)(deadline - bh_now_ns()) / 1000000;

		/* The bound: every worker is gone within one second. */
		assert_int_equal(poll(&pf, 1, left > 0 ? (int)left : 0), 1);
		close(pidfds[i]);
	}
	/* They were reparented to us (the subreaper): reap exactly them and the broker. */
	for (int i = 0; i < 4; i++)
		while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
			;
	while (waitpid(broker, NULL, 0) < 0 && errno == EINTR)
		;
	/*
	 * Whatever else the broker had forked and not yet reaped (a process
	 * of a spawn in flight, one that just exited) was orphaned onto us
	 * too: it must end as well. Reap until none is left; one still running
	 * after a generous while fails below.
	 */
	deadline = bh_now_ns() + 5000000000ull;
	for (;;) {
		siginfo_t si;

		memset(&si, 0, sizeof si);
		/* Say who it was: the test names what it reaps beyond the workers. */
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid)
			note_orphan(si.si_pid, si.si_code, si.si_status);
		memset(&si, 0, sizeof si);
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG) < 0) {
			assert_int_equal(errno, ECHILD);
			break;
		}
		if (si.si_pid == 0) {
			if (bh_now_ns() > deadline)
				break;
			usleep(10000);
		}
	}
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0), 0);
	assert_false(bh_test_have_children());
}

static int cycle_ready;

static void test_thousand_restarts_no_growth(void **state)
{
	static struct broker b; /* static: the teardown may need it after a failed assertion */
	bh_worker *w;
	int fds0, fds1, n = getenv("BH_TEST_QUICK") ? 100 : 1000;
	struct mallinfo2 m0, m1;

	(void)cycle_ready;
	broker_init(&b);
	w = start_ready(&b, "cycle");
	/* Warm up so that lazily created things exist before the baseline. */
	for (int i = 0; i < 5; i++) {
		int want = b.ev.ready + 1;

		assert_int_equal(bh_worker_kill(w, SIGKILL), 0);
		wait_for(&b, &b.ev.ready, want, 10000);
	}
	fds0 = bh_test_count_fds();
	m0 = mallinfo2();
	for (int i = 0; i < n; i++) {
		int want = b.ev.ready + 1;

		assert_int_equal(bh_worker_kill(w, i % 2 ? SIGKILL : SIGSEGV), 0);
		wait_for(&b, &b.ev.ready, want, 10000);
	}
	fds1 = bh_test_count_fds();
	m1 = mallinfo2();
	assert_int_equal(fds1, fds0);
	if (m0.uordblks)
		assert_true(m1.uordblks < m0.uordblks + 64 * 1024);
	assert_int_equal(bh_worker_restarts(w), (unsigned)n + 5);
	broker_fini(&b);
	assert_false(bh_test_have_children());
}

struct shutdown_seen {
	int done;
	int stopped;
	int killed;
	int termed;
};

static void on_shutdown_exit(bh_worker *w, const bh_exit_info *info, int restarting, void *ud)
{
}

static void shutdown_done(bh_supervisor *sup, void *ud)
{
	((struct shutdown_seen *)ud)->done = 1;
}

static void test_graceful_shutdown_escalates(void **state)
{
	static struct broker b; /* static: the teardown may need it after a failed assertion */
	struct shutdown_seen seen = { 0 };
	bh_worker *w[3];
	const char *types[3] = { "echo", "deaf", "stubborn" };

	(void)on_shutdown_exit;
	broker_init(&b);
	for (int i = 0; i < 3; i++)
		w[i] = start_ready(&b, types[i]);
	assert_int_equal(bh_supervisor_shutdown(b.sup, shutdown_done, &seen), 0);
	assert_int_equal(bh_supervisor_shutdown(b.sup, shutdown_done, &seen), -EALREADY);
	wait_for(&b, &seen.done, 1, 10000);
	for (int i = 0; i < 3; i++) {
		const bh_exit_info *info = bh_worker_last_exit(w[i]);

		assert_non_null(info);
		assert_int_equal(info->kind, BH_EXIT_STOPPED);
		assert_int_equal(bh_worker_pid(w[i]), 0);
	}
	/* The cooperative one left on the Shutdown message, the deaf one on SIGTERM, */
	assert_int_equal(bh_worker_last_exit(w[0])->signal, 0);
	assert_int_equal(bh_worker_last_exit(w[1])->signal, 0);
	/* and the one that blocked SIGTERM had to be killed. */
	assert_int_equal(bh_worker_last_exit(w[2])->signal, SIGKILL);
	assert_int_equal(bh_worker_start(b.sup, "echo", NULL, &w[0]), -ESHUTDOWN);
	broker_fini(&b);
}

static void test_out_of_memory_classified(void **state)
{
	static struct broker b; /* static: the teardown may need it after a failed assertion */
	bh_worker *w;

#if defined(__SANITIZE_ADDRESS__)
	/* The sanitizer runtime reserves terabytes: no address-space limit under ASan. */
	skip();
#endif
	broker_init(&b);
	assert_int_equal(bh_worker_start(b.sup, "hog", NULL, &w), 0);
	wait_for(&b, &b.ev.exits, 1, 20000);
	assert_int_equal(b.ev.last.kind, BH_EXIT_RESOURCE);
	assert_int_equal(b.ev.last.status, BH_WORKER_EXIT_OOM);
	broker_fini(&b);
}

static int teardown_broker(void **state)
{
	if (live_broker)
		broker_fini(live_broker);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_ready_ping_and_sandbox_status, teardown_broker),
		cmocka_unit_test_teardown(test_classification, teardown_broker),
		cmocka_unit_test_teardown(test_exit_codes_at_start, teardown_broker),
		cmocka_unit_test_teardown(test_setup_failure_reported, teardown_broker),
		cmocka_unit_test_teardown(test_crash_loop_limit, teardown_broker),
		cmocka_unit_test_teardown(test_restart_keeps_identity, teardown_broker),
		cmocka_unit_test_teardown(test_graceful_shutdown_escalates, teardown_broker),
		cmocka_unit_test_teardown(test_out_of_memory_classified, teardown_broker),
		cmocka_unit_test_teardown(test_zygote_hides_late_secrets, teardown_broker),
		cmocka_unit_test_teardown(test_broker_death_kills_workers, teardown_broker),
		cmocka_unit_test_teardown(test_thousand_restarts_no_growth, teardown_broker),
	};

	signal(SIGPIPE, SIG_IGN);
	bh_test_deadline(280);
	make_specs();
	return bh_test_run_as_root_and_user("supervisor", tests, sizeof tests / sizeof tests[0]);
}
