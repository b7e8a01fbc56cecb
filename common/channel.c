/*
 * Channels: framed protobuf-c messages with fds over SOCK_SEQPACKET.
 *
 * Receiving: one datagram per recvmsg() while traffic comes one message per
 * wake-up, up to RECV_BATCH per recvmmsg() once it comes in bunches, into
 * buffers allocated once (the batch's the first time one is needed; pages
 * are touched only as far as data arrives), each validated in
 * full before dispatch and decoded into a per-channel arena, so the steady
 * state allocates nothing. The control buffer has room for far more fds than
 * any frame may carry, so an over-stuffed frame is seen (and its fds closed)
 * rather than silently truncated by the kernel.
 *
 * Sending: frames are encoded straight into a bounded FIFO queue; a defer
 * flushes it with sendmmsg() before the loop sleeps, so a handler that sends
 * many messages costs few syscalls. A request or a reply that finds the
 * queue empty skips it and goes out at once: a request/reply costs one
 * send each way, made as early as it can be.
 * Runs of one-way frames without fds share datagrams (BH_FLAG_MORE), which
 * the receiving side splits again: the kernel's work is per datagram.
 *
 * Synchronous calls send at once and sleep in recvmsg() on the socket (made
 * blocking for them; every other call passes MSG_DONTWAIT). Datagrams that
 * come before the reply are left in the receive slots for the loop.
 *
 * Re-entrancy: user callbacks may destroy the channel. Every path that calls
 * out holds a reference; the memory is freed when the last one is dropped.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <bulkhead/channel.h>
#include <bulkhead/record.h>

#include "bulkhead.pb-c.h"
#include "common/arena.h"
#include "common/flat.h"
#include "common/internal.h"

#define RECV_BATCH 8
#define SEND_BATCH 64
/* Largest datagram of coalesced frames: small enough for one slab object in the kernel. */
#define COALESCE_MAX 3072u
/* Room to receive (and then close) more fds than BH_MAX_FDS: see above. */
#define CMSG_MAX_FDS 64
#define RECV_CMSG_SPACE (CMSG_SPACE(CMSG_MAX_FDS * sizeof(int)) + CMSG_SPACE(sizeof(struct ucred)))
#define SEND_CMSG_SPACE CMSG_SPACE(BH_MAX_FDS * sizeof(int))
/* Budget of datagrams handled per readiness event, for fairness between channels. */
#define RECV_BUDGET (RECV_BATCH * 4)

struct bh_msg {
	bh_header hdr;
	const ProtobufCMessage *body;
	int fds[BH_MAX_FDS];
	unsigned nfds;
	int have_creds;
	struct ucred creds;
};

/* A queued frame: this record, then the frame bytes, padded to 8. */
struct qrec {
	uint32_t len;
	uint32_t nfds;
	int fds[BH_MAX_FDS];
};

struct pending {
	uint32_t id; /* 0: free slot */
	uint64_t deadline_ns;
	bh_reply_cb cb;
	void *userdata;
};

union cmsg_recv {
	struct cmsghdr align;
	uint8_t buf[RECV_CMSG_SPACE];
};

union cmsg_send {
	struct cmsghdr align;
	uint8_t buf[SEND_CMSG_SPACE];
};

/*
 * The fields every message touches come first, together: after a context
 * switch each cache line the path needs may have to be fetched again, so
 * the hot ones share as few lines as possible; the batch arrays, used by
 * bursts only, come last.
 */
struct bh_channel {
	/* hot */
	int fd;
	int paused;
	int doomed;
	int refs;
	const bh_registry *reg;
	const bh_channel_ops *ops;
	void *userdata;
	bh_loop *loop;
	bh_msg *cur; /* message being dispatched, for bh_channel_bad_message() */
	bh_recorder *recorder; /* NULL unless recording: bh_channel_set_recorder() */
	bh_watch *watch;
	uint32_t watch_events;
	unsigned rpos, rcount; /* datagrams of the last recvmmsg() not yet handled */
	unsigned roff;         /* where the next frame starts in datagram rpos (BH_FLAG_MORE) */
	unsigned last_batch;   /* datagrams the last receive call returned */
	unsigned one_way;      /* wake-ups in a row that got one message and answered nothing */
	/* send side */
	uint8_t *q;
	size_t qcap, qhead, qtail;
	size_t queued_bytes;
	unsigned queued_msgs;
	int want_drain;
	struct pending *pending;
	unsigned npending;
	uint32_t next_id;
	bh_channel_limits limits;
	bh_arena arena;
	bh_channel_stats stats;
	/* receive side */
	uint8_t *rbuf;  /* one BH_MAX_MESSAGE slot, or RECV_BATCH of them (rslots) */
	unsigned rslots;
	struct iovec riov[RECV_BATCH];
	struct mmsghdr rmsg[RECV_BATCH];

	/* cold */
	bh_defer *flush_defer;
	bh_timer *call_timer;
	bh_defer *resume_defer;
	uint64_t timer_deadline;
	int blocking;         /* O_NONBLOCK cleared for bh_channel_call_sync() */
	uint64_t rcvtimeo_ns; /* SO_RCVTIMEO last set (0: none, block forever) */
	union cmsg_recv rcmsg[RECV_BATCH];
	struct mmsghdr smsg[SEND_BATCH];
	struct iovec siov[SEND_BATCH];
	union cmsg_send scmsg[SEND_BATCH];
};

/* ---- bh_msg accessors ---------------------------------------------------- */

uint32_t bh_msg_type(const bh_msg *m)
{
	return m->hdr.type;
}

uint32_t bh_msg_flags(const bh_msg *m)
{
	return m->hdr.flags;
}

uint32_t bh_msg_request_id(const bh_msg *m)
{
	return m->hdr.request_id;
}

const ProtobufCMessage *bh_msg_body(const bh_msg *m)
{
	return m->body;
}

unsigned bh_msg_nfds(const bh_msg *m)
{
	return m->nfds;
}

int bh_msg_fd(const bh_msg *m, unsigned i)
{
	if (i >= m->nfds || m->fds[i] < 0)
		return -EBADF;
	return m->fds[i];
}

int bh_msg_sender(const bh_msg *m, pid_t *pid, uid_t *uid, gid_t *gid)
{
	if (!m->have_creds)
		return -ENODATA;
	if (pid)
		*pid = m->creds.pid;
	if (uid)
		*uid = m->creds.uid;
	if (gid)
		*gid = m->creds.gid;
	return 0;
}

int bh_msg_take_fd(bh_msg *m, unsigned i)
{
	int fd;

	if (i >= m->nfds || m->fds[i] < 0)
		return -EBADF;
	fd = m->fds[i];
	m->fds[i] = -1;
	return fd;
}

/* ---- lifetime ------------------------------------------------------------ */

void bh_channel_limits_default(bh_channel_limits *l)
{
	l->max_queue_bytes = 1u << 20;
	l->max_queue_msgs = 1024;
	l->max_pending = 64;
	l->max_arena = 4u << 20;
}

