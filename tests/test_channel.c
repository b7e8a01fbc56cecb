/*
 * Channels between real processes over real SOCK_SEQPACKET socketpairs:
 * round trips, fd passing, every rejection, peers that die, flood or stop
 * reading, request/reply with timeouts, synchronous calls, and the Hello
 * handshake.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bulkhead/channel.h>

#include "bulkhead.pb-c.h"
#include "common/internal.h"
#include "testutil.h"

/* An application type for the tests: every scalar kind plus a repeated submessage, up to 4 fds. */
#define T_STATUS (BH_MSG_APP_BASE + 1)
#define T_HELLO_FDS (BH_MSG_APP_BASE + 2)

static bh_registry *make_registry(void)
{
	bh_registry *reg;

	assert_int_equal(bh_registry_create(&reg), 0);
	assert_int_equal(bh_registry_add(reg, T_STATUS, &bh__sandbox_status__descriptor, 4), 0);
	assert_int_equal(bh_registry_add(reg, T_HELLO_FDS, &bh__hello__descriptor, BH_MAX_FDS), 0);
	return reg;
}

/* ---- a recording channel owner ------------------------------------------- */

struct rec {
	bh_loop *loop;
	bh_channel *ch;
	int msgs;
	int bad_reason;
	char bad_detail[128];
	int closed;
	int close_err;
	int drained;
	uint64_t last_seq;
	int out_of_order;
	uint8_t last_packed[BH_MAX_MESSAGE];
	size_t last_packed_len;
	int last_fd_ok;
	int reply_status;
	int replies;
};

static void rec_message(bh_channel *ch, bh_msg *m, void *ud)
{
	struct rec *r = ud;

	r->msgs++;
	if (bh_msg_type(m) == BH_MSG_HEARTBEAT) {
		const Bh__Heartbeat *hb = (const Bh__Heartbeat *)bh_msg_body(m);

		if (hb->seq != r->last_seq + 1)
			r->out_of_order++;
		r->last_seq = hb->seq;
	} else {
		r->last_packed_len = protobuf_c_message_pack(bh_msg_body(m), r->last_packed);
	}
	if (bh_msg_nfds(m) > 0) {
		char buf[8] = { 0 };
		int fd = bh_msg_fd(m, 0);

		/* Each test fd is a pipe holding "fd0", or a memfd holding it. */
		r->last_fd_ok = fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC) &&
				pread(fd, buf, 3, 0) == 3 && memcmp(buf, "fd0", 3) == 0;
	}
}

static void rec_bad(bh_channel *ch, int reason, const char *detail, void *ud)
{
	struct rec *r = ud;

	r->bad_reason = reason;
	snprintf(r->bad_detail, sizeof r->bad_detail, "%s", detail ? detail : "");
}

static void rec_close(bh_channel *ch, int err, void *ud)
{
	struct rec *r = ud;

	r->closed = 1;
	r->close_err = err;
}

static void rec_drain(bh_channel *ch, void *ud)
{
	struct rec *r = ud;

	r->drained++;
}

static const bh_channel_ops rec_ops = {
	.on_message = rec_message,
	.on_bad_message = rec_bad,
	.on_close = rec_close,
	.on_drain = rec_drain,
};

/* Runs the loop until *flag is non-zero or `ms` pass. */
static void run_until(bh_loop *loop, const int *flag, int ms)
{
	uint64_t end = bh_now_ns() + (uint64_t)ms * 1000000ull;

	while (!*flag && bh_now_ns() < end)
		assert_true(bh_loop_run_once(loop, 50) >= 0);
}

/* ---- child processes ------------------------------------------------------ */

struct child {
	pid_t pid;
	int fd; /* parent's end */
};

static struct child spawn(void (*fn)(int fd, void *arg), void *arg)
{
	int sv[2];
	struct child c;

	assert_int_equal(bh_channel_socketpair(sv), 0);
	fflush(NULL);
	c.pid = fork();
	assert_true(c.pid >= 0);
	if (c.pid == 0) {
		close(sv[0]);
		bh_signals_reset();
		fn(sv[1], arg);
		_exit(0);
	}
	close(sv[1]);
	c.fd = sv[0];
	return c;
}

/* Blocks until the parent closes its end, so frames are read before EOF. */
static void wait_eof(int fd)
{
	char b[BH_MAX_MESSAGE];
	int fl = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	while (recv(fd, b, sizeof b, 0) > 0)
		;
}

