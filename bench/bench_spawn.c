/*
 * Sandbox and supervision suites.
 *
 * sandbox: what the sandbox costs, from bh_sandbox_measure(): entering each
 * profile against spawning the process, and the filter's per-syscall and
 * per-round-trip overhead.
 *
 * spawn: spawn-to-ready of a renderer-profile worker through the whole
 * supervisor (zygote clone, namespaces, sandbox, Hello, Welcome) beside a
 * plain fork+exec of /bin/true and `bwrap --unshare-all /bin/true`;
 * crash-to-ready (SIGKILL sent -> the new worker's Hello accepted); the
 * broker's fds and RSS before and after 1 000 restarts.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bulkhead/supervisor.h>

#include "bench/bench.h"

/* ---- sandbox -------------------------------------------------------------- */

int bench_sandbox(struct bench_ctx *ctx)
{
	const char *const *names = bh_profile_builtin_names();
	unsigned iters = ctx->quick ? 10 : 50;
	char name[96], base[96];

	for (size_t i = 0; names[i]; i++) {
		const bh_profile *p;
		bh_sandbox_costs c;
		int r;

		if (bh_profile_lookup(names[i], &p) < 0)
			continue;
		r = bh_sandbox_measure(p, iters, &c);
		if (r < 0) {
			bench_note(ctx, "  (profile %s not measured: %s)", names[i], strerror(-r));
			continue;
		}
		snprintf(name, sizeof name, "sandbox.%s.enter", names[i]);
		snprintf(base, sizeof base, "sandbox.%s.spawn", names[i]);
		bench_report(ctx, name, c.enter_us, "us", base, c.spawn_us);
		if (c.spawn_shared_netns_us > 0) {
			snprintf(base, sizeof base, "sandbox.%s.spawn_shared_netns", names[i]);
			bench_report(ctx, name, c.enter_us, "us", base, c.spawn_shared_netns_us);
		}
		snprintf(name, sizeof name, "sandbox.%s.filtered_getpid", names[i]);
		bench_report(ctx, name, c.syscall_filtered_ns, "ns", "unfiltered_getpid", c.syscall_ns);
		snprintf(name, sizeof name, "sandbox.%s.roundtrip_filtered", names[i]);
		bench_report(ctx, name, c.roundtrip_filtered_us, "us", "roundtrip_unfiltered",
			     c.roundtrip_us);
		snprintf(name, sizeof name, "sandbox.%s.filter_insns", names[i]);
		bench_report(ctx, name, c.filter_insns, "insns", NULL, 0);
		snprintf(name, sizeof name, "sandbox.%s.compile", names[i]);
		bench_report(ctx, name, c.compile_us, "us", NULL, 0);
	}
	return 0;
}

/* ---- spawn ---------------------------------------------------------------- */

struct spawn_state {
	bh_loop *loop;
	int ready;
	int exits;
	uint64_t exit_ns; /* when the last exit was reported */
};

static int idle_main(bh_worker_ctx *wctx, void *arg)
{
	return bh_worker_ctx_run(wctx);
}

static void on_ready(bh_worker *w, void *ud)
{
	struct spawn_state *s = ud;

	s->ready++;
	bh_loop_quit(s->loop, 0);
}

static void on_exit_cb(bh_worker *w, const bh_exit_info *info, int restarting, void *ud)
{
	struct spawn_state *s = ud;

	s->exits++;
	s->exit_ns = bh_now_ns();
	if (!restarting)
		bh_loop_quit(s->loop, 0);
}

static const bh_supervisor_ops spawn_ops = { .on_ready = on_ready, .on_exit = on_exit_cb };

/* Runs the loop until the counter moves (callbacks quit the loop). */
static int wait_count(struct spawn_state *s, const int *counter, int from)
{
	while (*counter == from) {
		int r = bh_loop_run(s->loop);

		if (r < 0)
			return r;
	}
	return 0;
}

static double run_cmd_us(char *const argv[])
{
	uint64_t t0 = bh_now_ns();
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return (double)(bh_now_ns() - t0) / 1000.0;
}

static int fds_open(void)
{
	char path[64];
	int n = 0;

	for (int fd = 0; fd < 4096; fd++) {
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		if (access(path, F_OK) == 0)
			n++;
	}
	return n;
}

static double rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "re");
	unsigned long size = 0, res = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &res) != 2)
		res = 0;
	fclose(f);
	return (double)res * (double)sysconf(_SC_PAGESIZE) / 1024.0;
}