int bh_channel_socketpair(int sv[2])
{
	int one = 1;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		return -errno;
	/*
	 * Set before any child exists, so that even the very first message
	 * (the Hello) carries the sender's kernel-checked credentials. SO_PEERCRED
	 * cannot serve here: on a socketpair it names the process that created it.
	 */
	if (setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0 ||
	    setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0) {
		int r = -errno;

		sv[0] = bh__close(sv[0]);
		sv[1] = bh__close(sv[1]);
		return r;
	}
	return 0;
}

int bh_channel_set_passcred(bh_channel *ch, int on)
{
	if (ch->fd < 0)
		return -EPIPE;
	on = !!on;
	if (setsockopt(ch->fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) < 0)
		return -errno;
	return 0;
}

static void on_io(bh_watch *w, int fd, uint32_t events, void *ud);
static void on_flush(bh_defer *d, void *ud);
static void on_call_timer(bh_timer *t, void *ud);
static void on_resume(bh_defer *d, void *ud);
static void close_remaining_fds(bh_channel *ch, unsigned from, unsigned n);

static int check_socket(int fd)
{
	int type = 0, flags;
	socklen_t len = sizeof type;

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return -errno;
	if (type != SOCK_SEQPACKET)
		return -EPROTOTYPE;
	flags = fcntl(fd, F_GETFL);
	if (flags < 0)
		return -errno;
	if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

int bh_channel_create(bh_loop *loop, const bh_registry *reg, int fd, const bh_channel_ops *ops,
		      void *userdata, const bh_channel_limits *limits, bh_channel **out)
{
	bh_channel *ch = NULL;
	int r;

	if (!loop || !reg || !ops || !ops->on_message || fd < 0) {
		r = -EINVAL;
		goto fail;
	}
	r = check_socket(fd);
	if (r < 0)
		goto fail;
	ch = calloc(1, sizeof *ch);
	if (!ch) {
		r = -ENOMEM;
		goto fail;
	}
	ch->loop = loop;
	ch->reg = reg;
	ch->ops = ops;
	ch->userdata = userdata;
	ch->fd = fd;
	ch->next_id = 1;
	if (limits)
		ch->limits = *limits;
	else
		bh_channel_limits_default(&ch->limits);
	if (ch->limits.max_pending == 0 || ch->limits.max_queue_msgs == 0 ||
	    ch->limits.max_queue_bytes < BH_MAX_MESSAGE || ch->limits.max_arena < 4096) {
		r = -EINVAL;
		goto fail;
	}
	bh__arena_init(&ch->arena, ch->limits.max_arena);
	r = bh__arena_reset(&ch->arena);
	if (r < 0)
		goto fail;
	/* Most channels never see a bunch of messages: the batch's buffers come when one does. */
	ch->rbuf = malloc(BH_MAX_MESSAGE);
	ch->pending = calloc(ch->limits.max_pending, sizeof *ch->pending);
	if (!ch->rbuf || !ch->pending) {
		r = -ENOMEM;
		goto fail;
	}
	ch->rslots = 1;
	ch->riov[0].iov_base = ch->rbuf;
	ch->riov[0].iov_len = BH_MAX_MESSAGE;
	r = bh_defer_create(loop, on_flush, ch, &ch->flush_defer);
	if (r < 0)
		goto fail;
	r = bh_timer_create(loop, on_call_timer, ch, &ch->call_timer);
	if (r < 0)
		goto fail;
	r = bh_defer_create(loop, on_resume, ch, &ch->resume_defer);
	if (r < 0)
		goto fail;
	ch->watch_events = BH_EV_IN;
	r = bh_loop_add_fd(loop, fd, ch->watch_events, on_io, ch, &ch->watch);
	if (r < 0)
		goto fail;
	*out = ch;
	return 0;
fail:
	if (ch) {
		bh_defer_destroy(ch->resume_defer);
		bh_timer_destroy(ch->call_timer);
		bh_defer_destroy(ch->flush_defer);
		bh__arena_fini(&ch->arena);
		free(ch->pending);
		free(ch->rbuf);
		free(ch);
	}
	bh__close(fd);
	return r;
}

static void drop_queue(bh_channel *ch)
{
	while (ch->qhead < ch->qtail) {
		struct qrec *rec = (struct qrec *)(ch->q + ch->qhead);

		bh__close_all(rec->fds, rec->nfds);
		ch->qhead += (sizeof *rec + rec->len + 7) & ~(size_t)7;
	}
	ch->qhead = ch->qtail = 0;
	ch->queued_bytes = 0;
	ch->queued_msgs = 0;
}

static void free_channel(bh_channel *ch)
{
	bh_defer_destroy(ch->resume_defer);
	bh_timer_destroy(ch->call_timer);
	bh_defer_destroy(ch->flush_defer);
	bh__arena_fini(&ch->arena);
	free(ch->pending);
	free(ch->rbuf);
	free(ch->q);
	free(ch);
}

static void ref(bh_channel *ch)
{
	ch->refs++;
}

/* Drops a reference; returns 1 if the channel is gone or closed (stop touching it). */
static int unref(bh_channel *ch)
{
	if (--ch->refs == 0 && ch->doomed) {
		free_channel(ch);
		return 1;
	}
	return ch->doomed || ch->fd < 0;
}

/* Fails every outstanding call with `status`. Callbacks may destroy the channel. */
static void fail_pending(bh_channel *ch, int status)
{
	for (unsigned i = 0; i < ch->limits.max_pending && ch->npending > 0; i++) {
		struct pending p = ch->pending[i];

		if (!p.id)
			continue;
		ch->pending[i].id = 0;
		ch->npending--;
		p.cb(ch, status, NULL, p.userdata);
	}
	bh_timer_disarm(ch->call_timer);
}

/* Closes the socket and drops what was queued; no callback. */
static void shut(bh_channel *ch)
{
	if (ch->fd < 0)
		return;
	bh_watch_remove(ch->watch);
	ch->watch = NULL;
	ch->fd = bh__close(ch->fd);
	/* Datagrams not handled yet still own fds; one already split gave them to its first frame. */
	close_remaining_fds(ch, ch->rpos + (ch->roff > 0), ch->rcount);
	ch->rpos = ch->rcount = 0;
	ch->roff = 0;
	drop_queue(ch);
	ch->want_drain = 0;
}

void bh_channel_close(bh_channel *ch)
{
	if (!ch)
		return;
	shut(ch);
	ref(ch);
	fail_pending(ch, -ECONNRESET);
	unref(ch);
}

void bh_channel_destroy(bh_channel *ch)
{
	if (!ch || ch->doomed)
		return;
	shut(ch);
	ch->doomed = 1;
	ref(ch);
	fail_pending(ch, -ECANCELED);
	unref(ch);
}

int bh_channel_is_open(const bh_channel *ch)
{
	return ch->fd >= 0;
}

int bh_channel_fd(const bh_channel *ch)
{
	return ch->fd;
}

void bh_channel_set_userdata(bh_channel *ch, void *userdata)
{
	ch->userdata = userdata;
}

void bh_channel_set_recorder(bh_channel *ch, bh_recorder *rec)
{
	ch->recorder = rec;
}

/* Out of line so that the I/O loops carry only a pointer test when nothing records. */
static __attribute__((noinline, cold)) void record_frame(bh_channel *ch, enum bh_record_dir dir,
							  const uint8_t *buf, size_t len,
							  const int *fds, unsigned nfds, int msg_flags)
{
	unsigned flags = ((msg_flags & MSG_TRUNC) ? BH_RECORD_TRUNCATED : 0) |
			 ((msg_flags & MSG_CTRUNC) ? BH_RECORD_CTRUNC : 0);

	/* A failed write is kept in the recorder's status; the channel carries on. */
	(void)bh_recorder_write(ch->recorder, dir, buf, len, fds, nfds, flags);
}

int bh_channel_peer(const bh_channel *ch, pid_t *pid, uid_t *uid, gid_t *gid)
{
	struct ucred cred;
	socklen_t len = sizeof cred;

	if (ch->fd < 0)
		return -EPIPE;
	if (getsockopt(ch->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	if (pid)
		*pid = cred.pid;
	if (uid)
		*uid = cred.uid;
	if (gid)
		*gid = cred.gid;
	return 0;
}

void bh_channel_get_stats(const bh_channel *ch, bh_channel_stats *out)
{
	*out = ch->stats;
	out->queued_bytes = ch->queued_bytes;
	out->queued_msgs = ch->queued_msgs;
	out->arena_grows = ch->arena.grows;
}

/* Orderly or failed end of the connection: on_close, then nothing more. */
static void closed_by_peer(bh_channel *ch, int err)
{
	shut(ch);
	fail_pending(ch, -ECONNRESET);
	if (!ch->doomed && ch->ops->on_close)
		ch->ops->on_close(ch, err, ch->userdata);
}

static void report_bad(bh_channel *ch, int reason, const char *detail)
{
	ch->stats.bad_reason = reason;
	bh__log(ch->loop, BH_LOG_WARN, "channel fd %d: bad message: %s%s%s", ch->fd,
		bh_bad_reason_name(reason), detail ? ": " : "", detail ? detail : "");
	shut(ch);
	fail_pending(ch, -ECONNRESET);
	if (!ch->doomed && ch->ops->on_bad_message)
		ch->ops->on_bad_message(ch, reason, detail, ch->userdata);
}

void bh_channel_bad_message(bh_channel *ch, const char *detail)
{
	if (ch->doomed || ch->fd < 0)
		return;
	if (ch->cur)
		bh__close_all(ch->cur->fds, ch->cur->nfds);
	ref(ch);
	report_bad(ch, BH_BAD_APP, detail);
	unref(ch);
}

/* ---- sending ------------------------------------------------------------- */

static size_t rec_size(size_t frame_len)
{
	return (sizeof(struct qrec) + frame_len + 7) & ~(size_t)7;
}

/* Makes room for `need` more bytes at the tail. 0 or -ENOMEM. */
static int queue_reserve(bh_channel *ch, size_t need)
{
	size_t cap;
	uint8_t *q;

	if (ch->qtail + need <= ch->qcap)
		return 0;
	if (ch->qhead > 0) {
		memmove(ch->q, ch->q + ch->qhead, ch->qtail - ch->qhead);
		ch->qtail -= ch->qhead;
		ch->qhead = 0;
		if (ch->qtail + need <= ch->qcap)
			return 0;
	}
	cap = ch->qcap ? ch->qcap : 16384;
	while (cap < ch->qtail + need)
		cap *= 2;
	q = realloc(ch->q, cap);
	if (!q)
		return -ENOMEM;
	ch->q = q;
	ch->qcap = cap;
	return 0;
}

/*
 * A request or a reply that finds the queue empty goes out at once, from
 * inside the call that made it: the peer is most likely waiting for it, and
 * nothing could share its datagram anyway. What the loop would do after the
 * handler returns can then happen while the peer works on it. Only a whole
 * send counts; anything else leaves the frame queued for the flush, which
 * retries it and owns the error handling (a failed send closes the channel,
 * which must not happen inside the caller's bh_channel_call()).
 */
/* Counts (and records) a frame that went out, from the queue or not. */
static void frame_sent(bh_channel *ch, struct qrec *rec)
{
	if (__builtin_expect(ch->recorder != NULL, 0)) {
		/* Recorded as a frame of its own, as the receiver splits them. */
		bh__frame_set_more((uint8_t *)(rec + 1), 0);
		record_frame(ch, BH_RECORD_SENT, (const uint8_t *)(rec + 1), rec->len, rec->fds, rec->nfds,
			     0);
	}
	ch->stats.msgs_sent++;
	ch->stats.bytes_sent += rec->len;
}

static bool send_at_once(bh_channel *ch, struct qrec *rec)
{
	ch->stats.send_syscalls++;
	if (send(ch->fd, rec + 1, rec->len, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)rec->len)
		return false;
	frame_sent(ch, rec);
	return true;
}

static int enqueue(bh_channel *ch, uint32_t type, uint16_t flags, uint32_t request_id,
		   const ProtobufCMessage *body, const int *fds, unsigned nfds)
{
	const bh_msg_type_info *info;
	const bh_flat *flat;
	struct qrec *rec;
	bh_header h;
	size_t payload, frame, need;
	unsigned i;
	int r;

	if (ch->doomed || ch->fd < 0)
		return -EPIPE;
	info = bh_registry_lookup(ch->reg, type);
	if (!info || !body || body->descriptor != info->desc || nfds > info->max_fds ||
	    nfds < info->min_fds ||
	    (nfds && !fds))
		return -EINVAL;
	/*
	 * A flat message is packed in one pass straight into the queue, into
	 * room for its longest form; the limits below then judge its real size
	 * and nothing is kept if they refuse it.
	 */
	flat = body->n_unknown_fields ? NULL : bh__registry_flat(info);
	if (flat) {
		r = queue_reserve(ch, rec_size(BH_HEADER_SIZE + flat->max_packed));
		if (r < 0)
			return r;
		payload = bh__flat_pack(flat, body, ch->q + ch->qtail + sizeof *rec + BH_HEADER_SIZE);
	} else {
		payload = protobuf_c_message_get_packed_size(body);
		if (payload > BH_MAX_PAYLOAD)
			return -EMSGSIZE;
	}
	frame = BH_HEADER_SIZE + payload;
	if (ch->queued_msgs >= ch->limits.max_queue_msgs ||
	    ch->queued_bytes + frame > ch->limits.max_queue_bytes) {
		ch->want_drain = 1;
		ch->stats.queue_full++;
		return -ENOBUFS;
	}
	need = rec_size(frame);
	if (!flat) {
		r = queue_reserve(ch, need);
		if (r < 0)
			return r;
	}
	rec = (struct qrec *)(ch->q + ch->qtail);
	rec->len = (uint32_t)frame;
	rec->nfds = nfds;
	for (i = 0; i < nfds; i++) {
		/* Duplicated so that the caller keeps its fds and the queue owns its own. */
		rec->fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
		if (rec->fds[i] < 0) {
			r = errno == EBADF ? -EBADF : -EMFILE;
			bh__close_all(rec->fds, i);
			return r;
		}
	}
	h = (bh_header){ .magic = BH_WIRE_MAGIC, .version = BH_PROTOCOL_VERSION, .flags = flags,
			 .type = type, .request_id = request_id, .payload_len = (uint32_t)payload,
			 .nfds = (uint8_t)nfds };
	bh_header_encode(&h, (uint8_t *)(rec + 1));
	if (!flat)
		protobuf_c_message_pack(body, (uint8_t *)(rec + 1) + BH_HEADER_SIZE);
	if (nfds == 0 && (flags & (BH_FLAG_REQUEST | BH_FLAG_REPLY)) && ch->qhead == ch->qtail &&
	    send_at_once(ch, rec))
		return 0;
	ch->qtail += need;
	ch->queued_bytes += frame;
	ch->queued_msgs++;
	if (ch->queued_bytes > ch->stats.peak_queued_bytes)
		ch->stats.peak_queued_bytes = ch->queued_bytes;
	bh_defer_schedule(ch->flush_defer);
	return 0;
}

/* Reading while not paused, writing while something is queued. */
static void update_events(bh_channel *ch)
{
	uint32_t events = (ch->paused ? 0 : BH_EV_IN) | (ch->queued_msgs ? BH_EV_OUT : 0);

	if (ch->fd < 0 || !ch->watch || events == ch->watch_events)
		return;
	if (bh_watch_set_events(ch->watch, events) == 0)
		ch->watch_events = events;
}

/* A frame that may share a datagram: one-way, without fds. */
static bool coalescible(const struct qrec *rec)
{
	return rec->nfds == 0 && (bh__frame_flags((const uint8_t *)(rec + 1)) & ~BH_FLAG_MORE) == 0;
}

/*
 * Fills the send batch from the head of the queue, at most SEND_BATCH
 * frames. A frame with fds is a datagram of its own, with them as
 * SCM_RIGHTS; a run of one-way frames without fds shares one datagram of
 * up to COALESCE_MAX bytes, each frame but the last flagged
 * BH_FLAG_MORE, so that the kernel allocates, queues and wakes once for
 * the run instead of once per frame. frames[d] is the number of frames in
 * datagram d. Returns the number of datagrams.
 */
static unsigned build_batch(bh_channel *ch, uint8_t frames[SEND_BATCH])
{
	size_t off = ch->qhead;
	unsigned n = 0, v = 0;

	while (v < SEND_BATCH && off < ch->qtail) {
		struct qrec *rec = (struct qrec *)(ch->q + off);
		struct msghdr *mh = &ch->smsg[n].msg_hdr;
		size_t total = rec->len;

		memset(mh, 0, sizeof *mh);
		mh->msg_iov = &ch->siov[v];
		ch->siov[v].iov_base = rec + 1;
		ch->siov[v].iov_len = rec->len;
		v++;
		frames[n] = 1;
		off += rec_size(rec->len);
		if (rec->nfds) {
			struct cmsghdr *c = (struct cmsghdr *)ch->scmsg[n].buf;

			mh->msg_control = ch->scmsg[n].buf;
			mh->msg_controllen = CMSG_SPACE(rec->nfds * sizeof(int));
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(rec->nfds * sizeof(int));
			memcpy(CMSG_DATA(c), rec->fds, rec->nfds * sizeof(int));
		} else if (coalescible(rec)) {
			struct qrec *last = rec;

			while (v < SEND_BATCH && off < ch->qtail) {
				struct qrec *next = (struct qrec *)(ch->q + off);

				if (!coalescible(next) || total + next->len > COALESCE_MAX)
					break;
				bh__frame_set_more((uint8_t *)(last + 1), 1);
				ch->siov[v].iov_base = next + 1;
				ch->siov[v].iov_len = next->len;
				v++;
				frames[n]++;
				total += next->len;
				off += rec_size(next->len);
				last = next;
			}
			/* It may carry the flag from an earlier batch that did not go out. */
			bh__frame_set_more((uint8_t *)(last + 1), 0);
		}
		mh->msg_iovlen = frames[n];
		n++;
	}
	return n;
}

/* Writes queued frames. Returns frames still queued, or -errno after closing. */
static int flush(bh_channel *ch)
{
	uint8_t frames[SEND_BATCH];

	while (ch->fd >= 0 && ch->qhead < ch->qtail) {
		struct qrec *first = (struct qrec *)(ch->q + ch->qhead);
		unsigned n = 1;
		int sent;

		/*
		 * A lone frame without fds (a request, a reply) goes out with
		 * send(), which has no header to build or copy in; one datagram
		 * with sendmsg(); several with one sendmmsg().
		 */
		if (first->nfds == 0 && ch->qhead + rec_size(first->len) == ch->qtail) {
			frames[0] = 1;
			sent = send(ch->fd, first + 1, first->len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 ? -1 : 1;
		} else {
			n = build_batch(ch, frames);
			if (n == 1)
				sent = sendmsg(ch->fd, &ch->smsg[0].msg_hdr, MSG_DONTWAIT | MSG_NOSIGNAL) < 0
					       ? -1
					       : 1;
			else
				sent = sendmmsg(ch->fd, ch->smsg, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		}
		ch->stats.send_syscalls++;
		if (sent < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == ENOBUFS)
				break;
			return -errno;
		}
		for (int d = 0; d < sent; d++) {
			for (unsigned f = 0; f < frames[d]; f++) {
				struct qrec *rec = (struct qrec *)(ch->q + ch->qhead);

				frame_sent(ch, rec);
				bh__close_all(rec->fds, rec->nfds);
				ch->queued_bytes -= rec->len;
				ch->queued_msgs--;
				ch->qhead += rec_size(rec->len);
			}
		}
		if ((unsigned)sent < n)
			break;
	}
	if (ch->qhead == ch->qtail)
		ch->qhead = ch->qtail = 0;
	update_events(ch);
	return (int)ch->queued_msgs;
}

/* Flushes, then handles an error and the drain notification. Callbacks may destroy ch. */
static int flush_and_notify(bh_channel *ch)
{
	int r = flush(ch);

	if (r < 0) {
		closed_by_peer(ch, r == -EPIPE ? -EPIPE : r);
		return r;
	}
	if (ch->want_drain && ch->queued_bytes <= ch->limits.max_queue_bytes / 2 &&
	    ch->queued_msgs <= ch->limits.max_queue_msgs / 2) {
		ch->want_drain = 0;
		if (ch->ops->on_drain)
			ch->ops->on_drain(ch, ch->userdata);
	}
	return r;
}

static void on_flush(bh_defer *d, void *ud)
{
	bh_channel *ch = ud;

	ref(ch);
	flush_and_notify(ch);
	unref(ch);
}

int bh_channel_flush(bh_channel *ch)
{
	int r;

	if (ch->doomed || ch->fd < 0)
		return -EPIPE;
	ref(ch);
	r = flush_and_notify(ch);
	unref(ch);
	return r;
}

int bh_channel_send(bh_channel *ch, uint32_t type, const ProtobufCMessage *body, const int *fds,
		    unsigned nfds)
{
	return enqueue(ch, type, 0, 0, body, fds, nfds);
}

/*
 * The call timer fires for the earliest deadline it was armed for; replies
 * do not disarm it (a stray wake-up finds nothing due). Since every call
 * usually has the same timeout, a new call rarely moves it: no syscall per call.
 */
static void arm_call_timer(bh_channel *ch, uint64_t deadline)
{
	if (bh_timer_armed(ch->call_timer) && ch->timer_deadline <= deadline)
		return;
	if (bh_timer_arm_at(ch->call_timer, deadline, 0) < 0)
		bh__log(ch->loop, BH_LOG_ERROR, "channel: cannot arm the call timer");
	ch->timer_deadline = deadline;
}

/* Queues a request and registers its pending slot. 0 and *id, or -errno (nothing queued). */
static int add_call(bh_channel *ch, uint32_t type, const ProtobufCMessage *body, const int *fds,
		    unsigned nfds, uint64_t deadline_ns, bh_reply_cb cb, void *userdata, uint32_t *id)
{
	struct pending *slot = NULL;
	int r;

	if (ch->npending >= ch->limits.max_pending)
		return -EAGAIN;
	for (unsigned i = 0; i < ch->limits.max_pending; i++) {
		if (!ch->pending[i].id) {
			slot = &ch->pending[i];
			break;
		}
	}
	*id = ch->next_id++;
	if (ch->next_id == 0)
		ch->next_id = 1;
	r = enqueue(ch, type, BH_FLAG_REQUEST, *id, body, fds, nfds);
	if (r < 0)
		return r;
	*slot = (struct pending){ .id = *id, .cb = cb, .userdata = userdata, .deadline_ns = deadline_ns };
	ch->npending++;
	return 0;
}

int bh_channel_call(bh_channel *ch, uint32_t type, const ProtobufCMessage *body, const int *fds,
		    unsigned nfds, unsigned timeout_ms, bh_reply_cb cb, void *userdata)
{
	uint64_t deadline = timeout_ms ? bh_now_ns() + timeout_ms * 1000000ull : 0;
	uint32_t id;
	int r;

	if (!cb)
		return -EINVAL;
	r = add_call(ch, type, body, fds, nfds, deadline, cb, userdata, &id);
	if (r == 0 && timeout_ms)
		arm_call_timer(ch, deadline);
	return r;
}

int bh_channel_reply(bh_channel *ch, const bh_msg *req, uint32_t type, const ProtobufCMessage *body,
		     const int *fds, unsigned nfds)
{
	if (!req || !(req->hdr.flags & BH_FLAG_REQUEST))
		return -EINVAL;
	return enqueue(ch, type, BH_FLAG_REPLY, req->hdr.request_id, body, fds, nfds);
}

int bh_channel_reply_id(bh_channel *ch, uint32_t request_id, uint32_t type,
			const ProtobufCMessage *body, const int *fds, unsigned nfds)
{
	if (request_id == 0)
		return -EINVAL;
	return enqueue(ch, type, BH_FLAG_REPLY, request_id, body, fds, nfds);
}

int bh_channel_reply_error(bh_channel *ch, const bh_msg *req, int code, const char *text)
{
	Bh__Error err = BH__ERROR__INIT;

	err.code = code < 0 ? -code : code;
	err.text = (char *)(text ? text : "");
	return bh_channel_reply(ch, req, BH_MSG_ERROR, &err.base, NULL, 0);
}

static void on_call_timer(bh_timer *t, void *ud)
{
	bh_channel *ch = ud;
	uint64_t now = bh_now_ns();

	uint64_t earliest = UINT64_MAX;

	ref(ch);
	for (unsigned i = 0; i < ch->limits.max_pending && !ch->doomed; i++) {
		struct pending p = ch->pending[i];

		if (!p.id || !p.deadline_ns)
			continue;
		if (p.deadline_ns > now) {
			earliest = BH_MIN(earliest, p.deadline_ns);
			continue;
		}
		ch->pending[i].id = 0;
		ch->npending--;
		p.cb(ch, -ETIMEDOUT, NULL, p.userdata);
	}
	/* A callback may have made new calls (which armed the timer) or destroyed ch. */
	if (!ch->doomed && earliest != UINT64_MAX)
		arm_call_timer(ch, earliest);
	unref(ch);
}

/* ---- receiving ----------------------------------------------------------- */

/*
 * Collects every fd in the control data and the sender's credentials if the
 * kernel attached them; returns the fd count (may exceed BH_MAX_FDS).
 */
static unsigned collect_fds(struct msghdr *mh, int *fds, int *bad_cmsg, struct ucred *creds,
			    int *have_creds)
{
	unsigned n = 0;

	*bad_cmsg = 0;
	*have_creds = 0;
	if (mh->msg_controllen == 0)
		return 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			const uint8_t *data = CMSG_DATA(c);

			for (size_t j = 0; j < k; j++) {
				int fd;

				memcpy(&fd, data + j * sizeof(int), sizeof(int));
				/*
				 * Without SO_PASSCRED the credentials' share of the
				 * control buffer takes a few fds more than CMSG_MAX_FDS:
				 * close those here, nobody else sees them. The frame is
				 * refused for its fd count all the same.
				 */
				if (n < CMSG_MAX_FDS)
					fds[n++] = fd;
				else
					bh__close(fd);
			}
		} else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
			   c->cmsg_len == CMSG_LEN(sizeof(struct ucred)) && !*have_creds) {
			memcpy(creds, CMSG_DATA(c), sizeof *creds);
			*have_creds = 1;
		} else {
			*bad_cmsg = 1;
		}
	}
	return n;
}

static struct pending *find_pending(bh_channel *ch, uint32_t id)
{
	for (unsigned i = 0; i < ch->limits.max_pending; i++) {
		if (ch->pending[i].id == id)
			return &ch->pending[i];
	}
	return NULL;
}

/* Was `id` ever issued by us? Replies to those that timed out are dropped quietly. */
static int id_was_issued(const bh_channel *ch, uint32_t id)
{
	return id != 0 && id < ch->next_id;
}

/*
 * Validates, decodes and dispatches one datagram. Takes ownership of the
 * fds in `fds` and closes those nobody takes. `decoded` is its header if the
 * caller already decoded it (bh_header_decode() accepted it), else NULL.
 * Returns 0, or -1 when the channel must not be read any more (bad message,
 * closed, destroyed).
 */
static int handle_frame(bh_channel *ch, const uint8_t *buf, size_t len, int msg_flags, int *fds,
			unsigned nfds, int bad_cmsg, const struct ucred *creds, int have_creds,
			const bh_header *decoded, bool coalesced)
{
	const bh_msg_type_info *info;
	const bh_flat *flat;
	struct pending *p = NULL;
	bh_msg msg;
	int reason = 0, r;
	const char *detail = NULL;

	if (decoded)
		msg.hdr = *decoded;
	if (msg_flags & MSG_CTRUNC)
		reason = BH_BAD_CTRUNC;
	else if (msg_flags & MSG_TRUNC)
		reason = BH_BAD_TOO_BIG;
	else if (bad_cmsg)
		reason = BH_BAD_CMSG;
	else if (!decoded && (r = bh_header_decode(buf, len, &msg.hdr)) < 0)
		reason = -r;
	/* Only one-way frames without fds share a datagram. */
	else if (coalesced && (msg.hdr.flags & (BH_FLAG_REQUEST | BH_FLAG_REPLY)))
		reason = BH_BAD_FLAGS;
	else if (coalesced && nfds)
		reason = BH_BAD_UNEXPECTED_FDS;
	else if (nfds > BH_MAX_FDS)
		reason = BH_BAD_TOO_MANY_FDS;
	else if (nfds != msg.hdr.nfds)
		reason = BH_BAD_FD_COUNT;
	else if (!(info = bh_registry_lookup(ch->reg, msg.hdr.type)))
		reason = BH_BAD_TYPE;
	else if (nfds > info->max_fds)
		reason = info->max_fds ? BH_BAD_TOO_MANY_FDS : BH_BAD_UNEXPECTED_FDS;
	else if (nfds < info->min_fds)
		reason = BH_BAD_MISSING_FDS;
	else if (msg.hdr.type == BH_MSG_ERROR && !(msg.hdr.flags & BH_FLAG_REPLY)) {
		reason = BH_BAD_SEQUENCE;
		detail = "error outside a reply";
	} else if (msg.hdr.flags & BH_FLAG_REPLY) {
		p = find_pending(ch, msg.hdr.request_id);
		if (!p) {
			bh__close_all(fds, nfds);
			if (id_was_issued(ch, msg.hdr.request_id))
				return 0; /* late reply to a call that timed out */
			reason = BH_BAD_REPLY;
		}
	}
	if (reason) {
		bh__close_all(fds, BH_MIN(nfds, (unsigned)CMSG_MAX_FDS));
		report_bad(ch, reason, detail);
		return -1;
	}

	r = bh__arena_reset(&ch->arena);
	if (r < 0) {
		bh__close_all(fds, nfds);
		report_bad(ch, BH_BAD_DECODE, "out of memory");
		return -1;
	}
	flat = bh__registry_flat(info);
	msg.body = flat ? bh__flat_unpack(flat, &ch->arena.allocator, msg.hdr.payload_len,
					  buf + BH_HEADER_SIZE)
			: NULL;
	if (!msg.body)
		msg.body = protobuf_c_message_unpack(info->desc, &ch->arena.allocator,
						     msg.hdr.payload_len, buf + BH_HEADER_SIZE);
	/*
	 * A failed attempt only tells the size of the first allocation that did
	 * not fit (protobuf-c stops there); later ones may not fit either. Each
	 * retry at least doubles the arena, so this ends within log2(cap) rounds.
	 */
	while (!msg.body && bh__arena_can_grow(&ch->arena) && bh__arena_reset(&ch->arena) == 0)
		msg.body = protobuf_c_message_unpack(info->desc, &ch->arena.allocator,
						     msg.hdr.payload_len, buf + BH_HEADER_SIZE);
	if (!msg.body) {
		bh__close_all(fds, nfds);
		report_bad(ch, BH_BAD_DECODE, bh__arena_can_grow(&ch->arena) ? NULL : "decoded size over the arena limit");
		return -1;
	}
	memcpy(msg.fds, fds, nfds * sizeof(int));
	msg.nfds = nfds;
	msg.have_creds = have_creds;
	if (have_creds)
		msg.creds = *creds;
	ch->stats.msgs_received++;
	ch->stats.bytes_received += len;

	ch->cur = &msg;
	if (p) {
		struct pending done = *p;
		int status = 0;

		p->id = 0;
		ch->npending--;
		if (msg.hdr.type == BH_MSG_ERROR) {
			const Bh__Error *e = (const Bh__Error *)msg.body;

			/* A peer-chosen code: keep it a positive errno-sized number. */
			status = (e->code > 0 && e->code < 4096) ? -e->code : -EIO;
		}
		done.cb(ch, status, &msg, done.userdata);
	} else {
		ch->ops->on_message(ch, &msg, ch->userdata);
	}
	ch->cur = NULL;
	bh__close_all(msg.fds, msg.nfds);
	return (ch->doomed || ch->fd < 0) ? -1 : 0;
}

static void close_remaining_fds(bh_channel *ch, unsigned from, unsigned n)
{
	int fds[CMSG_MAX_FDS];
	int bad, have;
	struct ucred cr;

	for (unsigned i = from; i < n; i++) {
		unsigned k = collect_fds(&ch->rmsg[i].msg_hdr, fds, &bad, &cr, &have);

		bh__close_all(fds, k);
	}
}

/*
 * recv() at EOF returns 0, exactly as an empty datagram does (recvmmsg even
 * fills the whole batch with such zeros). The peer is gone if the socket
 * hangs up now; otherwise the zero was a real, and invalid, empty frame.
 */
static int peer_gone(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (poll(&p, 1, 0) < 0) {
		if (errno != EINTR)
			return 1;
	}
	return (p.revents & (POLLHUP | POLLRDHUP)) != 0;
}

/*
 * Room for a whole batch, once per channel. Frames received but not yet
 * handled (at most the one slot's) move along. Without memory the channel
 * goes on one datagram at a time.
 */
static bool grow_batch(bh_channel *ch)
{
	uint8_t *big;

	if (ch->rslots == RECV_BATCH)
		return true;
	big = malloc((size_t)RECV_BATCH * BH_MAX_MESSAGE);
	if (!big)
		return false;
	for (unsigned i = ch->rpos; i < ch->rcount; i++)
		memcpy(big + (size_t)i * BH_MAX_MESSAGE, ch->riov[i].iov_base, ch->rmsg[i].msg_len);
	free(ch->rbuf);
	ch->rbuf = big;
	ch->rslots = RECV_BATCH;
	for (unsigned i = 0; i < RECV_BATCH; i++) {
		ch->riov[i].iov_base = ch->rbuf + (size_t)i * BH_MAX_MESSAGE;
		ch->riov[i].iov_len = BH_MAX_MESSAGE;
	}
	return true;
}

/* Points slot b's header at its buffers, ready for a receive call. */
static void prepare_slot(bh_channel *ch, unsigned b)
{
	struct msghdr *mh = &ch->rmsg[b].msg_hdr;

	mh->msg_name = NULL;
	mh->msg_namelen = 0;
	mh->msg_iov = &ch->riov[b];
	mh->msg_iovlen = 1;
	mh->msg_control = ch->rcmsg[b].buf;
	mh->msg_controllen = sizeof ch->rcmsg[b].buf;
	mh->msg_flags = 0;
}

/*
 * Handles datagrams from where the last call stopped: a batch outlives a
 * pause, so the order of messages is kept whatever the application does.
 */
static void read_frames(bh_channel *ch)
{
	int fds[CMSG_MAX_FDS];
	unsigned handled = 0, calls = 0;
	int received_short = 0;
	struct ucred creds;

	while (ch->fd >= 0 && !ch->doomed && !ch->paused && handled < RECV_BUDGET) {
		struct msghdr *mh;
		unsigned i, len, k, off, flen;
		int bad_cmsg, have_creds, msg_flags;
		bool coalesced;
		uint8_t *frame;
		uint64_t sent;

		if (ch->rpos == ch->rcount) {
			int n;

			/* A short batch drained the socket: another call would only say EAGAIN. */
			if (received_short)
				return;
			/* Request/reply traffic (below) never needs the batch's buffers. */
			if (!(calls == 0 && ch->last_batch <= 1))
				(void)grow_batch(ch);
			ch->rpos = ch->rcount = 0;
			/*
			 * Request/reply traffic comes one message per wake-up: then a
			 * plain recvmsg() is cheaper than recvmmsg(), which tries the
			 * socket once more. Once messages come in bunches, batches pay.
			 */
			if ((calls == 0 && ch->last_batch <= 1) || ch->rslots == 1) {
				ssize_t got;

				prepare_slot(ch, 0);
				got = recvmsg(ch->fd, &ch->rmsg[0].msg_hdr, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
				n = got < 0 ? -1 : 1;
				if (got >= 0)
					ch->rmsg[0].msg_len = (unsigned)got;
			} else {
				for (unsigned b = 0; b < RECV_BATCH; b++)
					prepare_slot(ch, b);
				n = recvmmsg(ch->fd, ch->rmsg, RECV_BATCH, MSG_DONTWAIT | MSG_CMSG_CLOEXEC,
					     NULL);
			}
			calls++;
			ch->stats.recv_syscalls++;
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno != EAGAIN)
					closed_by_peer(ch, -errno);
				return;
			}
			if (n == 0) {
				closed_by_peer(ch, 0);
				return;
			}
			received_short = ch->last_batch > 1 || calls > 1 ? n < RECV_BATCH : 1;
			ch->rcount = (unsigned)n;
			ch->last_batch = (unsigned)n;
		}
		i = ch->rpos;
		mh = &ch->rmsg[i].msg_hdr;
		off = ch->roff;
		frame = (uint8_t *)ch->riov[i].iov_base + off;
		len = ch->rmsg[i].msg_len - off;
		msg_flags = 0;
		k = 0;
		bad_cmsg = have_creds = 0;
		/* Control data, and so fds, come with a datagram's first frame. */
		if (off == 0) {
			k = collect_fds(mh, fds, &bad_cmsg, &creds, &have_creds);
			msg_flags = mh->msg_flags;
			if (len == 0 && k == 0 && peer_gone(ch->fd)) {
				ch->rpos++;
				closed_by_peer(ch, 0);
				return;
			}
		}
		flen = (unsigned)bh__frame_split(frame, len);
		coalesced = off > 0 || flen < len;
		if (flen < len) {
			ch->roff = off + flen;
		} else {
			ch->rpos++;
			ch->roff = 0;
		}
		handled++;
		if (__builtin_expect(ch->recorder != NULL, 0))
			record_frame(ch, BH_RECORD_RECEIVED, frame, flen, fds, k, msg_flags);
		sent = ch->stats.msgs_sent;
		if (handle_frame(ch, frame, flen, msg_flags, fds, k, bad_cmsg, &creds, have_creds, NULL,
				 coalesced) < 0)
			return;
		/*
		 * After a single recvmsg(): if the handler answered (the answer
		 * went out at once, or is queued) the peer is most likely waiting
		 * for it, so return rather than try the socket again, and let the
		 * loop send what is queued (level-triggered epoll brings us back
		 * for anything else). A run of one-way messages that answers
		 * nothing instead looks like a stream: read on in batches.
		 */
		if (received_short && ch->rcount == 1) {
			if (ch->queued_msgs || ch->stats.msgs_sent != sent) {
				ch->one_way = 0;
			} else if (++ch->one_way >= 4) {
				ch->one_way = 0;
				received_short = 0;
				ch->last_batch = RECV_BATCH;
			}
		}
	}
	/* Budget spent with datagrams left: come back before sleeping. */
	if (ch->fd >= 0 && !ch->doomed && !ch->paused && ch->rpos < ch->rcount)
		bh_defer_schedule(ch->resume_defer);
}

