/*
 * bulkhead channels: one end of a SOCK_SEQPACKET socketpair over which typed
 * protobuf-c messages and file descriptors travel, driven by a bh_loop.
 *
 * Every frame that arrives is validated in full (header, size, fds, type,
 * payload) before any callback sees it. A frame that fails is a "bad
 * message": every fd it carried is closed, the channel is closed, and
 * on_bad_message reports the reason. The process carries on.
 *
 * Sending never blocks (bh_channel_call_sync() alone waits: for its request
 * to go out and for its reply). Frames go into a bounded send queue that the
 * loop flushes (with sendmmsg, batched) before it sleeps and whenever the
 * socket becomes writable. When the queue is full, sends fail with -ENOBUFS and the
 * caller is told with on_drain when there is room again: memory never grows
 * without bound because a peer stopped reading.
 *
 * Threading: a channel belongs to the thread that runs its loop.
 */
#ifndef BULKHEAD_CHANNEL_H
#define BULKHEAD_CHANNEL_H

#include <bulkhead/common.h>
#include <bulkhead/loop.h>
#include <bulkhead/protocol.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bh_channel bh_channel;
typedef struct bh_msg bh_msg;

/* ---- received messages ------------------------------------------------- */
/*
 * A bh_msg is valid only during the callback that receives it; its decoded
 * body lives in the channel's arena and is reused for the next message.
 * Fds attached to it are closed when the callback returns unless taken.
 */
/* The header's message type id (registered in the channel's registry). */
BH_EXPORT uint32_t bh_msg_type(const bh_msg *m);
/* The header's flags: BH_FLAG_REQUEST and/or BH_FLAG_REPLY. */
BH_EXPORT uint32_t bh_msg_flags(const bh_msg *m);
/* The header's request id: non-zero for a request or a reply, else 0. */
BH_EXPORT uint32_t bh_msg_request_id(const bh_msg *m);
/* The decoded payload; cast it to the type registered for bh_msg_type(). */
BH_EXPORT const ProtobufCMessage *bh_msg_body(const bh_msg *m);
/* Number of fds that came with the message (taken ones included). */
BH_EXPORT unsigned bh_msg_nfds(const bh_msg *m);
/*
 * The sender's pid/uid/gid as the kernel saw them when the message was sent
 * (SCM_CREDENTIALS; pid in this process's pid namespace). Present while the
 * receiving socket has SO_PASSCRED, which bh_channel_socketpair() sets.
 * Returns 0 or -ENODATA.
 */
BH_EXPORT int bh_msg_sender(const bh_msg *m, pid_t *pid, uid_t *uid, gid_t *gid);
/* Borrows fd i (still owned by the message), or -EBADF if out of range or taken. */
BH_EXPORT int bh_msg_fd(const bh_msg *m, unsigned i);
/* Takes fd i: the caller now owns it and must close it. -EBADF if out of range or taken. */
BH_EXPORT int bh_msg_take_fd(bh_msg *m, unsigned i);

/* ---- callbacks --------------------------------------------------------- */

typedef struct bh_channel_ops {
	/* A validated message (not a reply to bh_channel_call()). Required. */
	void (*on_message)(bh_channel *ch, bh_msg *msg, void *userdata);
	/*
	 * The peer sent a bad message (reason: bh_bad_reason, detail: static or
	 * valid during the call). The channel is already closed; the callback
	 * may destroy it. Optional.
	 */
	void (*on_bad_message)(bh_channel *ch, int reason, const char *detail, void *userdata);
	/*
	 * The channel closed: err is 0 for an orderly EOF, else -errno such as
	 * -ECONNRESET or -EPIPE. Not called after on_bad_message. The callback
	 * may destroy the channel. Optional.
	 */
	void (*on_close)(bh_channel *ch, int err, void *userdata);
	/* The send queue has room again after a send failed with -ENOBUFS. Optional. */
	void (*on_drain)(bh_channel *ch, void *userdata);
} bh_channel_ops;

/*
 * Called with the reply to bh_channel_call(): status 0 and the reply, or
 * status = -code from a BH_MSG_ERROR reply (reply is that message), or
 * -ETIMEDOUT, -ECONNRESET (channel closed) or -ECANCELED (channel destroyed)
 * with reply NULL. Called exactly once per successful bh_channel_call().
 */
typedef void (*bh_reply_cb)(bh_channel *ch, int status, bh_msg *reply, void *userdata);

typedef struct bh_channel_limits {
	size_t max_queue_bytes;  /* send queue cap in bytes (default 1 MiB) */
	unsigned max_queue_msgs; /* send queue cap in frames (default 1024) */
	unsigned max_pending;    /* outstanding bh_channel_call()s (default 64) */
	size_t max_arena;        /* decode arena cap (default 4 MiB) */
} bh_channel_limits;

/* Fills `l` with the defaults above. */
BH_EXPORT void bh_channel_limits_default(bh_channel_limits *l);

