/*
 * fuzz_frame: one datagram (and the fds the envelope asks for) sent through a
 * real SOCK_SEQPACKET socketpair into a real bh_channel on a real bh_loop,
 * whose registry holds every framework type plus the fuzz types.
 *
 * The receiving side behaves like a broker would: it answers requests
 * (Hello through bh_hello_verify() and bh_hello_welcome(), the rest with an
 * error reply), takes some fds, and refuses one message through
 * bh_channel_bad_message(). After every input it checks that the channel
 * delivered every frame of the datagram (one, or several coalesced with
 * BH_FLAG_MORE), or the frames before one it reported as a bad message with
 * a known reason; that every delivered fd is close-on-exec; and that no fd
 * leaked.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bulkhead.pb-c.h"
#include "common/internal.h"
#include "fuzz/fuzz.h"

/* The token and identity this "broker" gave the worker it spawned. */
static const uint8_t fuzz_token[BH_TOKEN_SIZE] = "bh-fuzz-token-16";
#define FUZZ_WORKER_TYPE "renderer"
#define FUZZ_WORKER_ID 7u

static const bh_fuzz_token tokens[] = {
	{ fuzz_token, BH_TOKEN_SIZE },
	{ (const uint8_t *)FUZZ_WORKER_TYPE, sizeof FUZZ_WORKER_TYPE - 1 },
};

struct state {
	bh_channel *ch;
	unsigned sent_fds;
	int messages;   /* on_message calls */
	int replies;    /* reply callbacks with a reply */
	int bad;        /* on_bad_message calls */
	int bad_reason;
	int refused;    /* we called bh_channel_bad_message() */
	int closed;
	int call_failed; /* the outstanding call ended without a reply */
	int checking;   /* callbacks after this input's checks are teardown */
};

static bh_loop *loop;
static bh_registry *reg;
static bh_fuzz_fdset fdset;
static int base_fds;
/* Messages delivered per registered type (index in the registry), for BH_FUZZ_STATS. */
#define MAX_TYPES 128
static unsigned long delivered[MAX_TYPES + 1];
static unsigned long bad_by_reason[BH_BAD_REASON_COUNT];
static unsigned long inputs;
static unsigned long hellos_accepted;
static unsigned long coalesced, coalesced_delivered; /* datagrams of several frames; all delivered */

static unsigned type_slot(uint32_t type)
{
	size_t n = bh_registry_count(reg);

	for (size_t i = 0; i < n && i < MAX_TYPES; i++) {
		if (bh_registry_at(reg, i)->type == type)
			return (unsigned)i;
	}
	return MAX_TYPES;
}

static void check_fds(const bh_msg *m, const struct state *st)
{
	BH_FUZZ_CHECK(bh_msg_nfds(m) == st->sent_fds, "message carries %u fds, %u were sent",
		      bh_msg_nfds(m), st->sent_fds);
	for (unsigned i = 0; i < bh_msg_nfds(m); i++) {
		int fd = bh_msg_fd(m, i), fl = fd >= 0 ? fcntl(fd, F_GETFD) : -1;

		BH_FUZZ_CHECK(fl >= 0 && (fl & FD_CLOEXEC), "delivered fd %u (%d) is not close-on-exec", i,
			      fd);
	}
}

/* Everything a handler may read must be consistent: re-encoding walks all of it. */
static void check_body(const bh_msg *m)
{
	const ProtobufCMessage *body = bh_msg_body(m);
	size_t n;
	uint8_t *buf;

	BH_FUZZ_CHECK(body != NULL, "delivered message without a body");
	n = protobuf_c_message_get_packed_size(body);
	buf = malloc(n ? n : 1);
	BH_FUZZ_CHECK(buf != NULL, "out of memory");
	BH_FUZZ_CHECK(protobuf_c_message_pack(body, buf) == n, "re-encoding changed size");
	free(buf);
}

