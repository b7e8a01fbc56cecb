/*
 * bh_sandbox_measure(): what the sandbox costs, for the benchmark program.
 * Real workers, real filters; medians, because the machines are noisy.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/internal.h"
#include "sandbox/sandbox_private.h"

#define SYSCALL_LOOPS 100000

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Nanoseconds per getpid() system call (not cached by glibc). */
static double syscall_cost_ns(void)
{
	double t0 = now_us();

	for (int i = 0; i < SYSCALL_LOOPS; i++)
		(void)syscall(SYS_getpid);
	return (now_us() - t0) * 1e3 / SYSCALL_LOOPS;
}

static int wait_ok(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
}

static int child_exit(const bh_sandbox_child *child, void *arg)
{
	(void)child;
	(void)arg;
	return 0;
}

struct enter_arg {
	const bh_sandbox_prog *prog;
	int fd;          /* write end: results */
	bool syscalls;   /* also time the filtered syscall */
};

static int child_enter(const bh_sandbox_child *child, void *argp)
{
	const struct enter_arg *a = argp;
	bh_sandbox_opts o = { .child = child, .keep_fds = &a->fd, .n_keep_fds = 1,
			      .report_fd = -1, .prog = a->prog };
	bh_sandbox_report rep;
	double res[2] = { 0, 0 }, t0 = now_us();

	if (bh_sandbox_enter(bh_sandbox_child_profile(child), &o, &rep) < 0)
		_exit(BH_SANDBOX_EXIT_SETUP);
	res[0] = now_us() - t0;
	if (a->syscalls)
		res[1] = syscall_cost_ns();
	return bh__write_full(a->fd, res, sizeof res) < 0 ? 1 : 0;
}

int bh_sandbox_measure(const bh_profile *p, unsigned iterations, bh_sandbox_costs *out)
{
	bh_sandbox_costs c;
	bh_sandbox_prog *prog = NULL;
	bh_sandbox_netns *netns = NULL;
	double *v;
	int pipefd[2] = { -1, -1 }, r = 0;
	pid_t pid;

	if (!p || !out || iterations == 0 || iterations > 100000)
		return -EINVAL;
	v = calloc(iterations, sizeof *v);
	if (!v)
		return -ENOMEM;
	memset(&c, 0, sizeof c);

	for (unsigned i = 0; i < iterations && r == 0; i++) {
		bh_sandbox_prog *tmp = NULL;
		double t0 = now_us();

		r = bh_sandbox_compile(p, BH_SANDBOX_PID_NS_INIT, &tmp);
		v[i] = now_us() - t0;
		bh_sandbox_prog_destroy(tmp);
	}
	if (r < 0)
		goto out;
	c.compile_us = median(v, iterations);
	r = bh_sandbox_compile(p, BH_SANDBOX_PID_NS_INIT, &prog);
	if (r < 0)
		goto out;
	c.filter_insns = (unsigned)prog->len;

	for (unsigned i = 0; i < iterations && r == 0; i++) {
		double t0 = now_us();

		pid = fork();
		if (pid == 0)
			_exit(0);
		if (pid < 0) {
			r = -errno;
			break;
		}
		r = wait_ok(pid);
		v[i] = now_us() - t0;
	}
	if (r < 0)
		goto out;
	c.spawn_plain_us = median(v, iterations);

	for (int shared = 0; shared < 2 && r == 0; shared++) {
		bh_spawn_opts so = { 0 };

		if (shared) {
			if (bh_sandbox_netns_create(&netns) < 0)
				break; /* needs root: not measured */
			so.netns = netns;
		}
		for (unsigned i = 0; i < iterations && r == 0; i++) {
			double t0 = now_us();

			r = bh_sandbox_spawn(p, &so, child_exit, NULL, &pid, NULL, NULL);
			if (r == 0)
				r = wait_ok(pid);
			v[i] = now_us() - t0;
		}
		if (r == 0) {
			if (shared)
				c.spawn_shared_netns_us = median(v, iterations);
			else
				c.spawn_us = median(v, iterations);
		}
	}
	if (r < 0)
		goto out;

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		r = -errno;
		goto out;
	}
	for (unsigned i = 0; i < iterations && r == 0; i++) {
		struct enter_arg a = { .prog = prog, .fd = pipefd[1], .syscalls = i == 0 };
		double res[2];

		r = bh_sandbox_spawn(p, NULL, child_enter, &a, &pid, NULL, NULL);
		if (r < 0)
			break;
		r = bh__read_full(pipefd[0], res, sizeof res);
		if (r == 0)
			r = wait_ok(pid);
		else
			(void)wait_ok(pid);
		v[i] = res[0];
		if (i == 0)
			c.syscall_filtered_ns = res[1];
	}
	if (r < 0)
		goto out;
	c.enter_us = median(v, iterations);
	c.syscall_ns = syscall_cost_ns();
	*out = c;
out:
	bh__close(pipefd[0]);
	bh__close(pipefd[1]);
	bh_sandbox_netns_destroy(netns);
	bh_sandbox_prog_destroy(prog);
	free(v);
	return r;
}