static void on_resume(bh_defer *d, void *ud)
{
	bh_channel *ch = ud;

	ref(ch);
	read_frames(ch);
	unref(ch);
}

/* ---- synchronous calls -------------------------------------------------- */

struct sync_wait {
	bh_reply_cb cb;
	void *userdata;
	int status;
	int done;
};

static void sync_reply(bh_channel *ch, int status, bh_msg *reply, void *ud)
{
	struct sync_wait *w = ud;

	w->status = status;
	w->done = 1;
	if (w->cb)
		w->cb(ch, status, reply, w->userdata);
}

/*
 * The socket's blocking mode only matters to a receive that asks to wait:
 * every other send and receive of the channel passes MSG_DONTWAIT.
 */
static int make_blocking(bh_channel *ch)
{
	int fl;

	if (ch->blocking)
		return 0;
	fl = fcntl(ch->fd, F_GETFL);
	if (fl < 0 || fcntl(ch->fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return -errno;
	ch->blocking = 1;
	return 0;
}

/* Bounds a waiting receive by `ns` (0: none). Calls with one timeout set it once. */
static int set_rcvtimeo(bh_channel *ch, uint64_t ns)
{
	struct timeval tv;

	if (ns == ch->rcvtimeo_ns)
		return 0;
	tv = (struct timeval){ .tv_sec = (time_t)(ns / 1000000000u),
			       .tv_usec = (suseconds_t)(ns % 1000000000u / 1000u) };
	if (ns && tv.tv_sec == 0 && tv.tv_usec == 0)
		tv.tv_usec = 1; /* {0, 0} would mean "no timeout" */
	if (setsockopt(ch->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
		return -errno;
	ch->rcvtimeo_ns = ns;
	return 0;
}

/* Time left before `deadline` (0: none), at least 1 ns while not reached; -1 once reached. */
static int64_t time_left(uint64_t deadline)
{
	uint64_t now;

	if (!deadline)
		return 0;
	now = bh_now_ns();
	return now < deadline ? (int64_t)(deadline - now) : -1;
}

/* Writes the queue out, waiting for room while the peer reads too slowly. */
static int send_now(bh_channel *ch, uint64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = ch->fd, .events = POLLOUT };
		int64_t left;
		int r = flush(ch);

		if (r <= 0)
			return r;
		left = time_left(deadline);
		if (left < 0)
			return -ETIMEDOUT;
		r = poll(&p, 1, deadline ? (int)BH_MIN(BH_MAX(1, left / 1000000), INT32_MAX) : -1);
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

/* Is the datagram in slot i the reply with this id? Only the header (into *h) is looked at. */
static bool is_reply(const bh_channel *ch, unsigned i, uint32_t id, bh_header *h)
{
	return !(ch->rmsg[i].msg_hdr.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) &&
	       bh_header_decode(ch->riov[i].iov_base, ch->rmsg[i].msg_len, h) == 0 &&
	       (h->flags & BH_FLAG_REPLY) && h->request_id == id;
}

/*
 * Receives until the call `id` is answered (w->done). Other datagrams are
 * kept, unhandled, after those already waiting in the receive slots; the
 * loop delivers them later in order. Returns 0 once answered, or why not.
 */
static int wait_reply(bh_channel *ch, uint32_t id, uint64_t deadline, unsigned timeout_ms,
		      const struct sync_wait *w)
{
	int fds[CMSG_MAX_FDS];
	uint64_t wait_ns = timeout_ms * 1000000ull;

	for (bool first = true; !w->done && !ch->doomed && ch->fd >= 0; first = false) {
		struct msghdr *mh;
		struct ucred creds;
		bh_header h;
		unsigned i, k;
		int bad_cmsg, have_creds, r;
		ssize_t got;

		/*
		 * Once a receive has returned without the reply (another message,
		 * a signal, the timeout), wait on only for what is left of the call.
		 */
		if (!first) {
			int64_t left = time_left(deadline);

			if (left < 0)
				return -ETIMEDOUT;
			wait_ns = (uint64_t)left;
		}
		if (ch->rpos == ch->rcount)
			ch->rpos = ch->rcount = 0;
		if (ch->rcount == ch->rslots && !grow_batch(ch))
			return -ENOMEM;
		if (ch->rcount == ch->rslots)
			return -EOVERFLOW;
		r = set_rcvtimeo(ch, wait_ns);
		if (r < 0)
			return r;
		i = ch->rcount;
		prepare_slot(ch, i);
		mh = &ch->rmsg[i].msg_hdr;
		got = recvmsg(ch->fd, mh, MSG_CMSG_CLOEXEC);
		ch->stats.recv_syscalls++;
		if (got < 0) {
			if (errno != EINTR && errno != EAGAIN)
				return -errno;
			/*
			 * EAGAIN is the timeout, or O_NONBLOCK set on a dup of the
			 * socket by someone else: clear it again rather than spin.
			 */
			if (errno == EAGAIN) {
				ch->blocking = 0;
				r = make_blocking(ch);
				if (r < 0)
					return r;
			}
			continue;
		}
		ch->rmsg[i].msg_len = (unsigned)got;
		if (got == 0 && peer_gone(ch->fd)) {
			k = collect_fds(mh, fds, &bad_cmsg, &creds, &have_creds);
			bh__close_all(fds, k);
			return -ECONNRESET;
		}
		if (!is_reply(ch, i, id, &h)) {
			ch->rcount++;
			continue;
		}
		k = collect_fds(mh, fds, &bad_cmsg, &creds, &have_creds);
		/* Recorded in the order handled: the reply before the datagrams kept above. */
		if (__builtin_expect(ch->recorder != NULL, 0))
			record_frame(ch, BH_RECORD_RECEIVED, ch->riov[i].iov_base, (size_t)got, fds, k,
				     mh->msg_flags);
		/* Answers the call through its pending slot, or closes the channel if bad. */
		(void)handle_frame(ch, ch->riov[i].iov_base, (size_t)got, mh->msg_flags, fds, k,
				   bad_cmsg, &creds, have_creds, &h, false);
	}
	return w->done ? 0 : -ECONNRESET;
}

int bh_channel_call_sync(bh_channel *ch, uint32_t type, const ProtobufCMessage *body,
			 const int *fds, unsigned nfds, unsigned timeout_ms, bh_reply_cb cb,
			 void *userdata)
{
	struct sync_wait w = { .cb = cb, .userdata = userdata };
	uint64_t deadline = timeout_ms ? bh_now_ns() + timeout_ms * 1000000ull : 0;
	struct pending *p;
	uint32_t id;
	int r;

	if (ch->doomed || ch->fd < 0)
		return -EPIPE;
	/* The message being handled lives in the buffers the reply would reuse. */
	if (ch->cur)
		return -EBUSY;
	r = make_blocking(ch);
	if (r < 0)
		return r;
	r = add_call(ch, type, body, fds, nfds, 0, sync_reply, &w, &id);
	if (r < 0)
		return r;
	ref(ch);
	r = send_now(ch, deadline);
	if (r < 0 && r != -ETIMEDOUT) {
		/* fail_pending() answers this call too. */
		closed_by_peer(ch, r);
	} else if (r == 0) {
		r = wait_reply(ch, id, deadline, timeout_ms, &w);
	}
	if (!w.done && !ch->doomed && (p = find_pending(ch, id)) != NULL) {
		/* Not answered: a reply that still comes is dropped as late. */
		p->id = 0;
		ch->npending--;
		sync_reply(ch, r < 0 ? r : -ECONNRESET, NULL, &w);
	}
	/* What arrived before the reply is the loop's to deliver, even without a new wake-up. */
	if (!ch->doomed && ch->fd >= 0 && !ch->paused && ch->rpos < ch->rcount)
		bh_defer_schedule(ch->resume_defer);
	unref(ch);
	return w.status;
}

void bh_channel_pause(bh_channel *ch, int paused)
{
	paused = !!paused;
	if (ch->paused == paused)
		return;
	ch->paused = paused;
	if (!paused && !ch->watch && ch->fd >= 0) {
		/* Unwatched while paused after a hang-up (see on_io): watch again. */
		ch->watch_events = BH_EV_IN;
		if (bh_loop_add_fd(ch->loop, ch->fd, ch->watch_events, on_io, ch, &ch->watch) < 0)
			bh__log(ch->loop, BH_LOG_ERROR, "channel: cannot watch fd %d again", ch->fd);
	}
	update_events(ch);
	if (!paused && ch->fd >= 0 && ch->rpos < ch->rcount)
		bh_defer_schedule(ch->resume_defer);
}

void bh__channel_read_now(bh_channel *ch)
{
	if (!ch || ch->doomed || ch->fd < 0)
		return;
	ref(ch);
	/*
	 * read_frames() stops after one datagram while traffic looks like
	 * request/reply; go on until the socket is empty (bounded: a peer that
	 * is gone sends no more).
	 */
	for (unsigned i = 0; i < RECV_BUDGET && !ch->doomed && ch->fd >= 0 && !ch->paused; i++) {
		uint64_t before = ch->stats.recv_syscalls, got = ch->stats.msgs_received;

		read_frames(ch);
		if (ch->stats.recv_syscalls == before || ch->stats.msgs_received == got)
			break;
	}
	unref(ch);
}

static void on_io(bh_watch *w, int fd, uint32_t events, void *ud)
{
	bh_channel *ch = ud;

	ref(ch);
	if (ch->paused && (events & (EPOLLHUP | EPOLLERR))) {
		/*
		 * epoll reports a hang-up whatever events are asked for; while
		 * paused that would spin the loop, so stop watching until resumed.
		 */
		bh_watch_remove(ch->watch);
		ch->watch = NULL;
		unref(ch);
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		read_frames(ch);
	if (!ch->doomed && ch->fd >= 0 && (events & EPOLLOUT))
		flush_and_notify(ch);
	if (!ch->doomed && ch->fd >= 0 && (events & EPOLLERR) && !(events & EPOLLIN)) {
		int err = 0;
		socklen_t len = sizeof err;

		if (getsockopt(ch->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		closed_by_peer(ch, err ? -err : -ECONNRESET);
	}
	unref(ch);
}
