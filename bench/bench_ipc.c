/*
 * IPC suite: a small request/reply round trip through the whole channel
 * stack (encode, frame, send, wake, receive, validate, decode, dispatch, and
 * back), made with bh_channel_call() from an event loop and with
 * bh_channel_call_sync(), beside a raw SOCK_SEQPACKET write/read ping-pong
 * and ZeroMQ ipc:// REQ/REP between the same two kinds of processes; one-way throughput of
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
#define BLOCK 250
#define WARMUP 500
#define THROUGHPUT_ROUNDS 5

static pid_t fork_child(void (*fn)(int fd), int fd)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		/*
		 * Keep only the child's own end: an inherited end of another
		 * variant's socket would keep that variant's child from seeing EOF.
		 */
		if (fd > 3 && close_range(3, (unsigned)fd - 1, 0) < 0)
			_exit(1);
		if (close_range((unsigned)fd + 1, ~0u, 0) < 0)
			_exit(1);
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

/*
 * A round-trip variant: a live connection to a child process that answers,
 * and a way to make k timed round trips on it. Every variant is set up
 * first; then they take turns in blocks of BLOCK round trips on their
 * connections, so that whatever else the machine does meanwhile (other
 * guests, clock changes) falls on all of them alike.
 */
struct variant;

struct variant_ops {
	int (*start)(struct variant *v);                 /* 0, or -errno with nothing left behind */
	int (*run)(struct variant *v, int k, double *lat); /* k round trips, latencies in us */
	void (*stop)(struct variant *v);
};

/* ---- channel side ------------------------------------------------------- */

struct peer {
	bh_loop *loop;
	bh_registry *reg;
	bh_channel *ch;
	/* round-trip driver */
	int n, done;
	uint64_t t0;
	double *lat;
	Bh__Heartbeat hb;
	/* throughput */
	long received, target;
	int blocked;
};

struct variant {
	const struct variant_ops *ops;
	pid_t pid;
	int fd, ep;
	struct peer p;
#ifdef BH_BENCH_HAVE_ZMQ
	void *zctx, *zsock;
	char endpoint[128];
#endif
	double *lat;     /* the timed samples */
	uint64_t allocs; /* heap allocations made during the timed blocks */
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
	p->lat[p->done++] = (double)(now - p->t0) / 1000.0;
	if (p->done == p->n) {
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

/*
 * A child running `fn` on one end of a fresh socketpair (a channel's, or a
 * plain blocking one of `type`); the other end in v->fd.
 */
static int start_child(struct variant *v, void (*fn)(int fd), int channel, int type)
{
	int sv[2], r = 0;

	if (channel)
		r = bh_channel_socketpair(sv);
	else if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) < 0)
		r = -errno;
	if (r < 0)
		return r;
	v->pid = fork_child(fn, sv[1]);
	close(sv[1]);
	if (v->pid < 0) {
		r = -errno;
		close(sv[0]);
		return r;
	}
	v->fd = sv[0];
	return 0;
}

/* Hangs up on the child and reaps it. */
static void stop_child(struct variant *v)
{
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
	(void)reap(v->pid);
}

static int channel_start(struct variant *v)
{
	int r = start_child(v, replier_child, 1, SOCK_SEQPACKET);

	if (r < 0)
		return r;
	r = peer_init(&v->p, v->fd, &caller_ops);
	v->fd = -1; /* the channel owns it */
	bh__heartbeat__init(&v->p.hb);
	if (r < 0) {
		peer_fini(&v->p);
		stop_child(v);
	}
	return r;
}

static void channel_stop(struct variant *v)
{
	peer_fini(&v->p);
	stop_child(v);
}

/* bh_channel_call() from an event loop: the reply wakes the loop, which issues the next call. */
static int channel_run(struct variant *v, int k, double *lat)
{
	int r;

	v->p.n = k;
	v->p.done = 0;
	v->p.lat = lat;
	r = issue(&v->p);
	if (r == 0)
		r = bh_loop_run(v->p.loop);
	return r < 0 ? r : v->p.done == k ? 0 : -EIO;
}