static int raw_send_try(int fd, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	size_t clen = CMSG_SPACE(nfds * sizeof(int));
	uint8_t *cbuf = calloc(1, clen ? clen : 1);
	int fl = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	if (nfds) {
		struct cmsghdr *c;

		mh.msg_control = cbuf;
		mh.msg_controllen = clen;
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	ssize_t r = sendmsg(fd, &mh, MSG_NOSIGNAL);

	free(cbuf);
	return r == (ssize_t)len ? 0 : -1;
}

static void raw_send(int fd, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	if (raw_send_try(fd, buf, len, fds, nfds) < 0)
		_exit(90);
}

/* An fd whose content identifies it: a memfd holding "fd0". */
static int marked_fd(void)
{
	int fd = memfd_create("t", MFD_CLOEXEC);

	if (fd < 0 || write(fd, "fd0", 3) != 3)
		_exit(91);
	return fd;
}

static size_t frame(uint8_t *out, uint32_t type, uint16_t flags, uint32_t id,
		    const ProtobufCMessage *body, unsigned nfds)
{
	bh_header h = { .magic = BH_WIRE_MAGIC, .version = BH_PROTOCOL_VERSION, .flags = flags,
			.type = type, .request_id = id, .nfds = (uint8_t)nfds };
	size_t n = body ? protobuf_c_message_pack(body, out + BH_HEADER_SIZE) : 0;

	h.payload_len = (uint32_t)n;
	bh_header_encode(&h, out);
	return BH_HEADER_SIZE + n;
}

/* ---- round trip ----------------------------------------------------------- */

static void fill_status(Bh__SandboxStatus *s, Bh__SandboxLayer *layers, Bh__SandboxLayer **lp)
{
	bh__sandbox_status__init(s);
	s->profile = "renderer";
	for (int i = 0; i < 3; i++) {
		bh__sandbox_layer__init(&layers[i]);
		layers[i].name = i == 0 ? "seccomp" : i == 1 ? "userns" : "caps";
		layers[i].state = (Bh__SandboxLayer__State)i;
		layers[i].detail = "detail with \xc3\xa9 utf-8";
		lp[i] = &layers[i];
	}
	s->n_layers = 3;
	s->layers = lp;
	s->seccomp_mode = -2;
	s->seccomp_filters = 0xffffffffu;
	s->no_new_privs = 1;
	s->cap_eff = 0x8000000000000001ull;
	s->cap_bnd = UINT64_MAX;
	s->uid = 65534;
	s->ns_mnt = 4026531840ull;
	s->rlimit_as = 1ull << 40;
	s->fs_empty = 1;
}

/* Echo peer: sends every message back with the same fds. */
static void echo_message(bh_channel *ch, bh_msg *m, void *ud)
{
	int fds[BH_MAX_FDS];

	for (unsigned i = 0; i < bh_msg_nfds(m); i++)
		fds[i] = bh_msg_fd(m, i);
	if (bh_msg_flags(m) & BH_FLAG_REQUEST)
		bh_channel_reply(ch, m, bh_msg_type(m), bh_msg_body(m), fds, bh_msg_nfds(m));
	else
		bh_channel_send(ch, bh_msg_type(m), bh_msg_body(m), fds, bh_msg_nfds(m));
}

static void echo_close(bh_channel *ch, int err, void *ud)
{
	bh_loop_quit(ud, 0);
}

static const bh_channel_ops echo_ops = { .on_message = echo_message, .on_close = echo_close };

static void echo_child(int fd, void *arg)
{
	bh_registry *reg = make_registry();
	bh_loop *loop;
	bh_channel *ch;

	if (bh_loop_create(&loop) < 0 || bh_channel_create(loop, reg, fd, &echo_ops, NULL, NULL, &ch) < 0)
		_exit(10);
	bh_channel_set_userdata(ch, loop);
	bh_loop_run(loop);
	bh_channel_destroy(ch);
	bh_loop_destroy(loop);
	bh_registry_destroy(reg);
}

static void test_round_trip_every_field(void **state)
{
	int before = bh_test_count_fds();
	bh_registry *reg = make_registry();
	bh_loop *loop;
	struct rec r = { 0 };
	Bh__SandboxStatus s;
	Bh__SandboxLayer layers[3], *lp[3];
	uint8_t want[BH_MAX_MESSAGE];
	size_t want_len;
	int fd;
	struct child c = spawn(echo_child, NULL);

	assert_int_equal(bh_loop_create(&loop), 0);
	assert_int_equal(bh_channel_create(loop, reg, c.fd, &rec_ops, &r, NULL, &r.ch), 0);
	fill_status(&s, layers, lp);
	want_len = protobuf_c_message_pack(&s.base, want);
	fd = marked_fd();
	assert_int_equal(bh_channel_send(r.ch, T_STATUS, &s.base, &fd, 1), 0);
	close(fd); /* the channel holds its own duplicate */
	run_until(loop, &r.msgs, 5000);
	assert_int_equal(r.msgs, 1);
	assert_int_equal(r.last_packed_len, want_len);
	assert_memory_equal(r.last_packed, want, want_len);
	assert_true(r.last_fd_ok);
	assert_int_equal(r.bad_reason, 0);

	bh_channel_destroy(r.ch);
	bh_test_wait_ok(c.pid, 5000);
	bh_loop_destroy(loop);
	bh_registry_destroy(reg);
	assert_int_equal(bh_test_count_fds(), before);
}

static void test_send_errors(void **state)
{
	bh_registry *reg = make_registry();
	bh_loop *loop;
	struct rec r = { 0 };
	int sv[2], fds[BH_MAX_FDS + 1];
	Bh__Heartbeat hb = BH__HEARTBEAT__INIT;
	Bh__Hello big = BH__HELLO__INIT;
	uint8_t *blob = calloc(1, BH_MAX_MESSAGE);

	assert_int_equal(bh_loop_create(&loop), 0);
	assert_int_equal(bh_channel_socketpair(sv), 0);
	assert_int_equal(bh_channel_create(loop, reg, sv[0], &rec_ops, &r, NULL, &r.ch), 0);
	for (unsigned i = 0; i <= BH_MAX_FDS; i++)
		fds[i] = sv[1];
	/* unregistered type, wrong body type, too many fds for the type, oversized */
	assert_int_equal(bh_channel_send(r.ch, 0x7777, &hb.base, NULL, 0), -EINVAL);
	assert_int_equal(bh_channel_send(r.ch, BH_MSG_HELLO, &hb.base, NULL, 0), -EINVAL);
	assert_int_equal(bh_channel_send(r.ch, BH_MSG_HEARTBEAT, &hb.base, fds, 1), -EINVAL);
	assert_int_equal(bh_channel_send(r.ch, T_HELLO_FDS, &big.base, fds, BH_MAX_FDS + 1), -EINVAL);
	big.token.data = blob;
	big.token.len = BH_MAX_MESSAGE;
	assert_int_equal(bh_channel_send(r.ch, T_HELLO_FDS, &big.base, NULL, 0), -EMSGSIZE);
	assert_int_equal(bh_channel_reply(r.ch, NULL, BH_MSG_HEARTBEAT, &hb.base, NULL, 0), -EINVAL);
	/* A closed fd cannot be queued. */
	int dead = dup(sv[1]);
	close(dead);
	big.token.len = 0;
	assert_int_equal(bh_channel_send(r.ch, T_HELLO_FDS, &big.base, &dead, 1), -EBADF);
	bh_channel_close(r.ch);
	assert_int_equal(bh_channel_send(r.ch, BH_MSG_HEARTBEAT, &hb.base, NULL, 0), -EPIPE);
	bh_channel_destroy(r.ch);
	close(sv[1]);
	bh_loop_destroy(loop);
	bh_registry_destroy(reg);
	free(blob);
}

static void test_create_rejects_wrong_socket(void **state)
{
	int before = bh_test_count_fds();
	bh_registry *reg = make_registry();
	bh_loop *loop;
	bh_channel *ch;
	int sv[2], p[2];

	assert_int_equal(bh_loop_create(&loop), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(bh_channel_create(loop, reg, sv[0], &rec_ops, NULL, NULL, &ch), -EPROTOTYPE);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(bh_channel_create(loop, reg, p[0], &rec_ops, NULL, NULL, &ch), -ENOTSOCK);
	/* Ownership was taken in both cases: only sv[1] and p[1] remain. */
	close(sv[1]);
	close(p[1]);
	bh_loop_destroy(loop);
	bh_registry_destroy(reg);
	assert_int_equal(bh_test_count_fds(), before);
}

/* ---- rejections ----------------------------------------------------------- */

enum { MAX_CASE_FDS = 80 };

struct bad_case {
	const char *name;
	int reason;
	/* Builds the datagram; returns its length and the number of fds to attach. */
	size_t (*build)(uint8_t *buf, unsigned *nfds);
};

static size_t b_short(uint8_t *buf, unsigned *nfds)
{
	memset(buf, 0x42, 10);
	return 10;
}

static size_t b_empty(uint8_t *buf, unsigned *nfds)
{
	return 0;
}

static size_t hb_frame(uint8_t *buf)
{
	Bh__Heartbeat hb = BH__HEARTBEAT__INIT;

	hb.seq = 1;
	return frame(buf, BH_MSG_HEARTBEAT, 0, 0, &hb.base, 0);
}

static size_t b_magic(uint8_t *buf, unsigned *nfds)
{
	size_t n = hb_frame(buf);

	buf[0] ^= 0xff;
	return n;
}

static size_t b_version(uint8_t *buf, unsigned *nfds)
{
	size_t n = hb_frame(buf);

	buf[4] = 2;
	return n;
}

static size_t b_flags(uint8_t *buf, unsigned *nfds)
{
	size_t n = hb_frame(buf);

	buf[6] = 0x80;
	return n;
}

static size_t b_reserved(uint8_t *buf, unsigned *nfds)
{
	size_t n = hb_frame(buf);

	buf[22] = 1;
	return n;
}

static size_t b_length(uint8_t *buf, unsigned *nfds)
{
	size_t n = hb_frame(buf);

	buf[16] += 1; /* claims one byte more than the datagram holds */
	return n;
}

static size_t b_too_big(uint8_t *buf, unsigned *nfds)
{
	size_t n = BH_MAX_MESSAGE + 4096;
	bh_header h = { .magic = BH_WIRE_MAGIC, .version = BH_PROTOCOL_VERSION,
			.type = BH_MSG_HEARTBEAT, .payload_len = (uint32_t)(n - BH_HEADER_SIZE) };

	memset(buf, 0, n);
	bh_header_encode(&h, buf);
	return n;
}

static size_t b_ctrunc(uint8_t *buf, unsigned *nfds)
{
	*nfds = 70; /* more than the receiver's control buffer holds */
	return hb_frame(buf);
}

static size_t b_too_many_fds(uint8_t *buf, unsigned *nfds)
{
	Bh__SurfaceAttach sa = BH__SURFACE_ATTACH__INIT;

	*nfds = 2; /* SurfaceAttach takes one */
	return frame(buf, BH_MSG_SURFACE_ATTACH, 0, 0, &sa.base, 2);
}

static size_t b_over_max_fds(uint8_t *buf, unsigned *nfds)
{
	size_t n = hb_frame(buf);

	*nfds = BH_MAX_FDS + 3;
	buf[20] = (uint8_t)(BH_MAX_FDS + 3);
	return n;
}

static size_t b_unexpected_fds(uint8_t *buf, unsigned *nfds)
{
	size_t n = hb_frame(buf);

	*nfds = 1;
	buf[20] = 1;
	return n;
}

static size_t b_fd_count(uint8_t *buf, unsigned *nfds)
{
	Bh__SurfaceAttach sa = BH__SURFACE_ATTACH__INIT;

	*nfds = 0; /* header says one */
	return frame(buf, BH_MSG_SURFACE_ATTACH, 0, 0, &sa.base, 1);
}

static size_t b_missing_fds(uint8_t *buf, unsigned *nfds)
{
	Bh__SurfaceAttach sa = BH__SURFACE_ATTACH__INIT;

	*nfds = 0; /* SurfaceAttach always carries its region */
	return frame(buf, BH_MSG_SURFACE_ATTACH, 0, 0, &sa.base, 0);
}

static size_t b_type(uint8_t *buf, unsigned *nfds)
{
	Bh__Heartbeat hb = BH__HEARTBEAT__INIT;

	return frame(buf, 0x7777, 0, 0, &hb.base, 0);
}

static size_t b_decode(uint8_t *buf, unsigned *nfds)
{
	bh_header h = { .magic = BH_WIRE_MAGIC, .version = BH_PROTOCOL_VERSION,
			.type = BH_MSG_HEARTBEAT, .payload_len = 5 };

	bh_header_encode(&h, buf);
	/* field 1, varint, never terminated */
	memcpy(buf + BH_HEADER_SIZE, "\x08\xff\xff\xff\xff", 5);
	return BH_HEADER_SIZE + 5;
}

static size_t b_reply(uint8_t *buf, unsigned *nfds)
{
	Bh__Heartbeat hb = BH__HEARTBEAT__INIT;

	return frame(buf, BH_MSG_HEARTBEAT, BH_FLAG_REPLY, 999, &hb.base, 0);
}

static size_t b_error_not_reply(uint8_t *buf, unsigned *nfds)
{
	Bh__Error e = BH__ERROR__INIT;

	e.code = 5;
	return frame(buf, BH_MSG_ERROR, 0, 0, &e.base, 0);
}

static size_t b_request_without_id(uint8_t *buf, unsigned *nfds)
{
	Bh__Heartbeat hb = BH__HEARTBEAT__INIT;

	return frame(buf, BH_MSG_HEARTBEAT, BH_FLAG_REQUEST, 0, &hb.base, 0);
}

/* Heartbeat `seq` with BH_FLAG_MORE (and `flags`) at buf, then a plain one after it. */
static size_t coalesced_pair(uint8_t *buf, uint16_t flags, uint32_t id)
{
	Bh__Heartbeat hb = BH__HEARTBEAT__INIT;
	size_t n;

	hb.seq = 2;
	n = frame(buf, BH_MSG_HEARTBEAT, (uint16_t)(flags | BH_FLAG_MORE), id, &hb.base, 0);
	hb.seq = 3;
	return n + frame(buf + n, BH_MSG_HEARTBEAT, 0, 0, &hb.base, 0);
}

/* "Another frame follows", and none does: the flag stays and is refused. */
static size_t b_more_alone(uint8_t *buf, unsigned *nfds)
{
	size_t n = hb_frame(buf);

	buf[6] |= BH_FLAG_MORE;
	return n;
}

/* A first frame whose length leaves no room for the next header: not split, refused. */
static size_t b_more_lying(uint8_t *buf, unsigned *nfds)
{
	size_t n = coalesced_pair(buf, 0, 0);

	buf[16] += 40;
	return n;
}

/* Requests and replies never share a datagram. */
static size_t b_more_request(uint8_t *buf, unsigned *nfds)
{
	return coalesced_pair(buf, BH_FLAG_REQUEST, 7);
}

/* Nor do frames with fds: a SurfaceAttach, which takes one, coalesced with its fd. */
static size_t b_more_fds(uint8_t *buf, unsigned *nfds)
{
	Bh__SurfaceAttach sa = BH__SURFACE_ATTACH__INIT;
	size_t n = frame(buf, BH_MSG_SURFACE_ATTACH, BH_FLAG_MORE, 0, &sa.base, 1);

	*nfds = 1;
	return n + hb_frame(buf + n);
}

static const struct bad_case bad_cases[] = {
	{ "more-alone", BH_BAD_FLAGS, b_more_alone },
	{ "more-lying-length", BH_BAD_FLAGS, b_more_lying },
	{ "more-with-request", BH_BAD_FLAGS, b_more_request },
	{ "more-with-fds", BH_BAD_UNEXPECTED_FDS, b_more_fds },
	{ "short", BH_BAD_SHORT, b_short },
	{ "empty", BH_BAD_SHORT, b_empty },
	{ "magic", BH_BAD_MAGIC, b_magic },
	{ "version", BH_BAD_VERSION, b_version },
	{ "flags", BH_BAD_FLAGS, b_flags },
	{ "request-without-id", BH_BAD_FLAGS, b_request_without_id },
	{ "reserved", BH_BAD_RESERVED, b_reserved },
	{ "length", BH_BAD_LENGTH, b_length },
	{ "too-big", BH_BAD_TOO_BIG, b_too_big },
	{ "ctrunc", BH_BAD_CTRUNC, b_ctrunc },
	{ "too-many-fds-for-type", BH_BAD_TOO_MANY_FDS, b_too_many_fds },
	{ "more-than-max-fds", BH_BAD_TOO_MANY_FDS, b_over_max_fds },
	{ "unexpected-fds", BH_BAD_UNEXPECTED_FDS, b_unexpected_fds },
	{ "fd-count", BH_BAD_FD_COUNT, b_fd_count },
	{ "missing-fds", BH_BAD_MISSING_FDS, b_missing_fds },
	{ "unknown-type", BH_BAD_TYPE, b_type },
	{ "decode", BH_BAD_DECODE, b_decode },
	{ "reply-to-nothing", BH_BAD_REPLY, b_reply },
	{ "error-not-reply", BH_BAD_SEQUENCE, b_error_not_reply },
};

/*
 * The child sends a valid heartbeat, the bad frame (with its fds), then a
 * valid frame carrying an fd that must also be closed, and waits for EOF.
 */
static void bad_child(int fd, void *arg)
{
	const struct bad_case *bc = arg;
	uint8_t *buf = calloc(1, BH_MAX_MESSAGE + 8192);
	int fds[MAX_CASE_FDS];
	unsigned nfds = 0;
	size_t n;
	Bh__SurfaceAttach sa = BH__SURFACE_ATTACH__INIT;

	n = hb_frame(buf);
	raw_send(fd, buf, n, NULL, 0);
	n = bc->build(buf, &nfds);
	for (unsigned i = 0; i < nfds; i++)
		fds[i] = marked_fd();
	raw_send(fd, buf, n, fds, nfds);
	fds[0] = marked_fd();
	n = frame(buf, BH_MSG_SURFACE_ATTACH, 0, 0, &sa.base, 1);
	/* May fail: the receiver hangs up as soon as it sees the bad frame. */
	(void)raw_send_try(fd, buf, n, fds, 1);
	wait_eof(fd);
	free(buf);
}

static void test_rejections(void **state)
{
	bh_registry *reg = make_registry();

	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		const struct bad_case *bc = &bad_cases[i];
		int before = bh_test_count_fds();
		bh_loop *loop;
		struct rec r = { 0 };
		struct child c;

		assert_int_equal(bh_loop_create(&loop), 0);
		c = spawn(bad_child, (void *)bc);
		assert_int_equal(bh_channel_create(loop, reg, c.fd, &rec_ops, &r, NULL, &r.ch), 0);
		run_until(loop, &r.bad_reason, 5000);
		if (r.bad_reason != bc->reason)
			fail_msg("case %s: got reason %d (%s), want %d (%s)", bc->name, r.bad_reason,
				 bh_bad_reason_name(r.bad_reason), bc->reason,
				 bh_bad_reason_name(bc->reason));
		/* The valid frame before the bad one was delivered; nothing after it. */
		assert_int_equal(r.msgs, 1);
		assert_false(bh_channel_is_open(r.ch));
		assert_int_equal(r.closed, 0);
		bh_channel_destroy(r.ch);
		bh_loop_destroy(loop);
		bh_test_wait_ok(c.pid, 5000);
		/* Every fd that came with the bad frame or after it is closed. */
		if (bh_test_count_fds() != before)
			fail_msg("case %s: fd leak: %d before, %d after", bc->name, before,
				 bh_test_count_fds());
	}
	bh_registry_destroy(reg);
}

/* The application declares a message bad: same outcome, BH_BAD_APP. */
static void app_refuses(bh_channel *ch, bh_msg *m, void *ud)
{
	struct rec *r = ud;

	r->msgs++;
	bh_channel_bad_message(ch, "region too small");
}

static void attach_child(int fd, void *arg)
{
	uint8_t buf[256];
	Bh__SurfaceAttach sa = BH__SURFACE_ATTACH__INIT;
	int mfd = marked_fd();
	size_t n = frame(buf, BH_MSG_SURFACE_ATTACH, 0, 0, &sa.base, 1);

	raw_send(fd, buf, n, &mfd, 1);
	(void)raw_send_try(fd, buf, n, &mfd, 1);
	wait_eof(fd);
}

static void test_app_bad_message(void **state)
{
	int before = bh_test_count_fds();
	bh_registry *reg = make_registry();
	bh_loop *loop;
	struct rec r = { 0 };
	bh_channel_ops ops = rec_ops;
	struct child c = spawn(attach_child, NULL);

	ops.on_message = app_refuses;
	assert_int_equal(bh_loop_create(&loop), 0);
	assert_int_equal(bh_channel_create(loop, reg, c.fd, &ops, &r, NULL, &r.ch), 0);
	run_until(loop, &r.bad_reason, 5000);
	assert_int_equal(r.bad_reason, BH_BAD_APP);
	assert_string_equal(r.bad_detail, "region too small");
	assert_int_equal(r.msgs, 1);
	bh_channel_destroy(r.ch);
	bh_loop_destroy(loop);
	bh_test_wait_ok(c.pid, 5000);
	bh_registry_destroy(reg);
	assert_int_equal(bh_test_count_fds(), before);
}

/* ---- peers that die, flood or stall --------------------------------------- */

static void dying_child(int fd, void *arg)
{
	uint8_t buf[64];
	Bh__Heartbeat hb = BH__HEARTBEAT__INIT;

	for (int i = 1; i <= 100; i++) {
		hb.seq = (uint64_t)i;
		raw_send(fd, buf, frame(buf, BH_MSG_HEARTBEAT, 0, 0, &hb.base, 0), NULL, 0);
	}
	raise(SIGKILL);
}

static void test_peer_dies_mid_stream(void **state)
{
	int before = bh_test_count_fds(), status;
	bh_registry *reg = make_registry();
	bh_loop *loop;
	struct rec r = { 0 };
	struct child c = spawn(dying_child, NULL);

	assert_int_equal(bh_loop_create(&loop), 0);
	assert_int_equal(bh_channel_create(loop, reg, c.fd, &rec_ops, &r, NULL, &r.ch), 0);
	run_until(loop, &r.closed, 5000);
	/* Datagrams are atomic: everything sent before the kill arrives whole, in order. */
	assert_int_equal(r.msgs, 100);
	assert_int_equal(r.out_of_order, 0);
	assert_true(r.closed);
	assert_true(r.close_err == 0 || r.close_err == -ECONNRESET);
	assert_int_equal(r.bad_reason, 0);
	assert_int_equal(bh_test_wait(c.pid, 5000, &status), 0);
	assert_true(WIFSIGNALED(status));
	bh_channel_destroy(r.ch);
	bh_loop_destroy(loop);
	bh_registry_destroy(reg);
	assert_int_equal(bh_test_count_fds(), before);
}

/* A pending call fails with -ECONNRESET when the peer goes away. */
static void reply_rec(bh_channel *ch, int status, bh_msg *reply, void *ud)
{
	struct rec *r = ud;

	r->reply_status = status;
	r->replies++;
}

static void silent_then_exit(int fd, void *arg)
{
	char b[256];
	int fl = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	(void)!recv(fd, b, sizeof b, 0);
}

static void test_call_fails_when_peer_dies(void **state)
{
	bh_registry *reg = make_registry();
	bh_loop *loop;
	struct rec r = { 0 };
	Bh__Heartbeat hb = BH__HEARTBEAT__INIT;
	struct child c = spawn(silent_then_exit, NULL);

	assert_int_equal(bh_loop_create(&loop), 0);
	assert_int_equal(bh_channel_create(loop, reg, c.fd, &rec_ops, &r, NULL, &r.ch), 0);
	assert_int_equal(bh_channel_call(r.ch, BH_MSG_HEARTBEAT, &hb.base, NULL, 0, 0, reply_rec, &r), 0);
	run_until(loop, &r.replies, 5000);
	assert_int_equal(r.replies, 1);
	assert_int_equal(r.reply_status, -ECONNRESET);
	bh_test_wait_ok(c.pid, 5000);
	bh_channel_destroy(r.ch);
	bh_loop_destroy(loop);
	bh_registry_destroy(reg);
}

#define FLOOD_MSGS 100000

static void flood_child(int fd, void *arg)
{
	uint8_t buf[64];
	Bh__Heartbeat hb = BH__HEARTBEAT__INIT;

	for (int i = 1; i <= FLOOD_MSGS; i++) {
		hb.seq = (uint64_t)i;
		raw_send(fd, buf, frame(buf, BH_MSG_HEARTBEAT, 0, 0, &hb.base, 0), NULL, 0);
	}
	wait_eof(fd);
}

static void tick(bh_timer *t, void *ud)
{
	(*(int *)ud)++;
}

struct flood_state {
	struct rec r;
	int other_msgs;
};

static void other_message(bh_channel *ch, bh_msg *m, void *ud)
{
	(*(int *)ud)++;
}

static void test_flooding_peer(void **state)
{
	bh_registry *reg = make_registry();
	bh_loop *loop;
	static struct rec r;
	bh_timer *t;
	int ticks = 0, sv[2], other = 0, done = 0;
	bh_channel *quiet, *quiet_peer;
	bh_channel_ops other_ops = { .on_message = other_message };
	bh_channel_stats st;
	Bh__Heartbeat hb = BH__HEARTBEAT__INIT;
	struct mallinfo2 m0, m1;
	struct child c;

	memset(&r, 0, sizeof r);
	assert_int_equal(bh_loop_create(&loop), 0);
	/* A second, well-behaved channel must keep being served during the flood. */
	assert_int_equal(bh_channel_socketpair(sv), 0);
	assert_int_equal(bh_channel_create(loop, reg, sv[0], &other_ops, &other, NULL, &quiet), 0);
	assert_int_equal(bh_channel_create(loop, reg, sv[1], &other_ops, NULL, NULL, &quiet_peer), 0);
	assert_int_equal(bh_timer_create(loop, tick, &ticks, &t), 0);
	assert_int_equal(bh_timer_arm(t, 1, 1), 0);
	c = spawn(flood_child, NULL);
	assert_int_equal(bh_channel_create(loop, reg, c.fd, &rec_ops, &r, NULL, &r.ch), 0);
	m0 = mallinfo2();
	while (r.msgs < FLOOD_MSGS && !r.closed && !r.bad_reason) {
		assert_true(bh_loop_run_once(loop, 5000) > 0);
		if (r.msgs < FLOOD_MSGS / 2 && other < 1000) {
			hb.seq = (uint64_t)other + 1;
			bh_channel_send(quiet_peer, BH_MSG_HEARTBEAT, &hb.base, NULL, 0);
		}
	}
	m1 = mallinfo2();
	done = r.msgs;
	assert_int_equal(done, FLOOD_MSGS);
	assert_int_equal(r.out_of_order, 0);
	/* The other channel and the timer were served while the flood lasted. */
	assert_true(other > 0);
	assert_true(ticks > 0);
	bh_channel_get_stats(r.ch, &st);
	/* No per-message allocation: the arena never grew past its first block. */
	assert_true(st.arena_grows <= 1);
	if (m0.uordblks && m1.uordblks > m0.uordblks)
		assert_true(m1.uordblks - m0.uordblks < (1u << 20));
	/* recvmmsg batching: fewer receive syscalls than messages. */
	assert_true(st.recv_syscalls < (uint64_t)FLOOD_MSGS);
	bh_channel_destroy(r.ch);
	bh_test_wait_ok(c.pid, 10000);
	bh_channel_destroy(quiet);
	bh_channel_destroy(quiet_peer);
	bh_timer_destroy(t);
	bh_loop_destroy(loop);
	bh_registry_destroy(reg);
}

/* The child reads nothing until told to (a byte on `go`), then counts in-order heartbeats. */
struct stall_arg {
	int go;
	int total;
};

/*
 * One datagram of five coalesced heartbeats (seq 1..5), then a lone one
 * (6). The receiver pauses itself on the second and is resumed later.
 */
static void coalesced_child(int fd, void *arg)
{
	uint8_t buf[512];
	size_t n = 0;
	Bh__Heartbeat hb = BH__HEARTBEAT__INIT;

	(void)arg;
	for (uint64_t seq = 1; seq <= 5; seq++) {
		hb.seq = seq;
		n += frame(buf + n, BH_MSG_HEARTBEAT, seq < 5 ? BH_FLAG_MORE : 0, 0, &hb.base, 0);
	}
	raw_send(fd, buf, n, NULL, 0);
	hb.seq = 6;
	raw_send(fd, buf, frame(buf, BH_MSG_HEARTBEAT, 0, 0, &hb.base, 0), NULL, 0);
	wait_eof(fd);
}

static void pause_on_two(bh_channel *ch, bh_msg *m, void *ud)
{
	struct rec *r = ud;

	rec_message(ch, m, ud);
	if (r->last_seq == 2)
		bh_channel_pause(ch, 1);
}

static void test_coalesced_frames_split(void **state)
{
	static const bh_channel_ops ops = { .on_message = pause_on_two, .on_bad_message = rec_bad,
					    .on_close = rec_close };
	bh_registry *reg = make_registry();
	bh_loop *loop;
	struct rec r = { 0 };
	struct child c;
	int six = 0;

	assert_int_equal(bh_loop_create(&loop), 0);
	c = spawn(coalesced_child, NULL);
	assert_int_equal(bh_channel_create(loop, reg, c.fd, &ops, &r, NULL, &r.ch), 0);
	for (int i = 0; i < 100 && r.msgs < 2; i++)
		assert_true(bh_loop_run_once(loop, 50) >= 0);
	/* Paused in the middle of the datagram: nothing more, however long the loop runs. */
	for (int i = 0; i < 5; i++)
		assert_true(bh_loop_run_once(loop, 20) >= 0);
	assert_int_equal(r.msgs, 2);
	assert_int_equal(r.last_seq, 2);
	bh_channel_pause(r.ch, 0);
	for (int i = 0; i < 100 && !six; i++) {
		assert_true(bh_loop_run_once(loop, 50) >= 0);
		six = r.msgs == 6 || r.bad_reason || r.closed;
	}
	assert_int_equal(r.bad_reason, 0);
	assert_int_equal(r.msgs, 6);
	assert_int_equal(r.last_seq, 6);
	assert_int_equal(r.out_of_order, 0);
	bh_channel_destroy(r.ch);
	bh_loop_destroy(loop);
	bh_test_wait_ok(c.pid, 5000);
	bh_registry_destroy(reg);
}

/* Counts datagrams and frames until EOF; exits 0 if frames shared datagrams. */
static void counting_reader(int fd, void *arg)
{
	uint8_t buf[BH_MAX_MESSAGE];
	int fl = fcntl(fd, F_GETFL);
	unsigned dgrams = 0, frames = 0;
	ssize_t n;

	(void)arg;
	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	while ((n = recv(fd, buf, sizeof buf, 0)) > 0) {
		dgrams++;
		for (size_t off = 0; off < (size_t)n; frames++)
			off += bh__frame_split(buf + off, (size_t)n - off);
	}
	_exit(frames == 200 && dgrams < frames / 10 ? 0 : 30);
}

/* Frames queued together leave in shared datagrams, one-way ones without fds only. */
static void test_sender_coalesces(void **state)
{
	bh_registry *reg = make_registry();
	bh_loop *loop;
	struct rec r = { 0 };
	struct child c;
	Bh__Heartbeat hb = BH__HEARTBEAT__INIT;
	bh_channel_stats st;

	assert_int_equal(bh_loop_create(&loop), 0);
	c = spawn(counting_reader, NULL);
	assert_int_equal(bh_channel_create(loop, reg, c.fd, &rec_ops, &r, NULL, &r.ch), 0);
	for (int i = 0; i < 200; i++) {
		hb.seq = (uint64_t)i + 1;
		assert_int_equal(bh_channel_send(r.ch, BH_MSG_HEARTBEAT, &hb.base, NULL, 0), 0);
	}
	while (bh_channel_flush(r.ch) > 0)
		assert_true(bh_loop_run_once(loop, 100) >= 0);
	bh_channel_get_stats(r.ch, &st);
	assert_int_equal(st.msgs_sent, 200);
	bh_channel_destroy(r.ch);
	bh_test_wait_ok(c.pid, 5000);
	bh_loop_destroy(loop);
	bh_registry_destroy(reg);
}

static void stalled_reader(int fd, void *arg)
{
	struct stall_arg *a = arg;
	uint8_t buf[BH_MAX_MESSAGE];
	char b;
	uint64_t expect = 1;
	int fl = fcntl(fd, F_GETFL);

	if (read(a->go, &b, 1) != 1)
		_exit(20);
	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	for (int i = 0; i < a->total;) {
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		size_t off = 0;

		if (n <= 0)
			_exit(21);
		/* Heartbeats queued together come coalesced: split as a channel does. */
		while (off < (size_t)n) {
			uint8_t *f = buf + off;
			size_t flen = bh__frame_split(f, (size_t)n - off);
			bh_header h;
			Bh__Heartbeat *hb;

			off += flen;

			if (bh_header_decode(f, flen, &h) < 0)
				_exit(21);
			hb = bh__heartbeat__unpack(NULL, h.payload_len, f + BH_HEADER_SIZE);
			if (!hb || hb->seq != expect++)
				_exit(22);
			bh__heartbeat__free_unpacked(hb, NULL);
			i++;
		}
	}
}

static void test_stalled_peer_bounded_queue(void **state)
{
	bh_registry *reg = make_registry();
	bh_loop *loop;
	struct rec r = { 0 };
	bh_channel_limits lim;
	bh_channel_stats st;
	Bh__Heartbeat hb = BH__HEARTBEAT__INIT;
	int go[2], sent = 0, r2;
	struct stall_arg a;
	struct child c;
	const int total = 20000;

	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	a.go = go[0];
	a.total = total;
	c = spawn(stalled_reader, &a);
	close(go[0]);
	bh_channel_limits_default(&lim);
	lim.max_queue_bytes = 256 * 1024;
	lim.max_queue_msgs = 4096;
	assert_int_equal(bh_loop_create(&loop), 0);
	assert_int_equal(bh_channel_create(loop, reg, c.fd, &rec_ops, &r, &lim, &r.ch), 0);

	/* Fill the socket buffer and then the queue, until back-pressure says stop. */
	for (;;) {
		hb.seq = (uint64_t)sent + 1;
		r2 = bh_channel_send(r.ch, BH_MSG_HEARTBEAT, &hb.base, NULL, 0);
		if (r2 == -ENOBUFS)
			break;
		assert_int_equal(r2, 0);
		sent++;
		if (sent % 64 == 0)
			bh_loop_run_once(loop, 0);
		assert_true(sent < total);
	}
	bh_channel_get_stats(r.ch, &st);
	assert_true(st.queued_msgs <= lim.max_queue_msgs);
	assert_true(st.queued_bytes <= lim.max_queue_bytes);
	assert_true(st.peak_queued_bytes <= lim.max_queue_bytes);
	assert_int_equal(st.queue_full, 1);
	assert_int_equal(r.drained, 0);

	/* Let the reader go: the queue drains and on_drain says so. */
	assert_int_equal(write(go[1], "g", 1), 1);
	run_until(loop, &r.drained, 10000);
	assert_int_equal(r.drained, 1);
	while (sent < total) {
		hb.seq = (uint64_t)sent + 1;
		r2 = bh_channel_send(r.ch, BH_MSG_HEARTBEAT, &hb.base, NULL, 0);
		if (r2 == -ENOBUFS) {
			assert_true(bh_loop_run_once(loop, 1000) >= 0);
			continue;
		}
		assert_int_equal(r2, 0);
		sent++;
	}
	while (bh_channel_flush(r.ch) > 0)
		assert_true(bh_loop_run_once(loop, 1000) >= 0);
	bh_test_wait_ok(c.pid, 10000);
	close(go[1]);
	bh_channel_destroy(r.ch);
	bh_loop_destroy(loop);
	bh_registry_destroy(reg);
}

/* ---- request / reply ------------------------------------------------------ */

static void replier_message(bh_channel *ch, bh_msg *m, void *ud)
{
	const Bh__Heartbeat *hb = (const Bh__Heartbeat *)bh_msg_body(m);

	if (hb->seq == 1)
		return; /* never answered: the caller times out */
	if (hb->seq == 2) {
		bh_channel_reply_error(ch, m, EACCES, "not allowed");
		return;
	}
	bh_channel_reply(ch, m, BH_MSG_HEARTBEAT, bh_msg_body(m), NULL, 0);
}

static const bh_channel_ops replier_ops = { .on_message = replier_message, .on_close = echo_close };

static void replier_child(int fd, void *arg)
{
	bh_registry *reg = make_registry();
	bh_loop *loop;
	bh_channel *ch;

	if (bh_loop_create(&loop) < 0 || bh_channel_create(loop, reg, fd, &replier_ops, NULL, NULL, &ch) < 0)
		_exit(10);
	bh_channel_set_userdata(ch, loop);
	bh_loop_run(loop);
	bh_channel_destroy(ch);
	bh_loop_destroy(loop);
	bh_registry_destroy(reg);
}

struct call_result {
	int status;
	int done;
	uint64_t seq;
	char text[64];
};

static void call_done(bh_channel *ch, int status, bh_msg *reply, void *ud)
{
	struct call_result *cr = ud;

	cr->status = status;
	cr->done++;
	if (reply && bh_msg_type(reply) == BH_MSG_HEARTBEAT)
		cr->seq = ((const Bh__Heartbeat *)bh_msg_body(reply))->seq;
	if (reply && bh_msg_type(reply) == BH_MSG_ERROR)
		snprintf(cr->text, sizeof cr->text, "%s", ((const Bh__Error *)bh_msg_body(reply))->text);
}

static void test_request_reply_and_timeout(void **state)
{
	bh_registry *reg = make_registry();
	bh_loop *loop;
	struct rec r = { 0 };
	struct call_result slow = { 0 }, err = { 0 }, ok = { 0 }, cancelled = { 0 };
	Bh__Heartbeat hb = BH__HEARTBEAT__INIT;
	struct child c = spawn(replier_child, NULL);

	assert_int_equal(bh_loop_create(&loop), 0);
	assert_int_equal(bh_channel_create(loop, reg, c.fd, &rec_ops, &r, NULL, &r.ch), 0);
	hb.seq = 1;
	assert_int_equal(bh_channel_call(r.ch, BH_MSG_HEARTBEAT, &hb.base, NULL, 0, 100, call_done, &slow), 0);
	hb.seq = 2;
	assert_int_equal(bh_channel_call(r.ch, BH_MSG_HEARTBEAT, &hb.base, NULL, 0, 5000, call_done, &err), 0);
	hb.seq = 3;
	assert_int_equal(bh_channel_call(r.ch, BH_MSG_HEARTBEAT, &hb.base, NULL, 0, 5000, call_done, &ok), 0);
	run_until(loop, &ok.done, 5000);
	run_until(loop, &slow.done, 5000);
	assert_int_equal(ok.done, 1);
	assert_int_equal(ok.status, 0);
	assert_int_equal(ok.seq, 3);
	assert_int_equal(err.done, 1);
	assert_int_equal(err.status, -EACCES);
	assert_string_equal(err.text, "not allowed");
	assert_int_equal(slow.done, 1);
	assert_int_equal(slow.status, -ETIMEDOUT);
	/* Replies never arrive as ordinary messages. */
	assert_int_equal(r.msgs, 0);
	assert_true(bh_channel_is_open(r.ch));

	/* Destroying the channel cancels what is still pending, exactly once. */
	hb.seq = 1;
	assert_int_equal(bh_channel_call(r.ch, BH_MSG_HEARTBEAT, &hb.base, NULL, 0, 0, call_done, &cancelled), 0);
	bh_channel_destroy(r.ch);
	assert_int_equal(cancelled.done, 1);
	assert_int_equal(cancelled.status, -ECANCELED);
	bh_test_wait_ok(c.pid, 5000);
	bh_loop_destroy(loop);
	bh_registry_destroy(reg);
}

/* Reads one datagram from the raw end now, without waiting: its header, or -errno. */
static int recv_header_now(int fd, bh_header *h)
{
	uint8_t buf[BH_MAX_MESSAGE];
	ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);

	if (n < 0)
		return -errno;
	return bh_header_decode(buf, (size_t)n, h);
}

