/*
 * Evil-worker mode of the renderer (about:evil, started by the broker's
 * `evil` command, docs/RELIABILITY.md): a renderer that has passed its
 * handshake behaves as a compromised one would, sending mutated and random
 * frames to the broker and to the gpu process until it is killed. The
 * frames come from the fuzzers' descriptor-driven mutator (fuzz/fuzz.h)
 * over the registry the renderer really speaks, so most of them look like
 * real messages and reach the receivers' handlers, not only their framing
 * checks.
 */
#ifndef BH_RENDERER_EVIL_H
#define BH_RENDERER_EVIL_H

#include <stdint.h>

#include <bulkhead/loop.h>
#include <bulkhead/protocol.h>

/* Where an evil renderer sends (EVIL_TO_BROKER | EVIL_TO_GPU). */
enum { EVIL_TO_BROKER = 1u << 0, EVIL_TO_GPU = 1u << 1 };

struct evil;

/*
 * Parses the query of an about:evil URL ("about:evil?seed=N&to=broker|gpu|both";
 * both fields optional: seed 1, both). Returns 0, or -EINVAL for anything
 * else after "about:evil".
 */
int evil_parse_url(const char *url, uint64_t *seed, unsigned *targets);

/* One receiver: its channel fd and the types it accepts from a renderer. */
struct evil_target {
	int fd;                /* -1: none (no gpu channel yet) */
	const uint32_t *types; /* mostly these are sent, so that handlers are reached */
	size_t ntypes;
};

/*
 * Starts sending: every millisecond a burst of frames, each either random
 * bytes or a frame mutated by bh_fuzz_mutate() from an empty message of a
 * type in `reg` (most often one the receiver accepts: one it refuses ends
 * the sender at once, and its handlers would never be reached), sent with
 * sendmsg(MSG_DONTWAIT) straight on the receivers' fds (bypassing the
 * channels' own checks, as a compromised process would), some carrying
 * copies of those fds as SCM_RIGHTS. `targets` picks the receivers (the
 * broker alone when the gpu has no fd). Deterministic in `seed`.
 * Everything passed is borrowed and must outlive the sender. Send errors
 * (a full buffer, a peer that hung up) are counted, never fatal: the
 * renderer waits to be killed.
 * Returns 0 and *out (free with evil_stop()), or a negative errno.
 */
int evil_start(bh_loop *loop, const bh_registry *reg, const struct evil_target *broker,
	       const struct evil_target *gpu, uint64_t seed, unsigned targets, struct evil **out);

/* Stops sending and frees; NULL is a no-op. */
void evil_stop(struct evil *e);

/* Frames sent so far (accepted by the kernel), for the renderer's note. */
uint64_t evil_sent(const struct evil *e);

#endif