/*
 * bh_channel_call_sync(): the caller sends and then blocks in the socket
 * until the reply, instead of going back to epoll. The replier is the same
 * event-loop process.
 */
static int channel_sync_run(struct variant *v, int k, double *lat)
{
	for (int i = 0; i < k; i++) {
		uint64_t t0;
		int r;

		v->p.hb.seq++;
		t0 = bh_now_ns();
		r = bh_channel_call_sync(v->p.ch, BH_MSG_HEARTBEAT, &v->p.hb.base, NULL, 0, 5000, NULL, NULL);
		if (r < 0)
			return r;
		lat[i] = (double)(bh_now_ns() - t0) / 1000.0;
	}
	return 0;
}

static const struct variant_ops channel_ops = { channel_start, channel_run, channel_stop };
static const struct variant_ops channel_sync_ops = { channel_start, channel_sync_run, channel_stop };

/* ---- raw SOCK_SEQPACKET ping-pong ----------------------------------------- */

static void raw_echo_child(int fd)
{
	char buf[RAW_MSG];
	ssize_t n;

	while ((n = read(fd, buf, sizeof buf)) > 0)
		if (write(fd, buf, (size_t)n) != n)
			_exit(1);
}

static int raw_start(struct variant *v)
{
	return start_child(v, raw_echo_child, 0, SOCK_SEQPACKET);
}

static int raw_run(struct variant *v, int k, double *lat)
{
	char buf[RAW_MSG] = { 1 };

	for (int i = 0; i < k; i++) {
		uint64_t t0 = bh_now_ns();

		if (write(v->fd, buf, sizeof buf) != sizeof buf || read(v->fd, buf, sizeof buf) != sizeof buf)
			return -EIO;
		lat[i] = (double)(bh_now_ns() - t0) / 1000.0;
	}
	return 0;
}

static const struct variant_ops raw_ops = { raw_start, raw_run, stop_child };

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

static int epoll_start(struct variant *v)
{
	int r = start_child(v, epoll_echo_child, 0, SOCK_SEQPACKET);

	if (r < 0)
		return r;
	v->ep = epoll_for(v->fd);
	if (v->ep < 0) {
		r = -errno;
		stop_child(v);
	}
	return r;
}

static int epoll_run(struct variant *v, int k, double *lat)
{
	char buf[RAW_MSG] = { 1 };

	for (int i = 0; i < k; i++) {
		uint64_t t0 = bh_now_ns();

		if (send(v->fd, buf, sizeof buf, MSG_DONTWAIT | MSG_NOSIGNAL) != sizeof buf ||
		    epoll_wait_read(v->ep, v->fd, buf, sizeof buf) != sizeof buf)
			return -EIO;
		lat[i] = (double)(bh_now_ns() - t0) / 1000.0;
	}
	return 0;
}

static void epoll_stop(struct variant *v)
{
	close(v->ep);
	stop_child(v);
}

static const struct variant_ops epoll_ops = { epoll_start, epoll_run, epoll_stop };

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

static void zmq_stop(struct variant *v)
{
	char buf[RAW_MSG];

	if (v->zsock) {
		zmq_send(v->zsock, "q", 1, 0);
		zmq_recv(v->zsock, buf, sizeof buf, 0);
		zmq_close(v->zsock);
	}
	if (v->zctx)
		zmq_ctx_term(v->zctx);
	v->zsock = v->zctx = NULL;
	unlink(v->endpoint + strlen("ipc://"));
	stop_child(v);
}

static int zmq_start(struct variant *v)
{
	char c;
	int r;

	snprintf(zmq_endpoint, sizeof zmq_endpoint, "ipc:///tmp/bulkhead-bench-%d.ipc", (int)getpid());
	memcpy(v->endpoint, zmq_endpoint, sizeof v->endpoint);
	/* The child says it is bound through a pipe-like socketpair. */
	r = start_child(v, zmq_rep_child, 0, SOCK_STREAM);
	if (r < 0)
		return r;
	if (read(v->fd, &c, 1) != 1) {
		/* Without a quit message the child never ends: kill it before reaping. */
		kill(v->pid, SIGKILL);
		stop_child(v);
		return -EIO;
	}
	v->zctx = zmq_ctx_new();
	v->zsock = v->zctx ? zmq_socket(v->zctx, ZMQ_REQ) : NULL;
	if (!v->zsock || zmq_connect(v->zsock, zmq_endpoint) != 0) {
		kill(v->pid, SIGKILL);
		if (v->zsock)
			zmq_close(v->zsock);
		v->zsock = NULL;
		zmq_stop(v);
		return -EIO;
	}
	return 0;
}