static void reply_then_close(bh_channel *ch, bh_msg *m, void *ud)
{
	struct rec *r = ud;

	r->msgs++;
	assert_int_equal(bh_channel_reply(ch, m, BH_MSG_HEARTBEAT, bh_msg_body(m), NULL, 0), 0);
	bh_channel_close(ch);
}

static const bh_channel_ops reply_close_ops = { .on_message = reply_then_close, .on_close = rec_close };

/*
 * A request or a reply that finds the queue empty leaves inside the call
 * that made it; behind queued frames it waits its turn, and a socket that
 * cannot take it now leaves it queued for the flush.
 */
static void test_requests_and_replies_go_out_at_once(void **state)
{
	bh_registry *reg = make_registry();
	bh_loop *loop;
	struct rec r = { 0 };
	struct call_result res = { 0 };
	Bh__Heartbeat hb = BH__HEARTBEAT__INIT;
	bh_channel_stats st;
	uint8_t buf[256];
	bh_header h;
	int sv[2], filled = 0;

	assert_int_equal(bh_loop_create(&loop), 0);
	assert_int_equal(bh_channel_socketpair(sv), 0);
	assert_int_equal(bh_channel_create(loop, reg, sv[0], &rec_ops, &r, NULL, &r.ch), 0);

	/* Empty queue: on the socket before the loop runs. */
	hb.seq = 1;
	assert_int_equal(bh_channel_call(r.ch, BH_MSG_HEARTBEAT, &hb.base, NULL, 0, 0, call_done, &res), 0);
	assert_int_equal(recv_header_now(sv[1], &h), 0);
	assert_true(h.flags & BH_FLAG_REQUEST);
	bh_channel_get_stats(r.ch, &st);
	assert_int_equal(st.queued_msgs, 0);

	/* Behind a queued one-way frame: the order is kept, both wait for the flush. */
	assert_int_equal(bh_channel_send(r.ch, BH_MSG_HEARTBEAT, &hb.base, NULL, 0), 0);
	assert_int_equal(bh_channel_call(r.ch, BH_MSG_HEARTBEAT, &hb.base, NULL, 0, 0, call_done, &res), 0);
	assert_int_equal(recv_header_now(sv[1], &h), -EAGAIN);
	assert_int_equal(bh_channel_flush(r.ch), 0);
	assert_int_equal(recv_header_now(sv[1], &h), 0);
	assert_int_equal(h.flags, 0);
	assert_int_equal(recv_header_now(sv[1], &h), 0);
	assert_true(h.flags & BH_FLAG_REQUEST);

	/* A full socket: the request is queued, and leaves once there is room. */
	memset(buf, 0, sizeof buf);
	while (send(bh_channel_fd(r.ch), buf, sizeof buf, MSG_DONTWAIT) == (ssize_t)sizeof buf)
		filled++;
	assert_int_equal(errno, EAGAIN);
	assert_true(filled > 0);
	assert_int_equal(bh_channel_call(r.ch, BH_MSG_HEARTBEAT, &hb.base, NULL, 0, 0, call_done, &res), 0);
	bh_channel_get_stats(r.ch, &st);
	assert_int_equal(st.queued_msgs, 1);
	for (int i = 0; i < filled; i++)
		assert_int_equal(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT), (ssize_t)sizeof buf);
	for (int i = 0; i < 100 && st.queued_msgs; i++) {
		assert_true(bh_loop_run_once(loop, 100) >= 0);
		bh_channel_get_stats(r.ch, &st);
	}
	assert_int_equal(st.queued_msgs, 0);
	assert_int_equal(recv_header_now(sv[1], &h), 0);
	assert_true(h.flags & BH_FLAG_REQUEST);
	assert_true(bh_channel_is_open(r.ch));
	bh_channel_destroy(r.ch);

	/* A reply made in the handler is out before the handler closes the channel. */
	close(sv[1]);
	memset(&r, 0, sizeof r);
	assert_int_equal(bh_channel_socketpair(sv), 0);
	assert_int_equal(bh_channel_create(loop, reg, sv[0], &reply_close_ops, &r, NULL, &r.ch), 0);
	assert_int_equal(send(sv[1], buf, frame(buf, BH_MSG_HEARTBEAT, BH_FLAG_REQUEST, 7, &hb.base, 0), 0) > 0, 1);
	run_until(loop, &r.msgs, 5000);
	assert_int_equal(r.msgs, 1);
	assert_false(bh_channel_is_open(r.ch));
	assert_int_equal(recv_header_now(sv[1], &h), 0);
	assert_true(h.flags & BH_FLAG_REPLY);
	assert_int_equal(h.request_id, 7);
	bh_channel_destroy(r.ch);
	close(sv[1]);
	bh_loop_destroy(loop);
	bh_registry_destroy(reg);
}