/*
 * Creates a socketpair suited to channels: AF_UNIX, SOCK_SEQPACKET,
 * close-on-exec and non-blocking on both ends, with SO_PASSCRED on both so
 * that every message carries the sender's credentials (bh_msg_sender()) from
 * the first one on. Returns 0 or -errno.
 */
BH_EXPORT int bh_channel_socketpair(int sv[2]);

/*
 * Wraps `fd` (one end of a SOCK_SEQPACKET socket) in a channel on `loop`.
 * Takes ownership of `fd` in every case (closed on failure too) and makes it
 * non-blocking. `reg` and `ops` must outlive the channel. `limits` may be
 * NULL for the defaults. Returns 0 and the channel in *out, or -errno
 * (-ENOTSOCK / -EPROTOTYPE if fd is not a SEQPACKET socket, -ENOMEM).
 */
BH_EXPORT int bh_channel_create(bh_loop *loop, const bh_registry *reg, int fd,
				const bh_channel_ops *ops, void *userdata,
				const bh_channel_limits *limits, bh_channel **out);

/*
 * Closes the socket, closes every fd still queued, calls every pending
 * reply callback with -ECANCELED and frees the channel. Safe inside any of
 * the channel's own callbacks. NULL is a no-op.
 */
BH_EXPORT void bh_channel_destroy(bh_channel *ch);

/*
 * Queues one message. `body` must be a message of the type registered for
 * `type`; `fds` (nfds <= the type's max_fds) stay owned by the caller (they
 * are duplicated into the queue; min_fds <= nfds <= max_fds). Returns 0; -ENOBUFS if the queue is full
 * (on_drain follows); -EMSGSIZE if the frame would exceed BH_MAX_MESSAGE;
 * -EINVAL for an unregistered type or a body of another type; -EPIPE if the
 * channel is closed; -EMFILE if an fd cannot be duplicated.
 */
BH_EXPORT int bh_channel_send(bh_channel *ch, uint32_t type, const ProtobufCMessage *body,
			      const int *fds, unsigned nfds);

/*
 * Sends a request and calls `cb` once with its reply, an error reply, or a
 * timeout after `timeout_ms` (0: no timeout). Errors as bh_channel_send(),
 * plus -EAGAIN when max_pending requests are already outstanding. On error
 * `cb` is not called. A request without fds is written to the socket
 * before this returns when nothing is queued before it and the socket has
 * room; else it is queued and flushed by the loop, in order.
 */
BH_EXPORT int bh_channel_call(bh_channel *ch, uint32_t type, const ProtobufCMessage *body,
			      const int *fds, unsigned nfds, unsigned timeout_ms, bh_reply_cb cb,
			      void *userdata);

/*
 * Sends a request and waits for its reply without running the loop: the
 * calling thread blocks in the channel's socket until the reply, an error
 * reply, the timeout (`timeout_ms`, 0: none) or the end of the channel.
 * `cb` (may be NULL) is called once, before this returns, with the same
 * arguments bh_channel_call() would give it; the reply and its fds are
 * valid during `cb` only, as in any callback.
 *
 * No other callback of the channel runs meanwhile, except on_bad_message or
 * on_close if the channel closes (the reply was bad, or a send failed).
 * Messages that arrive before the reply are kept and delivered by the loop
 * afterwards, in order. 7 of them fit (the receive batch, less what was
 * already waiting in it): one more ends the call with -EOVERFLOW, and the reply, when it comes, is dropped as
 * a late one. The first sync call switches the socket to blocking mode; the
 * channel's other sends and receives do not block either way.
 *
 * Returns the status `cb` got: 0 with a reply, -code of an error reply,
 * -ETIMEDOUT, -ECONNRESET (the peer hung up or sent a bad message),
 * -EOVERFLOW, or -errno of a failed receive. Fails without calling `cb`
 * with -EBUSY inside a callback of this channel that was handed a message
 * (that message lives in the buffers the reply needs), or with any error of
 * bh_channel_call().
 */
BH_EXPORT int bh_channel_call_sync(bh_channel *ch, uint32_t type, const ProtobufCMessage *body,
				   const int *fds, unsigned nfds, unsigned timeout_ms,
				   bh_reply_cb cb, void *userdata);

/*
 * Answers the request `req` (which must carry BH_FLAG_REQUEST: else -EINVAL).
 * Errors as bh_channel_send(). A reply without fds, like such a request,
 * goes out at once when nothing is queued before it; otherwise, and when
 * the socket cannot take it now, it is queued behind the rest. A reply already sent stays sent if
 * the channel is closed afterwards; queued frames are dropped.
 */
BH_EXPORT int bh_channel_reply(bh_channel *ch, const bh_msg *req, uint32_t type,
			       const ProtobufCMessage *body, const int *fds, unsigned nfds);

/*
 * Answers a request by its id, for replies sent after the request's
 * callback returned (keep bh_msg_request_id() of it). -EINVAL if id is 0.
 */
BH_EXPORT int bh_channel_reply_id(bh_channel *ch, uint32_t request_id, uint32_t type,
				  const ProtobufCMessage *body, const int *fds, unsigned nfds);