static int zmq_run(struct variant *v, int k, double *lat)
{
	char buf[RAW_MSG] = { 1 };

	for (int i = 0; i < k; i++) {
		uint64_t t0 = bh_now_ns();

		if (zmq_send(v->zsock, buf, sizeof buf, 0) < 0 || zmq_recv(v->zsock, buf, sizeof buf, 0) < 0)
			return -EIO;
		lat[i] = (double)(bh_now_ns() - t0) / 1000.0;
	}
	return 0;
}

static const struct variant_ops zmq_ops = { zmq_start, zmq_run, zmq_stop };
#endif

/* ---- the round trips, interleaved ----------------------------------------- */

/*
 * Starts every variant, warms each up, then runs them in turns of BLOCK
 * round trips (after one untimed one) until each has n samples. Allocations
 * are counted around the timed blocks only. Returns 0 or the first error.
 */
static int roundtrips(struct variant *vs, size_t nv, int n)
{
	double warm[WARMUP];
	size_t started = 0;
	int r = 0;

	for (; started < nv && r == 0; started++) {
		vs[started].fd = vs[started].ep = -1;
		r = vs[started].ops->start(&vs[started]);
		if (r < 0)
			break;
		r = vs[started].ops->run(&vs[started], WARMUP, warm);
	}
	for (int done = 0; done < n && r == 0; done += BLOCK) {
		for (size_t i = 0; i < nv && r == 0; i++) {
			uint64_t a0;

			/* The first round trip of a turn finds cold caches: it is not counted. */
			r = vs[i].ops->run(&vs[i], 1, warm);
			a0 = bench_allocs();
			if (r == 0)
				r = vs[i].ops->run(&vs[i], n - done < BLOCK ? n - done : BLOCK, vs[i].lat + done);
			vs[i].allocs += bench_allocs() - a0;
		}
	}
	for (size_t i = 0; i < started; i++)
		vs[i].ops->stop(&vs[i]);
	return r;
}

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
	/*
	 * Stay until the receiver has everything and hangs up, unless it already
	 * did (bh_loop_run() would forget the quit that on_close asked for).
	 */
	if (bh_channel_is_open(p.ch))
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
	pid = fork_child(channel_sender_child, sv[1]);
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
	pid = fork_child(raw_sender_child, sv[1]);
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

enum { V_CHANNEL, V_SYNC, V_RAW, V_EPOLL, V_ZMQ, V_COUNT };

static double median_of(const struct variant *v, int n)
{
	return bench_quantile(v->lat, (size_t)n, 0.5);
}

static double p99_of(const struct variant *v, int n)
{
	return bench_quantile(v->lat, (size_t)n, 0.99);
}

