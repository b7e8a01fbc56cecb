/* The Hello/Welcome handshake that binds a channel to the child the broker forked. */
#include <string.h>
#include <sys/random.h>

#include <bulkhead/channel.h>

#include "bulkhead.pb-c.h"
#include "common/internal.h"

int bh_token_generate(uint8_t token[BH_TOKEN_SIZE])
{
	size_t got = 0;

	while (got < BH_TOKEN_SIZE) {
		ssize_t r = getrandom(token + got, BH_TOKEN_SIZE - got, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)r;
	}
	return 0;
}

int bh_hello_send(bh_channel *ch, const char *worker_type, uint32_t worker_id,
		  const uint8_t token[BH_TOKEN_SIZE], unsigned timeout_ms, bh_reply_cb cb,
		  void *userdata)
{
	Bh__Hello h = BH__HELLO__INIT;

	h.protocol_version = BH_PROTOCOL_VERSION;
	h.worker_type = (char *)(worker_type ? worker_type : "");
	h.pid = (uint32_t)getpid();
	h.token.data = (uint8_t *)token;
	h.token.len = BH_TOKEN_SIZE;
	h.worker_id = worker_id;
	return bh_channel_call(ch, BH_MSG_HELLO, &h.base, NULL, 0, timeout_ms, cb, userdata);
}

/* Constant time, so that a worker cannot learn the token byte by byte. */
static int token_equal(const uint8_t *a, const uint8_t *b)
{
	uint8_t diff = 0;

	for (unsigned i = 0; i < BH_TOKEN_SIZE; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

int bh_hello_verify(bh_channel *ch, const bh_msg *msg, pid_t pid, const char *worker_type,
		    uint32_t worker_id, const uint8_t token[BH_TOKEN_SIZE])
{
	const Bh__Hello *h;
	pid_t peer;
	int r;

	if (bh_msg_type(msg) != BH_MSG_HELLO || !(bh_msg_flags(msg) & BH_FLAG_REQUEST))
		return -EPROTO;
	h = (const Bh__Hello *)bh_msg_body(msg);
	if (h->protocol_version != BH_PROTOCOL_VERSION)
		return -EPROTONOSUPPORT;
	if (h->token.len != BH_TOKEN_SIZE || !token_equal(h->token.data, token))
		return -EACCES;
	r = bh_msg_sender(msg, &peer, NULL, NULL);
	if (r < 0)
		return r;
	/* The kernel's view, not the worker's claim (which is a pid-namespace pid). */
	if (peer != pid)
		return -ESRCH;
	if (h->worker_id != worker_id || strcmp(h->worker_type, worker_type ? worker_type : "") != 0)
		return -EINVAL;
	return 0;
}

int bh_hello_welcome(bh_channel *ch, const bh_msg *hello, uint32_t worker_id, uint32_t heartbeat_ms)
{
	Bh__Welcome w = BH__WELCOME__INIT;

	w.protocol_version = BH_PROTOCOL_VERSION;
	w.worker_id = worker_id;
	w.heartbeat_ms = heartbeat_ms;
	return bh_channel_reply(ch, hello, BH_MSG_WELCOME, &w.base, NULL, 0);
}
