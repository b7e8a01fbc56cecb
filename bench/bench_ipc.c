/*
 * IPC suite: a small request/reply round trip through the whole channel
 * stack (encode, frame, send, wake, receive, validate, decode, dispatch, and
 * back) beside a raw SOCK_SEQPACKET write/read ping-pong and ZeroMQ ipc://
 * REQ/REP between the same two kinds of processes; one-way throughput of
 * small messages beside raw one-message-per-syscall writes; and heap
 * allocations per message in the steady state.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bulkhead/channel.h>

#include "bench/bench.h"
#include "bulkhead.pb-c.h"

#ifdef BH_BENCH_HAVE_ZMQ
#include <zmq.h>
#endif

#define RAW_MSG 32 /* about the size of a framed Heartbeat */
#define IPC_ROUNDS 8
#define WARMUP 500

static pid_t fork_child(void (*fn)(int fd), int fd, int other)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		if (other >= 0)
			close(other);
		bh_signals_reset();
		fn(fd);
		_exit(0);
	}
	return pid;
}

static int reap(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
}

static int set_blocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* ---- channel side ------------------------------------------------------- */

struct peer {
	bh_loop *loop;
	bh_registry *reg;
	bh_channel *ch;
	/* round-trip driver */
	int n, done, warmup;
	uint64_t t0;
	double *lat;
	uint64_t allocs0, allocs1;
	Bh__Heartbeat hb;
	/* throughput */
	long received, target;
	int blocked;
};

static void replier_msg(bh_channel *ch, bh_msg *m, void *ud)
{
	if (bh_msg_flags(m) & BH_FLAG_REQUEST)
		bh_channel_reply(ch, m, BH_MSG_HEARTBEAT, bh_msg_body(m), NULL, 0);
}

static void quit_on_close(bh_channel *ch, int err, void *ud)
{
	struct peer *p = ud;

	bh_loop_quit(p->loop, 0);
}

static const bh_channel_ops replier_ops = { .on_message = replier_msg, .on_close = quit_on_close };

static int peer_init(struct peer *p, int fd, const bh_channel_ops *ops)
{
	int r;

	memset(p, 0, sizeof *p);
	r = bh_loop_create(&p->loop);
	if (r < 0) {
		close(fd);
		return r;
	}
	r = bh_registry_create(&p->reg);
	if (r < 0) {
		close(fd);
		return r;
	}
	/* The measured path is the steady state after the handshake: no credentials. */
	r = bh_channel_create(p->loop, p->reg, fd, ops, p, NULL, &p->ch);
	if (r == 0)
		r = bh_channel_set_passcred(p->ch, 0);
	return r;
}

static void peer_fini(struct peer *p)
{
	bh_channel_destroy(p->ch);
	bh_registry_destroy(p->reg);
	bh_loop_destroy(p->loop);
}

static void replier_child(int fd)
{
	struct peer p;

	if (peer_init(&p, fd, &replier_ops) < 0)
		_exit(1);
	bh_loop_run(p.loop);
	peer_fini(&p);
}

static void on_reply(bh_channel *ch, int status, bh_msg *reply, void *ud);

static int issue(struct peer *p)
{
	p->hb.seq++;
	p->t0 = bh_now_ns();
	return bh_channel_call(p->ch, BH_MSG_HEARTBEAT, &p->hb.base, NULL, 0, 5000, on_reply, p);
}

static void on_reply(bh_channel *ch, int status, bh_msg *reply, void *ud)
{
	struct peer *p = ud;
	uint64_t now = bh_now_ns();

	if (status < 0) {
		bh_loop_quit(p->loop, status);
		return;
	}
	if (p->warmup > 0) {
		if (--p->warmup == 0)
			p->allocs0 = bench_allocs();
	} else {
		p->lat[p->done++] = (double)(now - p->t0) / 1000.0;
	}
	if (p->done == p->n) {
		p->allocs1 = bench_allocs();
		bh_loop_quit(p->loop, 0);
		return;
	}
	if (issue(p) < 0)
		bh_loop_quit(p->loop, -EIO);
}