static void on_message(bh_channel *ch, bh_msg *m, void *ud)
{
	struct state *st = ud;
	uint32_t type = bh_msg_type(m);

	st->messages++;
	delivered[type_slot(type)]++;
	check_fds(m, st);
	check_body(m);

	switch (type) {
	case BH_MSG_HELLO: {
		int r = bh_hello_verify(ch, m, getpid(), FUZZ_WORKER_TYPE, FUZZ_WORKER_ID, fuzz_token);

		if (r == 0) {
			hellos_accepted++;
			(void)bh_hello_welcome(ch, m, FUZZ_WORKER_ID, 1000);
		}
		else if (bh_msg_flags(m) & BH_FLAG_REQUEST)
			(void)bh_channel_reply_error(ch, m, -r, "hello refused");
		return;
	}
	case BH_MSG_HEARTBEAT: {
		const Bh__Heartbeat *hb = (const Bh__Heartbeat *)bh_msg_body(m);

		/* A check only the application can make: sequence numbers start at 1. */
		if (hb->seq == 0) {
			st->refused++;
			bh_channel_bad_message(ch, "heartbeat sequence 0");
			return;
		}
		break;
	}
	case BH_MSG_SURFACE_ATTACH:
	case BH_MSG_FILE_OPENED:
	case BH_MSG_SHM_ALLOCATED: {
		/* Handlers keep the fds they were given; the channel closes the rest. */
		int fd = bh_msg_take_fd(m, 0);

		if (fd >= 0)
			close(fd);
		break;
	}
	default:
		break;
	}
	if (bh_msg_flags(m) & BH_FLAG_REQUEST)
		(void)bh_channel_reply_error(ch, m, ENOSYS, "not handled here");
}

static void on_bad(bh_channel *ch, int reason, const char *detail, void *ud)
{
	struct state *st = ud;

	st->bad++;
	st->bad_reason = reason;
	BH_FUZZ_CHECK(reason > 0 && reason < BH_BAD_REASON_COUNT, "bad message with reason %d", reason);
	BH_FUZZ_CHECK(strcmp(bh_bad_reason_name(reason), "unknown reason") != 0,
		      "reason %d has no name", reason);
	BH_FUZZ_CHECK(!bh_channel_is_open(ch), "channel still open after a bad message");
	bad_by_reason[reason]++;
}

static void on_close(bh_channel *ch, int err, void *ud)
{
	struct state *st = ud;

	st->closed++;
}

static const bh_channel_ops ops = {
	.on_message = on_message,
	.on_bad_message = on_bad,
	.on_close = on_close,
};

static void on_reply(bh_channel *ch, int status, bh_msg *reply, void *ud)
{
	struct state *st = ud;

	if (st->checking)
		return; /* -ECANCELED from the teardown */
	if (!reply) {
		/* A bad message closes the channel, which fails the outstanding call. */
		BH_FUZZ_CHECK(status == -ECONNRESET, "call failed with %d before teardown", status);
		st->call_failed++;
		return;
	}
	BH_FUZZ_CHECK(status == 0 || (status < 0 && status > -4096), "reply status %d", status);
	st->replies++;
	delivered[type_slot(bh_msg_type(reply))]++;
	check_fds(reply, st);
	check_body(reply);
}

static void print_stats(void)
{
	static int printed;

	if (printed++)
		return;
	fprintf(stderr, "fuzz_frame: %lu inputs\n  delivered per type:", inputs);
	for (size_t i = 0; i < bh_registry_count(reg); i++) {
		uint32_t t = bh_registry_at(reg, i)->type;

		fprintf(stderr, " %s:%lu", bh_registry_at(reg, i)->desc->short_name,
			delivered[type_slot(t)]);
	}
	fprintf(stderr, "\n  hellos accepted: %lu\n  coalesced datagrams: %lu, all frames delivered: %lu\n",
		hellos_accepted, coalesced, coalesced_delivered);
	fprintf(stderr, "  bad messages per reason:");
	for (unsigned i = 1; i < BH_BAD_REASON_COUNT; i++)
		fprintf(stderr, " %s:%lu", bh_bad_reason_name((int)i), bad_by_reason[i]);
	fputc('\n', stderr);
}

/*
 * With BH_FUZZ_EXPECT_TYPES set, a run in which some registered type never
 * reached the handler fails: the check that structure-aware mutation gets
 * past the decoder for every type.
 */
