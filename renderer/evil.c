/*
 * Evil-worker mode (renderer/evil.h). Everything here runs inside the
 * renderer's sandbox, after its handshake: it is exactly what a compromised
 * renderer could do, and no more.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz/fuzz.h"
#include "renderer/evil.h"

#define EVIL_TICK_MS 1u
#define EVIL_BURST 16u
/* Mostly small frames: many per burst, and the broker reads them one by one. */
#define EVIL_MAX_FRAME 4096u

struct evil {
	const bh_registry *reg;
	struct evil_target to[2]; /* broker, gpu */
	unsigned targets;
	uint64_t rng;
	uint64_t sent, refused;
	bh_timer *tick;
	uint8_t buf[EVIL_MAX_FRAME];
};

static uint64_t rnd(struct evil *e)
{
	uint64_t x = e->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return e->rng = x;
}

int evil_parse_url(const char *url, uint64_t *seed, unsigned *targets)
{
	const char *p;

	if (strncmp(url, "about:evil", 10))
		return -EINVAL;
	*seed = 1;
	*targets = EVIL_TO_BROKER | EVIL_TO_GPU;
	p = url + 10;
	if (!*p)
		return 0;
	if (*p++ != '?')
		return -EINVAL;
	while (*p) {
		if (!strncmp(p, "seed=", 5)) {
			char *end;

			errno = 0;
			*seed = strtoull(p + 5, &end, 10);
			if (errno || end == p + 5 || *seed == 0)
				return -EINVAL;
			p = end;
		} else if (!strncmp(p, "to=broker", 9)) {
			*targets = EVIL_TO_BROKER;
			p += 9;
		} else if (!strncmp(p, "to=gpu", 6)) {
			*targets = EVIL_TO_GPU;
			p += 6;
		} else if (!strncmp(p, "to=both", 7)) {
			*targets = EVIL_TO_BROKER | EVIL_TO_GPU;
			p += 7;
		} else {
			return -EINVAL;
		}
		if (*p == '&')
			p++;
		else if (*p)
			return -EINVAL;
	}
	return 0;
}

/* One frame for receiver `to` in e->buf; returns its size. */
static size_t make_frame(struct evil *e, int to)
{
	const struct evil_target *t = &e->to[to];
	size_t n, count = bh_registry_count(e->reg);
	unsigned rounds;

	if (rnd(e) % 5 == 0 || count == 0) {
		/* Plain garbage, now and then with a believable header in front. */
		n = rnd(e) % 300;
		for (size_t i = 0; i < n; i++)
			e->buf[i] = (uint8_t)rnd(e);
		if (n >= BH_HEADER_SIZE && count && rnd(e) & 1) {
			bh_header h = { .magic = BH_WIRE_MAGIC, .version = BH_PROTOCOL_VERSION };

			h.type = bh_registry_at(e->reg, rnd(e) % count)->type;
			h.payload_len = (uint32_t)(n - BH_HEADER_SIZE);
			bh_header_encode(&h, e->buf);
		}
		return n;
	}
	/* A well-formed empty message of some registered type, then mutated by its descriptor. */
	{
		bh_header h = { .magic = BH_WIRE_MAGIC, .version = BH_PROTOCOL_VERSION };

		if (t->ntypes && rnd(e) % 8)
			h.type = t->types[rnd(e) % t->ntypes];
		else
			h.type = bh_registry_at(e->reg, rnd(e) % count)->type;
		h.request_id = (uint32_t)(rnd(e) % 4);
		bh_header_encode(&h, e->buf);
	}
	n = BH_HEADER_SIZE;
	rounds = 1 + (unsigned)(rnd(e) % 3);
	for (unsigned i = 0; i < rounds; i++)
		n = bh_fuzz_mutate(e->reg, e->buf, n, sizeof e->buf, (unsigned)rnd(e));
	return n;
}

static int send_frame(struct evil *e, int fd, size_t len)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 2)];
	} ctl;
	struct iovec iov = { e->buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	unsigned nfds = len >= BH_HEADER_SIZE ? e->buf[20] : 0;
	ssize_t r;

	/*
	 * Fds of the wrong kind where the header asks for some (the channel
	 * sockets themselves: a receiver that mapped one would be wrong).
	 */
	if (nfds && rnd(e) % 4) {
		struct cmsghdr *c;
		int fds[2] = { e->to[0].fd, e->to[1].fd >= 0 ? e->to[1].fd : e->to[0].fd };
		unsigned k = nfds > 2 ? 2 : nfds;

		memset(&ctl, 0, sizeof ctl);
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * k);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * k);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * k);
	}
	do
		r = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

static void on_tick(bh_timer *t, void *ud)
{
	struct evil *e = ud;

	for (unsigned i = 0; i < EVIL_BURST; i++) {
		size_t len;
		int to;

		if (e->targets == (EVIL_TO_BROKER | EVIL_TO_GPU))
			to = (int)(rnd(e) & 1);
		else
			to = e->targets == EVIL_TO_GPU;
		len = make_frame(e, to);
		if (send_frame(e, e->to[to].fd, len) == 0)
			e->sent++;
		else
			e->refused++;
	}
}

int evil_start(bh_loop *loop, const bh_registry *reg, const struct evil_target *broker,
	       const struct evil_target *gpu, uint64_t seed, unsigned targets, struct evil **out)
{
	struct evil *e;
	int r;

	if (broker->fd < 0)
		return -EBADF;
	e = calloc(1, sizeof *e);
	if (!e)
		return -ENOMEM;
	e->reg = reg;
	e->to[0] = *broker;
	e->to[1] = *gpu;
	e->targets = targets ? targets : EVIL_TO_BROKER;
	if (gpu->fd < 0)
		e->targets = EVIL_TO_BROKER;
	e->rng = seed ? seed : 1;
	r = bh_timer_create(loop, on_tick, e, &e->tick);
	if (r == 0)
		r = bh_timer_arm(e->tick, EVIL_TICK_MS, EVIL_TICK_MS);
	if (r < 0) {
		evil_stop(e);
		return r;
	}
	*out = e;
	return 0;
}

void evil_stop(struct evil *e)
{
	if (!e)
		return;
	bh_timer_destroy(e->tick);
	free(e);
}

uint64_t evil_sent(const struct evil *e)
{
	return e ? e->sent : 0;
}