static void ignore_msg(bh_channel *ch, bh_msg *m, void *ud)
{
}

static const bh_channel_ops caller_ops = { .on_message = ignore_msg, .on_close = quit_on_close };

static int channel_roundtrip(int n, double *lat, double *allocs_per_rt)
{
	struct peer p;
	int sv[2], r;
	pid_t pid;

	r = bh_channel_socketpair(sv);
	if (r < 0)
		return r;
	pid = fork_child(replier_child, sv[1], sv[0]);
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return -errno;
	}
	r = peer_init(&p, sv[0], &caller_ops);
	if (r == 0) {
		bh__heartbeat__init(&p.hb);
		p.n = n;
		p.lat = lat;
		p.warmup = WARMUP;
		r = issue(&p);
	}
	if (r == 0)
		r = bh_loop_run(p.loop);
	*allocs_per_rt = (double)(p.allocs1 - p.allocs0) / n;
	peer_fini(&p);
	if (reap(pid) < 0 && r == 0)
		r = -ECHILD;
	return r;
}

/* ---- raw SOCK_SEQPACKET ping-pong ----------------------------------------- */

static void raw_echo_child(int fd)
{
	char buf[RAW_MSG];
	ssize_t n;

	while ((n = read(fd, buf, sizeof buf)) > 0)
		if (write(fd, buf, (size_t)n) != n)
			_exit(1);
}

static int raw_roundtrip(int n, double *lat)
{
	int sv[2], r = 0;
	char buf[RAW_MSG] = { 1 };
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork_child(raw_echo_child, sv[1], sv[0]);
	close(sv[1]);
	for (int i = -WARMUP; i < n && r == 0; i++) {
		uint64_t t0 = bh_now_ns();

		if (write(sv[0], buf, sizeof buf) != sizeof buf || read(sv[0], buf, sizeof buf) != sizeof buf)
			r = -EIO;
		else if (i >= 0)
			lat[i] = (double)(bh_now_ns() - t0) / 1000.0;
	}
	close(sv[0]);
	if (reap(pid) < 0 && r == 0)
		r = -ECHILD;
	return r;
}

/* ---- the same ping-pong through epoll: the floor of any event loop -------- */

/*
 * Each side waits in epoll_wait() and reads with a non-blocking recv(), as
 * every event loop must (it cannot block in one socket's read): one system
 * call more per side and message than the raw ping-pong, and the wake-up
 * goes through epoll's callback. What bulkhead adds is the difference
 * between this and the channel.
 */
static int epoll_wait_read(int ep, int fd, char *buf, size_t size)
{
	struct epoll_event ev;
	ssize_t n;

	for (;;) {
		n = recv(fd, buf, size, MSG_DONTWAIT);
		if (n > 0)
			return (int)n;
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			return -1;
		if (epoll_wait(ep, &ev, 1, -1) < 0 && errno != EINTR)
			return -1;
	}
}

static int epoll_for(int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(ep);
		ep = -1;
	}
	return ep;
}