static void test_pending_limit(void **state)
{
	bh_registry *reg = make_registry();
	bh_loop *loop;
	struct rec r = { 0 };
	bh_channel_limits lim;
	struct call_result cr[3] = { 0 };
	Bh__Heartbeat hb = BH__HEARTBEAT__INIT;
	int sv[2];

	bh_channel_limits_default(&lim);
	lim.max_pending = 2;
	assert_int_equal(bh_loop_create(&loop), 0);
	assert_int_equal(bh_channel_socketpair(sv), 0);
	assert_int_equal(bh_channel_create(loop, reg, sv[0], &rec_ops, &r, &lim, &r.ch), 0);
	assert_int_equal(bh_channel_call(r.ch, BH_MSG_HEARTBEAT, &hb.base, NULL, 0, 0, call_done, &cr[0]), 0);
	assert_int_equal(bh_channel_call(r.ch, BH_MSG_HEARTBEAT, &hb.base, NULL, 0, 0, call_done, &cr[1]), 0);
	assert_int_equal(bh_channel_call(r.ch, BH_MSG_HEARTBEAT, &hb.base, NULL, 0, 0, call_done, &cr[2]), -EAGAIN);
	close(sv[1]);
	run_until(loop, &cr[1].done, 5000);
	assert_int_equal(cr[0].status, -ECONNRESET);
	assert_int_equal(cr[1].status, -ECONNRESET);
	assert_int_equal(cr[2].done, 0);
	bh_channel_destroy(r.ch);
	bh_loop_destroy(loop);
	bh_registry_destroy(reg);
}

