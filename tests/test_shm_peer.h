/*
 * Helpers of the shared-memory tests: one end of a real channel driven by its
 * own loop (one per process), raw SCM_RIGHTS fd passing, and checks that
 * make a forked child exit with a failure status instead of unwinding into
 * cmocka. Include after cmocka.h and testutil.h.
 */
#ifndef BH_TEST_SHM_PEER_H
#define BH_TEST_SHM_PEER_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bulkhead/channel.h>
#include <bulkhead/loop.h>
#include <bulkhead/shm.h>

/* In a forked child: on failure, say where and exit with status 3. */
#define CHILD_CHECK(cond)                                                                   \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "%s:%d: child check failed: %s\n", __FILE__, __LINE__, \
				#cond);                                                     \
			_exit(3);                                                           \
		}                                                                           \
	} while (0)

#define CHILD_CHECK_EQ(a, b)                                                                \
	do {                                                                                \
		long long a_ = (long long)(a), b_ = (long long)(b);                         \
		if (a_ != b_) {                                                             \
			fprintf(stderr, "%s:%d: child check failed: %s == %lld, want %lld\n",  \
				__FILE__, __LINE__, #a, a_, b_);                            \
			_exit(3);                                                           \
		}                                                                           \
	} while (0)

/* Mappings of memfds in /proc/self/maps: what a leaked region would leave. */
static inline int count_memfd_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		if (strstr(line, "/memfd:"))
			n++;
	}
	fclose(f);
	return n;
}

/*
 * Snapshot of the mappings for leak checks. Under AddressSanitizer the
 * allocator maps memory of its own as freed blocks wait in quarantine, so
 * there only memfd mappings are compared; otherwise every mapping is.
 */
struct maps_snapshot {
	int all, memfd;
};

static inline struct maps_snapshot maps_snapshot(void)
{
	struct maps_snapshot m = { bh_test_count_maps(), count_memfd_maps() };

	return m;
}

#if defined(__SANITIZE_ADDRESS__)
#define MAPS_ALL_EXACT 0
#else
#define MAPS_ALL_EXACT 1
#endif

static inline bool maps_unchanged(struct maps_snapshot before)
{
	struct maps_snapshot now = maps_snapshot();

	return now.memfd == before.memfd && (!MAPS_ALL_EXACT || now.all == before.all);
}

struct peer;
typedef void (*peer_msg_fn)(struct peer *p, bh_msg *msg);

struct peer {
	bh_loop *loop;
	bh_registry *reg;
	bh_channel *ch;
	bh_timer *deadline;
	peer_msg_fn on_message;
	void *ctx;
	int bad_reason;        /* 0 unless the peer sent a bad message */
	char bad_detail[160];
	int closed;            /* the channel closed (EOF or error) */
	int timed_out;
};

static inline void peer_on_message(bh_channel *ch, bh_msg *msg, void *ud)
{
	struct peer *p = ud;

	(void)ch;
	p->on_message(p, msg);
}

static inline void peer_on_bad(bh_channel *ch, int reason, const char *detail, void *ud)
{
	struct peer *p = ud;

	(void)ch;
	p->bad_reason = reason;
	snprintf(p->bad_detail, sizeof p->bad_detail, "%s", detail ? detail : "");
	bh_loop_quit(p->loop, 2);
}

static inline void peer_on_close(bh_channel *ch, int err, void *ud)
{
	struct peer *p = ud;

	(void)ch;
	(void)err;
	p->closed = 1;
	bh_loop_quit(p->loop, 1);
}

static const bh_channel_ops peer_ops __attribute__((unused)) = {
	.on_message = peer_on_message,
	.on_bad_message = peer_on_bad,
	.on_close = peer_on_close,
};

static inline void peer_on_deadline(bh_timer *t, void *ud)
{
	struct peer *p = ud;

	(void)t;
	p->timed_out = 1;
	bh_loop_quit(p->loop, -ETIMEDOUT);
}

/* Wraps `fd` (taken) in a channel on a new loop. 0 or -errno. */
static inline int peer_init(struct peer *p, int fd, peer_msg_fn on_message, void *ctx)
{
	int r;

	memset(p, 0, sizeof *p);
	p->on_message = on_message;
	p->ctx = ctx;
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
	r = bh_timer_create(p->loop, peer_on_deadline, p, &p->deadline);
	if (r < 0) {
		close(fd);
		return r;
	}
	return bh_channel_create(p->loop, p->reg, fd, &peer_ops, p, NULL, &p->ch);
}

static inline void peer_fini(struct peer *p)
{
	bh_channel_destroy(p->ch);
	bh_timer_destroy(p->deadline);
	bh_loop_destroy(p->loop);
	bh_registry_destroy(p->reg);
	memset(p, 0, sizeof *p);
}

/* Runs the loop until something quits it or `timeout_ms` passes (-ETIMEDOUT). */
static inline int peer_run(struct peer *p, unsigned timeout_ms)
{
	int r;

	if (bh_timer_arm(p->deadline, timeout_ms, 0) < 0)
		return -EIO;
	r = bh_loop_run(p->loop);
	bh_timer_disarm(p->deadline);
	return r;
}

/* Sends one byte with `fd` attached over a raw unix socket. 0 or -errno. */
static inline int send_fd(int sock, int fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	char byte = 'f';
	struct iovec iov = { &byte, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	ssize_t n;

	memset(&u, 0, sizeof u);
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof u.buf;
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof fd);
	do {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

/* Receives one fd sent by send_fd() (close-on-exec). Returns it, or -errno. */
static inline int recv_fd(int sock)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	char byte;
	struct iovec iov = { &byte, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	ssize_t n;
	int fd;

	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof u.buf;
	do {
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	c = CMSG_FIRSTHDR(&mh);
	if (n != 1 || !c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
		return -EBADMSG;
	memcpy(&fd, CMSG_DATA(c), sizeof fd);
	return fd;
}

#endif