/* Answers `req` with a BH_MSG_ERROR carrying `code` (a positive errno) and `text`. */
BH_EXPORT int bh_channel_reply_error(bh_channel *ch, const bh_msg *req, int code, const char *text);

/*
 * Tries to write the queued frames now instead of at the end of the loop
 * round. Returns the number of frames still queued, or -errno (-EPIPE).
 */
BH_EXPORT int bh_channel_flush(bh_channel *ch);

/*
 * Declares the message being handled bad (for checks only the application
 * can make, such as a region that is too small): the channel is closed, its
 * fds closed, and on_bad_message is called with BH_BAD_APP and `detail`.
 */
BH_EXPORT void bh_channel_bad_message(bh_channel *ch, const char *detail);

/*
 * Stops (paused = 1) or resumes (0) delivering messages. While paused the
 * channel reads nothing more, so the peer meets back-pressure; messages
 * already received are kept and delivered, in order, after resuming.
 */
BH_EXPORT void bh_channel_pause(bh_channel *ch, int paused);

/* Closes the channel without destroying it (no more callbacks but on_close is not called). */
BH_EXPORT void bh_channel_close(bh_channel *ch);

/* True while the socket is open. */
BH_EXPORT int bh_channel_is_open(const bh_channel *ch);

/* The socket fd (owned by the channel), or -1 once closed. */
BH_EXPORT int bh_channel_fd(const bh_channel *ch);

/*
 * Turns SO_PASSCRED on or off (off after the handshake saves a little per
 * message). Returns 0 or -errno.
 */
BH_EXPORT int bh_channel_set_passcred(bh_channel *ch, int on);

/*
 * Reads SO_PEERCRED of the socket. On a socketpair this names the process
 * that created the pair, not the peer: use bh_msg_sender() to identify a
 * forked child. Returns 0 or -errno.
 */
BH_EXPORT int bh_channel_peer(const bh_channel *ch, pid_t *pid, uid_t *uid, gid_t *gid);

/* Replaces the userdata passed to callbacks. */
BH_EXPORT void bh_channel_set_userdata(bh_channel *ch, void *userdata);

typedef struct bh_channel_stats {
	uint64_t msgs_sent, msgs_received;
	uint64_t bytes_sent, bytes_received;
	uint64_t send_syscalls, recv_syscalls;
	uint64_t queue_full;      /* sends refused with -ENOBUFS */
	size_t queued_bytes;      /* currently queued */
	unsigned queued_msgs;
	size_t peak_queued_bytes;
	uint64_t arena_grows;     /* times the decode arena had to grow */
	int bad_reason;           /* the bad message that closed it, or 0 */
} bh_channel_stats;

/* Copies the channel's counters into *out. */
BH_EXPORT void bh_channel_get_stats(const bh_channel *ch, bh_channel_stats *out);

/* ---- handshake ---------------------------------------------------------- */
/*
 * A worker's first message is a Hello request; the broker answers Welcome
 * (or an Error and closes). The token binds the channel to the one child the
 * broker forked: it is random per spawn and known only to that child and the
 * broker; the kernel's SO_PEERCRED pid must also be that child's.
 */

/* Fills `token` with BH_TOKEN_SIZE random bytes (getrandom). Returns 0 or -errno. */
BH_EXPORT int bh_token_generate(uint8_t token[BH_TOKEN_SIZE]);

/*
 * Worker side: sends Hello{BH_PROTOCOL_VERSION, worker_type, getpid(),
 * token, worker_id} as a request; `cb` gets the broker's Welcome (status 0),
 * its refusal (status = -code) or a timeout. Errors as bh_channel_call().
 */
BH_EXPORT int bh_hello_send(bh_channel *ch, const char *worker_type, uint32_t worker_id,
			    const uint8_t token[BH_TOKEN_SIZE], unsigned timeout_ms,
			    bh_reply_cb cb, void *userdata);

/*
 * Broker side: checks a received message as the Hello of the child `pid`
 * spawned with `token` as `worker_type`/`worker_id`. Returns 0 if it is
 * acceptable, or: -EPROTO (not a Hello request), -EPROTONOSUPPORT (protocol
 * version differs), -EACCES (token differs; compared in constant time),
 * -ESRCH (the kernel-attached sender pid is not `pid`), -ENODATA (the
 * channel does not pass credentials), -EINVAL (worker type or id differ). Sends nothing: the caller replies with
 * bh_hello_welcome() or bh_channel_reply_error().
 */
BH_EXPORT int bh_hello_verify(bh_channel *ch, const bh_msg *msg, pid_t pid,
			      const char *worker_type, uint32_t worker_id,
			      const uint8_t token[BH_TOKEN_SIZE]);

/* Broker side: answers an accepted Hello with Welcome. Errors as bh_channel_reply(). */
BH_EXPORT int bh_hello_welcome(bh_channel *ch, const bh_msg *hello, uint32_t worker_id,
			       uint32_t heartbeat_ms);

#ifdef __cplusplus
}
#endif
#endif