/* ---- synchronous calls ---------------------------------------------------- */

/*
 * A scripted peer that reads requests raw and answers each by the seq of its
 * Heartbeat, so that every case (events before the reply, too many of them,
 * late, bad or missing replies, a hang-up) is sent exactly as described.
 */
enum {
	SYNC_PLAIN = 10,    /* the reply */
	SYNC_EVENTS,        /* 3 events (seq 101..), then the reply */
	SYNC_FLOOD,         /* 8 events (seq 201..), then the reply */
	SYNC_ERROR,         /* an Error reply: EACCES */
	SYNC_LATE,          /* the reply after 300 ms */
	SYNC_FDS,           /* a reply of type T_HELLO_FDS with a marked fd */
	SYNC_BAD,           /* a reply whose payload cannot be unpacked, with an fd */
	SYNC_HANGUP,        /* 2 events (seq 301..), then exit */
};

static void sync_events(int fd, uint64_t first, int n)
{
	uint8_t buf[64];
	Bh__Heartbeat ev = BH__HEARTBEAT__INIT;

	for (int i = 0; i < n; i++) {
		ev.seq = first + (uint64_t)i;
		raw_send(fd, buf, frame(buf, BH_MSG_HEARTBEAT, 0, 0, &ev.base, 0), NULL, 0);
	}
}