int bench_spawn(struct bench_ctx *ctx)
{
	static bh_worker_spec spec = {
		.name = "bench",
		.entry = idle_main,
		.restart = BH_RESTART_ALWAYS,
		.crash_limit = 1000000,
		.crash_period_ms = 1,
		.backoff_initial_ms = 1,
		.backoff_max_ms = 1,
	};
	struct spawn_state s = { 0 };
	bh_registry *reg = NULL;
	bh_supervisor *sup = NULL;
	bh_worker *w;
	int n = ctx->quick ? 20 : 100, restarts = ctx->quick ? 100 : 1000, r;
	double *spawn = calloc((size_t)n, sizeof(double)), *crash = calloc((size_t)n, sizeof(double));
	double *exec_true = calloc((size_t)n, sizeof(double)), *bwrap = calloc((size_t)n, sizeof(double));
	double *death = calloc((size_t)n, sizeof(double));
	double spawn_med, fds0, fds1, rss0, rss1;
	char *true_argv[] = { "/bin/true", NULL };
	char *bwrap_argv[] = { "/usr/bin/bwrap", "--unshare-all", "--ro-bind", "/", "/",
			       "/bin/true", NULL };
	int have_bwrap = access(bwrap_argv[0], X_OK) == 0;

	if (!spawn || !crash || !exec_true || !bwrap || !death) {
		r = -ENOMEM;
		goto out;
	}
	r = bh_profile_lookup("renderer", &spec.profile);
	if (r == 0)
		r = bh_loop_create(&s.loop);
	if (r == 0)
		r = bh_registry_create(&reg);
	if (r == 0)
		r = bh_supervisor_create(s.loop, reg, &spec, 1, &spawn_ops, &s, &sup);
	if (r < 0)
		goto out;

	/*
	 * The four measurements take turns, one sample each per round, so that
	 * whatever else the machine does falls on all of them alike. The crash
	 * target is a long-lived worker killed once per round; it has been up
	 * for a round each time, so its restart is immediate (no backoff).
	 */
	bh_worker *target;

	r = bh_worker_start(sup, "bench", NULL, &target);
	if (r == 0)
		r = wait_count(&s, &s.ready, 0);
	for (int i = 0; i < n && r == 0; i++) {
		uint64_t t0 = bh_now_ns();
		int ready = s.ready, exits;

		r = bh_worker_start(sup, "bench", NULL, &w);
		if (r == 0)
			r = wait_count(&s, &s.ready, ready);
		spawn[i] = (double)(bh_now_ns() - t0) / 1000.0;
		exits = s.exits;
		if (r == 0)
			r = bh_worker_stop(w);
		if (r == 0)
			r = wait_count(&s, &s.exits, exits);
		if (r == 0)
			r = bh_worker_forget(w);
		exec_true[i] = run_cmd_us(true_argv);
		if (have_bwrap)
			bwrap[i] = run_cmd_us(bwrap_argv);
		ready = s.ready;
		t0 = bh_now_ns();
		if (r == 0)
			r = bh_worker_kill(target, SIGKILL);
		if (r == 0)
			r = wait_count(&s, &s.ready, ready);
		crash[i] = (double)(bh_now_ns() - t0) / 1000.0;
		death[i] = (double)(s.exit_ns - t0) / 1000.0;
	}
	if (r < 0)
		goto out;
	spawn_med = bench_quantile(spawn, (size_t)n, 0.5);
	bench_report(ctx, "spawn.renderer.spawn_to_ready", spawn_med, "us", "fork_exec_true",
		     bench_quantile(exec_true, (size_t)n, 0.5));
	if (have_bwrap && bwrap[0] > 0)
		bench_report(ctx, "spawn.renderer.spawn_to_ready", spawn_med, "us", "bwrap_unshare_all_true",
			     bench_quantile(bwrap, (size_t)n, 0.5));
	else
		bench_note(ctx, "  (bwrap peer skipped: /usr/bin/bwrap missing or not usable here)");
	bench_report(ctx, "spawn.renderer.crash_to_ready", bench_quantile(crash, (size_t)n, 0.5), "us",
		     "spawn.renderer.spawn_to_ready", spawn_med);
	bench_report(ctx, "spawn.renderer.kill_to_reaped", bench_quantile(death, (size_t)n, 0.5), "us",
		     NULL, 0);
	w = target;

	/* The broker's footprint across many restarts. */
	fds0 = fds_open();
	rss0 = rss_kib();
	for (int i = 0; i < restarts && r == 0; i++) {
		int ready = s.ready;

		r = bh_worker_kill(w, i % 2 ? SIGKILL : SIGSEGV);
		if (r == 0)
			r = wait_count(&s, &s.ready, ready);
	}
	fds1 = fds_open();
	rss1 = rss_kib();
	if (r < 0)
		goto out;
	bench_report(ctx, "spawn.broker_fds_after_restarts", fds1, "fds", "broker_fds_before", fds0);
	bench_report(ctx, "spawn.broker_rss_after_restarts", rss1, "KiB", "broker_rss_before", rss0);
	bench_note(ctx, "  (%d restarts of one renderer-profile worker)", restarts);
out:
	bh_supervisor_destroy(sup);
	bh_registry_destroy(reg);
	bh_loop_destroy(s.loop);
	free(spawn);
	free(crash);
	free(exec_true);
	free(bwrap);
	free(death);
	return r;
}