static void epoll_echo_child(int fd)
{
	char buf[RAW_MSG];
	int ep = epoll_for(fd), n;

	if (ep < 0)
		_exit(1);
	/* Wait first, as a loop does once it has nothing to do. */
	for (;;) {
		struct epoll_event ev;

		if (epoll_wait(ep, &ev, 1, -1) < 0 && errno != EINTR)
			_exit(1);
		n = (int)recv(fd, buf, sizeof buf, MSG_DONTWAIT);
		if (n == 0)
			_exit(0);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			_exit(1);
		if (n > 0 && send(fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n)
			_exit(1);
	}
}

static int epoll_roundtrip(int n, double *lat)
{
	int sv[2], ep, r = 0;
	char buf[RAW_MSG] = { 1 };
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork_child(epoll_echo_child, sv[1], sv[0]);
	close(sv[1]);
	ep = epoll_for(sv[0]);
	if (ep < 0)
		r = -errno;
	for (int i = -WARMUP; i < n && r == 0; i++) {
		uint64_t t0 = bh_now_ns();

		if (send(sv[0], buf, sizeof buf, MSG_DONTWAIT | MSG_NOSIGNAL) != sizeof buf ||
		    epoll_wait_read(ep, sv[0], buf, sizeof buf) != sizeof buf)
			r = -EIO;
		else if (i >= 0)
			lat[i] = (double)(bh_now_ns() - t0) / 1000.0;
	}
	if (ep >= 0)
		close(ep);
	close(sv[0]);
	if (reap(pid) < 0 && r == 0)
		r = -ECHILD;
	return r;
}

/* ---- ZeroMQ ipc:// REQ/REP ------------------------------------------------ */

#ifdef BH_BENCH_HAVE_ZMQ
static char zmq_endpoint[128];

static void zmq_rep_child(int ready_fd)
{
	void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_REP);
	char buf[RAW_MSG];
	int n;

	if (zmq_bind(s, zmq_endpoint) != 0)
		_exit(1);
	if (write(ready_fd, "r", 1) != 1)
		_exit(1);
	close(ready_fd);
	while ((n = zmq_recv(s, buf, sizeof buf, 0)) >= 0) {
		if (n == 1 && buf[0] == 'q')
			break;
		if (zmq_send(s, buf, (size_t)n, 0) < 0)
			_exit(1);
	}
	zmq_send(s, "q", 1, 0);
	zmq_close(s);
	zmq_ctx_term(ctx);
}

static int zmq_roundtrip(int n, double *lat)
{
	int p[2], r = 0;
	char buf[RAW_MSG] = { 1 }, c;
	void *ctx, *s;
	pid_t pid;

	snprintf(zmq_endpoint, sizeof zmq_endpoint, "ipc:///tmp/bulkhead-bench-%d.ipc", (int)getpid());
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork_child(zmq_rep_child, p[1], p[0]);
	close(p[1]);
	if (read(p[0], &c, 1) != 1) {
		close(p[0]);
		reap(pid);
		return -EIO;
	}
	close(p[0]);
	ctx = zmq_ctx_new();
	s = zmq_socket(ctx, ZMQ_REQ);
	if (zmq_connect(s, zmq_endpoint) != 0)
		r = -EIO;
	for (int i = -WARMUP; i < n && r == 0; i++) {
		uint64_t t0 = bh_now_ns();

		if (zmq_send(s, buf, sizeof buf, 0) < 0 || zmq_recv(s, buf, sizeof buf, 0) < 0)
			r = -EIO;
		else if (i >= 0)
			lat[i] = (double)(bh_now_ns() - t0) / 1000.0;
	}
	zmq_send(s, "q", 1, 0);
	zmq_recv(s, buf, sizeof buf, 0);
	zmq_close(s);
	zmq_ctx_term(ctx);
	unlink(zmq_endpoint + strlen("ipc://"));
	if (reap(pid) < 0 && r == 0)
		r = -ECHILD;
	return r;
}
#endif

/* ---- one-way throughput --------------------------------------------------- */

static long throughput_n;

static void drained(bh_channel *ch, void *ud)
{
	struct peer *p = ud;

	/*
	 * The drain may happen in the flush that runs before the loop sleeps,
	 * so wake the sender by quitting the loop rather than by a flag.
	 */
	p->blocked = 0;
	bh_loop_quit(p->loop, 0);
}

static const bh_channel_ops sender_ops = { .on_message = ignore_msg, .on_close = quit_on_close,
					   .on_drain = drained };