static void sync_peer(int fd, void *arg)
{
	uint8_t in[BH_MAX_MESSAGE], out[BH_MAX_MESSAGE];
	int fl = fcntl(fd, F_GETFL);
	ssize_t n;

	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	while ((n = recv(fd, in, sizeof in, 0)) > 0) {
		Bh__Heartbeat *req;
		Bh__Error err = BH__ERROR__INIT;
		Bh__Hello hello = BH__HELLO__INIT;
		bh_header h;
		size_t len;
		int mfd;

		if (bh_header_decode(in, (size_t)n, &h) < 0 || !(h.flags & BH_FLAG_REQUEST))
			_exit(80);
		req = bh__heartbeat__unpack(NULL, h.payload_len, in + BH_HEADER_SIZE);
		if (!req)
			_exit(81);
		len = frame(out, BH_MSG_HEARTBEAT, BH_FLAG_REPLY, h.request_id, &req->base, 0);
		switch (req->seq) {
		case SYNC_EVENTS:
			sync_events(fd, 101, 3);
			break;
		case SYNC_FLOOD:
			sync_events(fd, 201, 8);
			break;
		case SYNC_ERROR:
			err.code = EACCES;
			err.text = "not allowed";
			len = frame(out, BH_MSG_ERROR, BH_FLAG_REPLY, h.request_id, &err.base, 0);
			break;
		case SYNC_LATE:
			usleep(300 * 1000);
			break;
		case SYNC_FDS:
			mfd = marked_fd();
			raw_send(fd, out, frame(out, T_HELLO_FDS, BH_FLAG_REPLY, h.request_id, &hello.base, 1),
				 &mfd, 1);
			close(mfd);
			len = 0;
			break;
		case SYNC_BAD:
			/* A type that takes fds, so that decoding is what fails. */
			mfd = marked_fd();
			len = frame(out, T_STATUS, BH_FLAG_REPLY, h.request_id, NULL, 1);
			bh_header_decode(out, len, &h);
			h.payload_len = 12;
			bh_header_encode(&h, out);
			/* Field 1 as a varint that never ends. */
			memset(out + BH_HEADER_SIZE, 0xff, 12);
			out[BH_HEADER_SIZE] = 0x08;
			raw_send(fd, out, BH_HEADER_SIZE + 12, &mfd, 1);
			close(mfd);
			len = 0;
			break;
		case SYNC_HANGUP:
			sync_events(fd, 301, 2);
			_exit(0);
		}
		if (len)
			raw_send(fd, out, len, NULL, 0);
		bh__heartbeat__free_unpacked(req, NULL);
	}
}