int bench_ipc(struct bench_ctx *ctx)
{
	int n = ctx->quick ? 2000 : 20000;
	long tn = ctx->quick ? 50000 : 500000;
	struct variant vs[V_COUNT] = {
		[V_CHANNEL] = { .ops = &channel_ops },
		[V_SYNC] = { .ops = &channel_sync_ops },
		[V_RAW] = { .ops = &raw_ops },
		[V_EPOLL] = { .ops = &epoll_ops },
#ifdef BH_BENCH_HAVE_ZMQ
		[V_ZMQ] = { .ops = &zmq_ops },
#endif
	};
	size_t nv = V_ZMQ;
	double thr = 0, raw_thr = 0, raw_med, raw_p99;
	cpu_set_t saved;
	int pinned, r = 0;

#ifdef BH_BENCH_HAVE_ZMQ
	nv = V_COUNT;
#endif
	for (size_t i = 0; i < nv; i++) {
		vs[i].lat = calloc((size_t)n, sizeof(double));
		if (!vs[i].lat)
			r = -ENOMEM;
	}
	if (r < 0)
		goto out_free;
	pinned = pin_to_one_cpu(&saved) == 0;
	if (!pinned)
		bench_note(ctx, "  (could not pin to one CPU; round trips will be noisier)");
	r = roundtrips(vs, nv, n);
	/* Throughput is measured with the scheduler free to use both CPUs. */
	if (pinned)
		(void)sched_setaffinity(0, sizeof saved, &saved);
	if (r < 0)
		goto out_free;
	raw_med = median_of(&vs[V_RAW], n);
	raw_p99 = p99_of(&vs[V_RAW], n);
	bench_report(ctx, "ipc.roundtrip.median", median_of(&vs[V_CHANNEL], n), "us",
		     "raw_seqpacket_pingpong.median", raw_med);
	bench_report(ctx, "ipc.roundtrip.p99", p99_of(&vs[V_CHANNEL], n), "us", "raw_seqpacket_pingpong.p99",
		     raw_p99);
	bench_report(ctx, "ipc.roundtrip.median", median_of(&vs[V_CHANNEL], n), "us",
		     "epoll_seqpacket_pingpong.median", median_of(&vs[V_EPOLL], n));
	bench_report(ctx, "ipc.roundtrip_sync.median", median_of(&vs[V_SYNC], n), "us",
		     "raw_seqpacket_pingpong.median", raw_med);
	bench_report(ctx, "ipc.roundtrip_sync.p99", p99_of(&vs[V_SYNC], n), "us", "raw_seqpacket_pingpong.p99",
		     raw_p99);
	bench_report(ctx, "epoll_seqpacket_pingpong.median", median_of(&vs[V_EPOLL], n), "us",
		     "raw_seqpacket_pingpong.median", raw_med);
#ifdef BH_BENCH_HAVE_ZMQ
	bench_report(ctx, "ipc.roundtrip.median", median_of(&vs[V_CHANNEL], n), "us",
		     "zeromq_ipc_reqrep.median", median_of(&vs[V_ZMQ], n));
	bench_report(ctx, "ipc.roundtrip.p99", p99_of(&vs[V_CHANNEL], n), "us", "zeromq_ipc_reqrep.p99",
		     p99_of(&vs[V_ZMQ], n));
	bench_report(ctx, "ipc.roundtrip_sync.median", median_of(&vs[V_SYNC], n), "us",
		     "zeromq_ipc_reqrep.median", median_of(&vs[V_ZMQ], n));
#else
	bench_note(ctx, "  (ZeroMQ peer skipped: libzmq3-dev was not installed at build time)");
#endif
	/* Throughput too is measured in alternating rounds; the rate is the mean over them. */
	for (int round = 0; round < THROUGHPUT_ROUNDS && r == 0; round++) {
		double a = 0, b = 0;

		r = channel_throughput(tn / THROUGHPUT_ROUNDS, &a);
		if (r == 0)
			r = raw_throughput(tn / THROUGHPUT_ROUNDS, &b);
		thr += a / THROUGHPUT_ROUNDS;
		raw_thr += b / THROUGHPUT_ROUNDS;
	}
	if (r < 0)
		goto out_free;
	bench_report(ctx, "ipc.oneway.throughput", thr / 1e6, "Mmsg/s", "raw_write_per_message.throughput",
		     raw_thr / 1e6);
	if (bench_allocs_counted()) {
		bench_report(ctx, "ipc.roundtrip.allocs_per_message", (double)vs[V_CHANNEL].allocs / n, "allocs",
			     NULL, 0);
		bench_report(ctx, "ipc.roundtrip_sync.allocs_per_message", (double)vs[V_SYNC].allocs / n,
			     "allocs", NULL, 0);
	} else {
		bench_note(ctx, "  (allocation counting is off in sanitizer builds)");
	}
out_free:
	for (size_t i = 0; i < V_COUNT; i++)
		free(vs[i].lat);
	return r;
}