static void channel_sender_child(int fd)
{
	struct peer p;
	Bh__Heartbeat hb = BH__HEARTBEAT__INIT;
	char go;

	/* Wait for the receiver to be ready so that the run measures steady state. */
	set_blocking(fd);
	if (read(fd, &go, 1) != 1)
		_exit(1);
	if (peer_init(&p, fd, &sender_ops) < 0)
		_exit(1);
	for (long i = 1; i <= throughput_n;) {
		int r;

		hb.seq = (uint64_t)i;
		r = bh_channel_send(p.ch, BH_MSG_HEARTBEAT, &hb.base, NULL, 0);
		if (r == 0) {
			i++;
			continue;
		}
		if (r != -ENOBUFS)
			_exit(2);
		p.blocked = 1;
		if (bh_loop_run(p.loop) < 0)
			_exit(3);
	}
	while (bh_channel_flush(p.ch) > 0)
		bh_loop_run_once(p.loop, -1);
	/* Stay until the receiver has everything and hangs up. */
	bh_loop_run(p.loop);
	peer_fini(&p);
}

static void count_msg(bh_channel *ch, bh_msg *m, void *ud)
{
	struct peer *p = ud;

	if (++p->received == p->target)
		bh_loop_quit(p->loop, 0);
}

static const bh_channel_ops receiver_ops = { .on_message = count_msg, .on_close = quit_on_close };

static int channel_throughput(long n, double *msgs_per_s)
{
	struct peer p;
	int sv[2], r;
	uint64_t t0;
	pid_t pid;

	throughput_n = n;
	r = bh_channel_socketpair(sv);
	if (r < 0)
		return r;
	pid = fork_child(channel_sender_child, sv[1], sv[0]);
	close(sv[1]);
	r = peer_init(&p, sv[0], &receiver_ops);
	p.target = n;
	t0 = bh_now_ns();
	if (r == 0 && send(bh_channel_fd(p.ch), "g", 1, MSG_NOSIGNAL) != 1)
		r = -EIO;
	if (r == 0)
		r = bh_loop_run(p.loop);
	*msgs_per_s = (double)p.received / ((double)(bh_now_ns() - t0) / 1e9);
	if (p.received != n && r == 0)
		r = -EIO;
	peer_fini(&p);
	if (reap(pid) < 0 && r == 0)
		r = -ECHILD;
	return r;
}

static void raw_sender_child(int fd)
{
	char buf[RAW_MSG] = { 2 };
	char go;

	if (read(fd, &go, 1) != 1)
		_exit(1);
	for (long i = 0; i < throughput_n; i++)
		if (write(fd, buf, sizeof buf) != sizeof buf)
			_exit(2);
	/* Stay until the receiver hangs up. */
	while (read(fd, &go, 1) > 0)
		;
}

static int raw_throughput(long n, double *msgs_per_s)
{
	int sv[2], r = 0;
	char buf[RAW_MSG];
	uint64_t t0;
	pid_t pid;

	throughput_n = n;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork_child(raw_sender_child, sv[1], sv[0]);
	close(sv[1]);
	t0 = bh_now_ns();
	if (write(sv[0], "g", 1) != 1)
		r = -EIO;
	for (long i = 0; i < n && r == 0; i++)
		if (read(sv[0], buf, sizeof buf) <= 0)
			r = -EIO;
	*msgs_per_s = (double)n / ((double)(bh_now_ns() - t0) / 1e9);
	close(sv[0]);
	if (reap(pid) < 0 && r == 0)
		r = -ECHILD;
	return r;
}

/* ---- the suite ------------------------------------------------------------ */

/*
 * Round trips are measured with both processes on one CPU, for every
 * variant alike: each message is then a plain context switch, and the
 * figures do not depend on whether the scheduler happened to put the two
 * processes on the same core or on two (inter-processor wake-ups dominate
 * and vary from run to run on a shared machine).
 */
static int pin_to_one_cpu(cpu_set_t *saved)
{
	cpu_set_t one;
	int cpu = sched_getcpu();

	if (sched_getaffinity(0, sizeof *saved, saved) < 0)
		return -errno;
	CPU_ZERO(&one);
	CPU_SET(cpu >= 0 ? cpu : 0, &one);
	if (sched_setaffinity(0, sizeof one, &one) < 0)
		return -errno;
	return 0;
}