struct sync_owner {
	struct rec r;
	uint64_t seqs[16];
	int nseqs;
	int in_call; /* a message delivered while this is set breaks the contract */
	int during_call;
	struct call_result cr;
	int take_fd;
	int taken_fd;
};

static void sync_message(bh_channel *ch, bh_msg *m, void *ud)
{
	struct sync_owner *o = ud;

	if (o->in_call)
		o->during_call++;
	if (bh_msg_type(m) == BH_MSG_HEARTBEAT && o->nseqs < 16)
		o->seqs[o->nseqs++] = ((const Bh__Heartbeat *)bh_msg_body(m))->seq;
	o->r.msgs++;
}

static void sync_bad(bh_channel *ch, int reason, const char *detail, void *ud)
{
	rec_bad(ch, reason, detail, &((struct sync_owner *)ud)->r);
}

static void sync_close(bh_channel *ch, int err, void *ud)
{
	rec_close(ch, err, &((struct sync_owner *)ud)->r);
}

static const bh_channel_ops sync_ops = { .on_message = sync_message, .on_bad_message = sync_bad,
					 .on_close = sync_close };

static void sync_cb(bh_channel *ch, int status, bh_msg *reply, void *ud)
{
	struct sync_owner *o = ud;

	call_done(ch, status, reply, &o->cr);
	if (reply && o->take_fd && bh_msg_nfds(reply) == 1)
		o->taken_fd = bh_msg_take_fd(reply, 0);
}

/* One synchronous call with request seq `seq`; returns its status (also checked against cb's). */
static int sync_call(struct sync_owner *o, uint64_t seq, unsigned timeout_ms)
{
	Bh__Heartbeat hb = BH__HEARTBEAT__INIT;
	int st;

	memset(&o->cr, 0, sizeof o->cr);
	hb.seq = seq;
	o->in_call = 1;
	st = bh_channel_call_sync(o->r.ch, BH_MSG_HEARTBEAT, &hb.base, NULL, 0, timeout_ms, sync_cb, o);
	o->in_call = 0;
	assert_int_equal(o->cr.done, 1);
	assert_int_equal(o->cr.status, st);
	assert_int_equal(o->during_call, 0);
	return st;
}

/* Runs the loop until `n` messages in all were delivered, or 5 s pass. */
static void run_until_msgs(bh_loop *loop, const struct sync_owner *o, int n)
{
	uint64_t end = bh_now_ns() + 5000000000ull;

	while (o->r.msgs < n && bh_now_ns() < end)
		assert_true(bh_loop_run_once(loop, 50) >= 0);
	assert_int_equal(o->r.msgs, n);
}

static struct child sync_setup(struct sync_owner *o, bh_registry **reg, bh_loop **loop)
{
	struct child c = spawn(sync_peer, NULL);

	memset(o, 0, sizeof *o);
	o->taken_fd = -1;
	*reg = make_registry();
	assert_int_equal(bh_loop_create(loop), 0);
	assert_int_equal(bh_channel_create(*loop, *reg, c.fd, &sync_ops, o, NULL, &o->r.ch), 0);
	return c;
}

static void sync_teardown(struct sync_owner *o, struct child c, bh_registry *reg, bh_loop *loop)
{
	bh_channel_destroy(o->r.ch);
	bh_test_wait_ok(c.pid, 5000);
	bh_loop_destroy(loop);
	bh_registry_destroy(reg);
}

static void test_call_sync(void **state)
{
	int before = bh_test_count_fds();
	struct sync_owner o;
	bh_registry *reg;
	bh_loop *loop;
	struct child c = sync_setup(&o, &reg, &loop);
	char buf[4] = { 0 };

	assert_int_equal(sync_call(&o, SYNC_PLAIN, 5000), 0);
	assert_int_equal(o.cr.seq, SYNC_PLAIN);

	/* Events sent before the reply wait for the loop, in order. */
	assert_int_equal(sync_call(&o, SYNC_EVENTS, 5000), 0);
	assert_int_equal(o.cr.seq, SYNC_EVENTS);
	assert_int_equal(o.r.msgs, 0);
	run_until_msgs(loop, &o, 3);
	assert_int_equal(o.seqs[0], 101);
	assert_int_equal(o.seqs[1], 102);
	assert_int_equal(o.seqs[2], 103);

	/* ...and wait for the channel to be resumed when it is paused. */
	bh_channel_pause(o.r.ch, 1);
	assert_int_equal(sync_call(&o, SYNC_EVENTS, 5000), 0);
	assert_true(bh_loop_run_once(loop, 100) >= 0);
	assert_int_equal(o.r.msgs, 3);
	bh_channel_pause(o.r.ch, 0);
	run_until_msgs(loop, &o, 6);
	assert_int_equal(o.seqs[5], 103);

	assert_int_equal(sync_call(&o, SYNC_ERROR, 5000), -EACCES);
	assert_string_equal(o.cr.text, "not allowed");

	/* A reply's fd: taken in the callback it is the caller's, else it is closed. */
	o.take_fd = 1;
	assert_int_equal(sync_call(&o, SYNC_FDS, 5000), 0);
	assert_true(o.taken_fd >= 0);
	assert_int_equal(pread(o.taken_fd, buf, 3, 0), 3);
	assert_string_equal(buf, "fd0");
	close(o.taken_fd);
	o.take_fd = 0;
	assert_int_equal(sync_call(&o, SYNC_FDS, 5000), 0);

	/* A timeout; the reply that comes later is dropped as late, not as bad. */
	assert_int_equal(sync_call(&o, SYNC_LATE, 100), -ETIMEDOUT);
	assert_int_equal(sync_call(&o, SYNC_PLAIN, 5000), 0);
	assert_int_equal(o.cr.seq, SYNC_PLAIN);
	assert_int_equal(o.r.bad_reason, 0);
	assert_true(bh_channel_is_open(o.r.ch));
	assert_int_equal(o.r.msgs, 6);

	/* O_NONBLOCK set again behind the channel's back: the call still waits, not spins. */
	{
		bh_channel_stats before_st, after_st;
		int fd = bh_channel_fd(o.r.ch);

		assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
		bh_channel_get_stats(o.r.ch, &before_st);
		assert_int_equal(sync_call(&o, SYNC_LATE, 0), 0);
		bh_channel_get_stats(o.r.ch, &after_st);
		assert_true(after_st.recv_syscalls - before_st.recv_syscalls <= 3);
	}

	sync_teardown(&o, c, reg, loop);
	assert_int_equal(bh_test_count_fds(), before);
}

