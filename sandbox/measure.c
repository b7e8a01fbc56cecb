/*
 * bh_sandbox_measure(): what the sandbox costs, for the benchmark program.
 * Real workers, real filters; medians, because the machines are noisy.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/internal.h"
#include "sandbox/sandbox_private.h"

#define SYSCALL_LOOPS 100000
#define PINGPONGS 2000

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
	int fd;          /* socket: results, then ping-pong */
	bool syscalls;   /* also time the filtered syscall and the round trip */
};

/* Child side of the ping-pong: echo PINGPONGS messages. */
static int echo(int fd)
{
	char buf[64];

	for (int i = 0; i < PINGPONGS; i++) {
		if (read(fd, buf, sizeof buf) != sizeof buf || write(fd, buf, sizeof buf) != sizeof buf)
			return -EIO;
	}
	return 0;
}

/* Broker side: the median round trip in microseconds (a median: the cores are shared). */
static double pingpong(int fd)
{
	double rtt[PINGPONGS];
	char buf[64] = { 0 };

	for (int i = 0; i < PINGPONGS; i++) {
		double t0 = now_us();

		if (write(fd, buf, sizeof buf) != sizeof buf || read(fd, buf, sizeof buf) != sizeof buf)
			return -1;
		rtt[i] = now_us() - t0;
	}
	return median(rtt, PINGPONGS);
}

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
	if (bh__write_full(a->fd, res, sizeof res) < 0)
		return 1;
	return a->syscalls && echo(a->fd) < 0 ? 1 : 0;
}

int bh_sandbox_measure(const bh_profile *p, unsigned iterations, bh_sandbox_costs *out)
{
	bh_sandbox_costs c;
	bh_sandbox_prog *prog = NULL;
	bh_sandbox_netns *netns = NULL;
	double *v;
	int sp[2] = { -1, -1 }, r = 0;
	cpu_set_t saved_cpus;
	bool pinned = false;
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

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		r = -errno;
		goto out;
	}
	/*
	 * Both sides of every ping-pong on one CPU (children inherit the mask):
	 * otherwise the figure measures where the scheduler put them, not the
	 * filter. The broker's own mask is restored at the end.
	 */
	if (sched_getaffinity(0, sizeof saved_cpus, &saved_cpus) == 0) {
		cpu_set_t one;
		int cpu = sched_getcpu();

		CPU_ZERO(&one);
		CPU_SET(cpu >= 0 ? cpu : 0, &one);
		pinned = sched_setaffinity(0, sizeof one, &one) == 0;
	}
	/* Baseline round trip: the same echo in a plain child. */
	pid = fork();
	if (pid == 0)
		_exit(echo(sp[1]) < 0 ? 1 : 0);
	if (pid < 0) {
		r = -errno;
		goto out;
	}
	c.roundtrip_us = pingpong(sp[0]);
	r = wait_ok(pid);
	if (r < 0 || c.roundtrip_us < 0) {
		r = r < 0 ? r : -EIO;
		goto out;
	}
	for (unsigned i = 0; i < iterations && r == 0; i++) {
		struct enter_arg a = { .prog = prog, .fd = sp[1], .syscalls = i == 0 };
		double res[2];

		r = bh_sandbox_spawn(p, NULL, child_enter, &a, &pid, NULL, NULL);
		if (r < 0)
			break;
		r = bh__read_full(sp[0], res, sizeof res);
		if (r == 0 && i == 0) {
			c.syscall_filtered_ns = res[1];
			c.roundtrip_filtered_us = pingpong(sp[0]);
			if (c.roundtrip_filtered_us < 0)
				r = -EIO;
		}
		if (r == 0)
			r = wait_ok(pid);
		else
			(void)wait_ok(pid);
		v[i] = res[0];
	}
	if (r < 0)
		goto out;
	c.enter_us = median(v, iterations);
	c.syscall_ns = syscall_cost_ns();
	*out = c;
out:
	if (pinned)
		(void)sched_setaffinity(0, sizeof saved_cpus, &saved_cpus);
	bh__close(sp[0]);
	bh__close(sp[1]);
	bh_sandbox_netns_destroy(netns);
	bh_sandbox_prog_destroy(prog);
	free(v);
	return r;
}