int bench_ipc(struct bench_ctx *ctx)
{
	int n = ctx->quick ? 2000 : 20000;
	long tn = ctx->quick ? 50000 : 500000;
	double *ours = calloc((size_t)n, sizeof(double));
	double *raw = calloc((size_t)n, sizeof(double));
	double *zq = calloc((size_t)n, sizeof(double));
	double *ep = calloc((size_t)n, sizeof(double));
	double allocs = 0, med, p99, raw_med, raw_p99, thr = 0, raw_thr = 0;
	int r = 0;

	if (!ours || !raw || !zq || !ep) {
		free(ours);
		free(raw);
		free(zq);
		free(ep);
		return -ENOMEM;
	}
	cpu_set_t saved;
	int pinned = pin_to_one_cpu(&saved) == 0;

	if (!pinned)
		bench_note(ctx, "  (could not pin to one CPU; round trips will be noisier)");
	/*
	 * The variants take turns in short rounds, so that whatever else the
	 * machine does while we measure falls on all of them alike.
	 */
	for (int round = 0; round < IPC_ROUNDS && r == 0; round++) {
		int per = n / IPC_ROUNDS;
		double a = 0;

		r = channel_roundtrip(per, ours + round * per, &a);
		allocs += a / IPC_ROUNDS;
		if (r == 0)
			r = raw_roundtrip(per, raw + round * per);
		if (r == 0)
			r = epoll_roundtrip(per, ep + round * per);
#ifdef BH_BENCH_HAVE_ZMQ
		if (r == 0)
			r = zmq_roundtrip(per, zq + round * per);
#endif
	}
	if (r < 0)
		goto out;
	med = bench_quantile(ours, (size_t)n, 0.5);
	p99 = bench_quantile(ours, (size_t)n, 0.99);
	raw_med = bench_quantile(raw, (size_t)n, 0.5);
	raw_p99 = bench_quantile(raw, (size_t)n, 0.99);
	bench_report(ctx, "ipc.roundtrip.median", med, "us", "raw_seqpacket_pingpong.median", raw_med);
	bench_report(ctx, "ipc.roundtrip.p99", p99, "us", "raw_seqpacket_pingpong.p99", raw_p99);
	bench_report(ctx, "ipc.roundtrip.median", med, "us", "epoll_seqpacket_pingpong.median",
		     bench_quantile(ep, (size_t)n, 0.5));
	bench_report(ctx, "epoll_seqpacket_pingpong.median", bench_quantile(ep, (size_t)n, 0.5), "us",
		     "raw_seqpacket_pingpong.median", raw_med);
#ifdef BH_BENCH_HAVE_ZMQ
	bench_report(ctx, "ipc.roundtrip.median", med, "us", "zeromq_ipc_reqrep.median",
		     bench_quantile(zq, (size_t)n, 0.5));
	bench_report(ctx, "ipc.roundtrip.p99", p99, "us", "zeromq_ipc_reqrep.p99",
		     bench_quantile(zq, (size_t)n, 0.99));
#else
	bench_note(ctx, "  (ZeroMQ peer skipped: libzmq3-dev was not installed at build time)");
#endif
	/* Throughput is measured with the scheduler free to use both CPUs. */
	if (pinned)
		(void)sched_setaffinity(0, sizeof saved, &saved);
	pinned = 0;
	r = channel_throughput(tn, &thr);
	if (r == 0)
		r = raw_throughput(tn, &raw_thr);
	if (r < 0)
		goto out;
	bench_report(ctx, "ipc.oneway.throughput", thr / 1e6, "Mmsg/s", "raw_write_per_message.throughput",
		     raw_thr / 1e6);
	if (bench_allocs_counted())
		bench_report(ctx, "ipc.roundtrip.allocs_per_message", allocs, "allocs", NULL, 0);
	else
		bench_note(ctx, "  (allocation counting is off in sanitizer builds)");
out:
	if (pinned)
		(void)sched_setaffinity(0, sizeof saved, &saved);
	free(ours);
	free(raw);
	free(zq);
	free(ep);
	return r;
}