/* One event too many before the reply: the call fails, nothing is lost or reordered. */
static void test_call_sync_overflow(void **state)
{
	struct sync_owner o;
	bh_registry *reg;
	bh_loop *loop;
	struct child c = sync_setup(&o, &reg, &loop);

	assert_int_equal(sync_call(&o, SYNC_FLOOD, 5000), -EOVERFLOW);
	run_until_msgs(loop, &o, 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(o.seqs[i], 201 + i);
	assert_int_equal(sync_call(&o, SYNC_PLAIN, 5000), 0);
	assert_int_equal(o.r.bad_reason, 0);
	assert_int_equal(o.r.msgs, 8);
	sync_teardown(&o, c, reg, loop);
}

/* A reply that fails validation closes the channel and every fd it brought. */
static void test_call_sync_bad_reply(void **state)
{
	int before = bh_test_count_fds();
	struct sync_owner o;
	bh_registry *reg;
	bh_loop *loop;
	struct child c = sync_setup(&o, &reg, &loop);

	assert_int_equal(sync_call(&o, SYNC_BAD, 5000), -ECONNRESET);
	assert_int_equal(o.r.bad_reason, BH_BAD_DECODE);
	assert_false(bh_channel_is_open(o.r.ch));
	sync_teardown(&o, c, reg, loop);
	assert_int_equal(bh_test_count_fds(), before);
}

/* The peer hangs up instead of answering: what it sent first is still delivered, then on_close. */
static void test_call_sync_peer_hangs_up(void **state)
{
	struct sync_owner o;
	bh_registry *reg;
	bh_loop *loop;
	struct child c = sync_setup(&o, &reg, &loop);

	assert_int_equal(sync_call(&o, SYNC_HANGUP, 5000), -ECONNRESET);
	run_until(loop, &o.r.closed, 5000);
	assert_int_equal(o.r.closed, 1);
	assert_int_equal(o.r.close_err, 0);
	assert_int_equal(o.r.msgs, 2);
	assert_int_equal(o.seqs[0], 301);
	assert_int_equal(o.seqs[1], 302);
	assert_int_equal(bh_channel_call_sync(o.r.ch, BH_MSG_HEARTBEAT, &(Bh__Heartbeat)BH__HEARTBEAT__INIT.base,
					      NULL, 0, 0, NULL, NULL), -EPIPE);
	sync_teardown(&o, c, reg, loop);
}

/* Inside a message callback of the same channel, a sync call is refused. */
static void nested_sync(bh_channel *ch, bh_msg *m, void *ud)
{
	struct sync_owner *o = ud;
	Bh__Heartbeat hb = BH__HEARTBEAT__INIT;

	hb.seq = SYNC_PLAIN;
	o->cr.status = bh_channel_call_sync(ch, BH_MSG_HEARTBEAT, &hb.base, NULL, 0, 1000, sync_cb, o);
	o->r.msgs++;
}

static void test_call_sync_inside_callback(void **state)
{
	static const bh_channel_ops ops = { .on_message = nested_sync, .on_close = sync_close };
	struct sync_owner o = { 0 };
	bh_registry *reg = make_registry();
	bh_loop *loop;
	uint8_t buf[64];
	Bh__Heartbeat hb = BH__HEARTBEAT__INIT;
	int sv[2];

	assert_int_equal(bh_loop_create(&loop), 0);
	assert_int_equal(bh_channel_socketpair(sv), 0);
	assert_int_equal(bh_channel_create(loop, reg, sv[0], &ops, &o, NULL, &o.r.ch), 0);
	raw_send(sv[1], buf, frame(buf, BH_MSG_HEARTBEAT, 0, 0, &hb.base, 0), NULL, 0);
	run_until(loop, &o.r.msgs, 5000);
	assert_int_equal(o.r.msgs, 1);
	assert_int_equal(o.cr.status, -EBUSY);
	assert_int_equal(o.cr.done, 0);
	/* Nothing was sent. */
	assert_int_equal(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	close(sv[1]);
	bh_channel_destroy(o.r.ch);
	bh_loop_destroy(loop);
	bh_registry_destroy(reg);
}

/* ---- handshake ------------------------------------------------------------ */

struct hello_arg {
	uint8_t token[BH_TOKEN_SIZE];
};

static void welcome_cb(bh_channel *ch, int status, bh_msg *reply, void *ud)
{
	int *out = ud;

	if (status == 0 && bh_msg_type(reply) == BH_MSG_WELCOME &&
	    ((const Bh__Welcome *)bh_msg_body(reply))->worker_id == 7)
		*out = 1;
	else
		*out = status < 0 ? status : -1;
}

static void hello_child(int fd, void *arg)
{
	struct hello_arg *a = arg;
	bh_registry *reg = make_registry();
	bh_loop *loop;
	bh_channel *ch;
	int result = 0;

	if (bh_loop_create(&loop) < 0 || bh_channel_create(loop, reg, fd, &echo_ops, NULL, NULL, &ch) < 0)
		_exit(10);
	bh_channel_set_userdata(ch, loop);
	if (bh_hello_send(ch, "renderer", 7, a->token, 5000, welcome_cb, &result) < 0)
		_exit(11);
	while (!result)
		if (bh_loop_run_once(loop, 5000) < 0)
			_exit(12);
	bh_channel_destroy(ch);
	bh_loop_destroy(loop);
	bh_registry_destroy(reg);
	/* exit 0: welcomed; 13: refused with EACCES; 14: other */
	_exit(result == 1 ? 0 : result == -EACCES ? 13 : 14);
}

struct verifier {
	struct rec r;
	pid_t expect_pid;
	const uint8_t *token;
	int verdict;
	int seen;
};

static void verify_message(bh_channel *ch, bh_msg *m, void *ud)
{
	struct verifier *v = ud;

	v->seen = 1;
	v->verdict = bh_hello_verify(ch, m, v->expect_pid, "renderer", 7, v->token);
	if (v->verdict == 0)
		assert_int_equal(bh_hello_welcome(ch, m, 7, 1000), 0);
	else
		assert_int_equal(bh_channel_reply_error(ch, m, -v->verdict, "hello refused"), 0);
}

static int handshake(const uint8_t *child_token, const uint8_t *broker_token, int lie_pid, int *exit_code)
{
	bh_registry *reg = make_registry();
	bh_loop *loop;
	struct verifier v = { 0 };
	bh_channel_ops ops = { .on_message = verify_message };
	struct hello_arg a;
	struct child c;
	int status;

	memcpy(a.token, child_token, BH_TOKEN_SIZE);
	c = spawn(hello_child, &a);
	v.expect_pid = lie_pid ? c.pid + 1 : c.pid;
	v.token = broker_token;
	assert_int_equal(bh_loop_create(&loop), 0);
	assert_int_equal(bh_channel_create(loop, reg, c.fd, &ops, &v, NULL, &v.r.ch), 0);
	run_until(loop, &v.seen, 5000);
	assert_true(v.seen);
	while (bh_channel_flush(v.r.ch) > 0)
		bh_loop_run_once(loop, 100);
	assert_int_equal(bh_test_wait(c.pid, 5000, &status), 0);
	*exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 100;
	bh_channel_destroy(v.r.ch);
	bh_loop_destroy(loop);
	bh_registry_destroy(reg);
	return v.verdict;
}

static void test_hello_handshake(void **state)
{
	uint8_t tok[BH_TOKEN_SIZE], other[BH_TOKEN_SIZE];
	int code;

	assert_int_equal(bh_token_generate(tok), 0);
	assert_int_equal(bh_token_generate(other), 0);
	assert_memory_not_equal(tok, other, BH_TOKEN_SIZE);
	assert_int_equal(handshake(tok, tok, 0, &code), 0);
	assert_int_equal(code, 0);
	assert_int_equal(handshake(other, tok, 0, &code), -EACCES);
	assert_int_equal(code, 13);
	/* Right token, but the kernel says the peer is not the child we expect. */
	assert_int_equal(handshake(tok, tok, 1, &code), -ESRCH);
	assert_int_equal(code, 14);
}

/* Lookups find every registered type, however the ids are spread, and nothing else. */
static void test_registry_lookup(void **state)
{
	static const uint32_t app[] = { BH_MSG_APP_BASE, BH_MSG_APP_BASE + 1, BH_MSG_APP_BASE + 5,
					BH_MSG_APP_BASE + 6, 0x20000, 0xfffffffe };
	bh_registry *reg;
	size_t fw;

	assert_int_equal(bh_registry_create(&reg), 0);
	fw = bh_registry_count(reg);
	for (size_t i = 0; i < (sizeof app / sizeof app[0]); i++)
		assert_int_equal(bh_registry_add(reg, app[i], &bh__heartbeat__descriptor, (unsigned)i % 2), 0);
	assert_int_equal(bh_registry_count(reg), fw + (sizeof app / sizeof app[0]));
	for (uint32_t t = 1; t <= fw; t++)
		assert_int_equal(bh_registry_lookup(reg, t)->type, t);
	for (size_t i = 0; i < (sizeof app / sizeof app[0]); i++) {
		const bh_msg_type_info *info = bh_registry_lookup(reg, app[i]);

		assert_non_null(info);
		assert_int_equal(info->type, app[i]);
		assert_int_equal(info->max_fds, i % 2);
	}
	assert_null(bh_registry_lookup(reg, 0));
	assert_null(bh_registry_lookup(reg, (uint32_t)fw + 1));
	assert_null(bh_registry_lookup(reg, BH_MSG_APP_BASE + 2));
	assert_null(bh_registry_lookup(reg, BH_MSG_APP_BASE + 4));
	assert_null(bh_registry_lookup(reg, 0xffffffff));
	bh_registry_destroy(reg);
}

static void test_header_codec(void **state)
{
	uint8_t buf[BH_HEADER_SIZE];
	bh_header h = { .magic = BH_WIRE_MAGIC, .version = BH_PROTOCOL_VERSION, .flags = BH_FLAG_REQUEST,
			.type = 0x01020304, .request_id = 0xa0b0c0d0, .payload_len = 0, .nfds = 3 }, out;

	bh_header_encode(&h, buf);
	/* Little-endian on the wire regardless of the host. */
	assert_int_equal(buf[0], 'B');
	assert_int_equal(buf[3], '1');
	assert_int_equal(buf[8], 0x04);
	assert_int_equal(buf[15], 0xa0);
	assert_int_equal(bh_header_decode(buf, sizeof buf, &out), 0);
	assert_int_equal(out.type, h.type);
	assert_int_equal(out.request_id, h.request_id);
	assert_int_equal(out.nfds, 3);
	assert_int_equal(bh_header_decode(buf, sizeof buf - 1, &out), -BH_BAD_SHORT);
	for (int i = 0; i < BH_BAD_REASON_COUNT; i++)
		assert_non_null(bh_bad_reason_name(i));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_codec),
		cmocka_unit_test(test_registry_lookup),
		cmocka_unit_test(test_round_trip_every_field),
		cmocka_unit_test(test_send_errors),
		cmocka_unit_test(test_create_rejects_wrong_socket),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_coalesced_frames_split),
		cmocka_unit_test(test_sender_coalesces),
		cmocka_unit_test(test_app_bad_message),
		cmocka_unit_test(test_peer_dies_mid_stream),
		cmocka_unit_test(test_call_fails_when_peer_dies),
		cmocka_unit_test(test_flooding_peer),
		cmocka_unit_test(test_stalled_peer_bounded_queue),
		cmocka_unit_test(test_request_reply_and_timeout),
		cmocka_unit_test(test_pending_limit),
		cmocka_unit_test(test_requests_and_replies_go_out_at_once),
		cmocka_unit_test(test_call_sync),
		cmocka_unit_test(test_call_sync_overflow),
		cmocka_unit_test(test_call_sync_bad_reply),
		cmocka_unit_test(test_call_sync_peer_hangs_up),
		cmocka_unit_test(test_call_sync_inside_callback),
		cmocka_unit_test(test_hello_handshake),
	};

	signal(SIGPIPE, SIG_IGN);
	bh_test_deadline(240);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