int bh_fuzz_replay_done(void)
{
	int missing = 0;

	if (getenv("BH_FUZZ_STATS"))
		print_stats();
	if (!getenv("BH_FUZZ_EXPECT_TYPES"))
		return 0;
	for (size_t i = 0; i < bh_registry_count(reg); i++) {
		const bh_msg_type_info *info = bh_registry_at(reg, i);

		if (!delivered[type_slot(info->type)]) {
			fprintf(stderr, "fuzz_frame: no %s (type %u) reached the handler\n",
				info->desc->name, info->type);
			missing++;
		}
	}
	return missing;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (bh_loop_create(&loop) < 0 || bh_fuzz_registry_create(&reg) < 0 ||
	    bh_fuzz_fdset_init(&fdset) < 0)
		bh_fuzz_fail("cannot set up the harness");
	bh_fuzz_set_tokens(tokens, BH_ARRAY_SIZE(tokens));
	/* libFuzzer ends with exit(): the counters are printed on the way out. */
	if (getenv("BH_FUZZ_STATS"))
		atexit(print_stats);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state st = { 0 };
	bh_fuzz_envelope env;
	int sv[2], fds[BH_FUZZ_MAX_FDS + BH_FUZZ_FLOOD_FDS], r;
	unsigned nfds;

	/* Counted per input: the engine itself opens fds between inputs (its symbolizer's pipes). */
	base_fds = bh_fuzz_count_fds();
	inputs++;
	bh_fuzz_envelope_parse(data, size, &env);
	for (unsigned i = 0; i < env.nfds; i++)
		fds[i] = fdset.fd[env.kinds[i] & 3];
	nfds = env.nfds;
	if (env.ctl & BH_FUZZ_CTL_FLOOD) {
		for (unsigned i = 0; i < BH_FUZZ_FLOOD_FDS; i++)
			fds[nfds++] = fdset.fd[BH_FUZZ_FD_DEVNULL];
	}
	if (bh_channel_socketpair(sv) < 0)
		bh_fuzz_fail("socketpair failed");
	if (bh_channel_create(loop, reg, sv[0], &ops, &st, NULL, &st.ch) < 0)
		bh_fuzz_fail("bh_channel_create failed");
	if (env.ctl & BH_FUZZ_CTL_CALL) {
		Bh__Heartbeat hb = BH__HEARTBEAT__INIT;

		/* Request id 1 is now outstanding: a REPLY with id 1 is accepted. */
		hb.seq = 1;
		if (bh_channel_call(st.ch, BH_MSG_HEARTBEAT, &hb.base, NULL, 0, 0, on_reply, &st) < 0 ||
		    bh_channel_flush(st.ch) != 0)
			bh_fuzz_fail("cannot issue the call");
		bh_fuzz_drain(sv[1]);
	}
	st.sent_fds = nfds;
	r = bh_fuzz_send(sv[1], env.frame, env.frame_len, fds, nfds);
	if (r == 0) {
		int frames = (int)bh_fuzz_count_frames(env.frame, env.frame_len), got;

		/*
		 * Everything is queued already: rounds deliver it (a long coalesced
		 * datagram takes one round per receive budget) and one more flushes
		 * the replies.
		 */
		for (int i = 0; i < frames + 4 && bh_channel_is_open(st.ch); i++) {
			if (bh_loop_run_once(loop, 0) < 0)
				bh_fuzz_fail("loop failed");
			if (st.messages + st.replies >= frames && i >= 1)
				break;
		}
		got = st.messages + st.replies;
		coalesced += frames > 1;
		coalesced_delivered += frames > 1 && got == frames && !st.bad;
		BH_FUZZ_CHECK(st.closed == 0, "channel closed although the peer is still there");
		BH_FUZZ_CHECK(!st.call_failed || st.bad == 1, "call failed without a bad message");
		BH_FUZZ_CHECK(st.bad <= 1 && st.replies <= 1, "%d bad reports, %d replies", st.bad,
			      st.replies);
		if (st.refused) {
			/* The refused message was delivered, and so were the frames before it. */
			BH_FUZZ_CHECK(st.messages >= 1 && got <= frames && st.bad == 1 &&
					      st.bad_reason == BH_BAD_APP,
				      "refusal reported as %d/%d/%d of %d frames", st.messages, st.bad,
				      st.bad_reason, frames);
		} else {
			/* A bad frame stops the datagram: the ones before it were delivered. */
			BH_FUZZ_CHECK(st.bad ? got < frames : got == frames,
				      "datagram of %d frames: %d messages, %d replies, %d bad reports",
				      frames, st.messages, st.replies, st.bad);
		}
	} else {
		/* The kernel refused it (e.g. larger than the socket buffer): nothing to check. */
		BH_FUZZ_CHECK(r == -EMSGSIZE || r == -ENOBUFS || r == -EAGAIN,
			      "send failed: %s", strerror(-r));
	}
	st.checking = 1;
	bh_channel_destroy(st.ch);
	bh_fuzz_drain(sv[1]);
	close(sv[1]);
	r = bh_fuzz_count_fds();
	if (r != base_fds) {
		bh_fuzz_list_fds();
		bh_fuzz_fail("fd leak: %d open fds, %d before", r, base_fds);
	}
	return 0;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, unsigned seed);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, unsigned seed)
{
	return bh_fuzz_mutate_envelope(reg, data, size, max, seed);
}

size_t LLVMFuzzerCustomCrossOver(const uint8_t *a, size_t asize, const uint8_t *b, size_t bsize,
				 uint8_t *out, size_t max, unsigned seed);
size_t LLVMFuzzerCustomCrossOver(const uint8_t *a, size_t asize, const uint8_t *b, size_t bsize,
				 uint8_t *out, size_t max, unsigned seed)
{
	return bh_fuzz_crossover_envelope(reg, a, asize, b, bsize, out, max, seed);
}
