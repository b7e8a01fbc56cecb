/*
 * fuzz_surface: the consumer side of shared-memory surfaces as the gpu
 * process uses it, with every byte and every fd from a hostile producer.
 *
 * Per input, a real SOCK_SEQPACKET socketpair and a real channel whose
 * on_message acts like a compositor: SurfaceAttach goes through
 * bh_surface_handle_attach() (an id already in use, or a fifth surface, is
 * refused first), FrameReady through bh_surface_parse_frame() and
 * bh_surface_handle_ready(), after which the damaged rectangle of the slot
 * is read through the read-only mapping and the slot held before is given
 * back (bh_surface_send_release); SurfaceDetach unmaps. Like the gpu
 * process towards the broker, the receiver is also the producer of one
 * surface (id 0x70, 32x32, 2 slots) whose first frame it presents at once:
 * FrameRelease frames go through bh_surface_handle_release(), and each good
 * one is followed by the next frame. Anything else is a bad message.
 *
 * Input: a sequence (fuzz.h) of envelopes. The fds are real, made per
 * record from the fd prefix and the record's aux byte:
 *   kind byte bits 0-1  0 memfd, 1 pipe, 2 socket, 3 regular file (bit 5:
 *                       on tmpfs, /dev/shm, else on disk)
 *             bits 2-4  size: 0 the region_size the SurfaceAttach claims,
 *                       1 what its geometry needs, 2 claimed + 1,
 *                       3 claimed + 4096, 4 zero, 5 4096, 6 1 MiB,
 *                       7 needed - 1 (all capped at 4 MiB)
 *             bits 5-7  memfd access: 0 as created (O_RDWR), 1 reopened
 *                       O_RDONLY, 2 O_PATH, 3 O_WRONLY, 4 created without
 *                       MFD_ALLOW_SEALING, others as 0
 *   aux byte  bits 0-4  the memfd's seals: SHRINK, GROW, SEAL, WRITE,
 *                       FUTURE_WRITE (any subset)
 * After each record the harness tries to shrink every memfd it sent to
 * zero bytes, as an evil producer would: if a surface had been accepted
 * without the seals that forbid it, the next read of its slot would raise
 * SIGBUS.
 *
 * Checked: the accept/refuse decision for every attach, frame and release
 * matches an independent model of the rules (the fd's real kind, size and
 * seals; slot ownership and sequence numbers); every refusal is a bad
 * message with a named reason and closes the channel; every frame of a
 * record's datagram (several when coalesced) is delivered, or those before
 * the one refused; accepted surfaces
 * are mapped read-only and exactly as large as their slots; a held slot is
 * readable and no other is; every release sent back names a frame that was
 * accepted; no fd leaks (every input) and no mapping of a memfd is left
 * (every 16 inputs, /proc/self/maps).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bulkhead/shm.h>

#include "bulkhead.pb-c.h"
#include "common/internal.h"
#include "fuzz/fuzz.h"

#define MAX_SURFACES 4
#define PRODUCER_ID 0x70u
#define SEALS_REQUIRED (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif


/* What the harness made for fd i of the current record: what the model judges by. */
/* A consumer surface and the model's view of it. */
struct csurf {
	bh_surface *s;
	uint32_t id;
	bh_surface_geometry g;
	uint64_t last_seq;
	int held;                 /* the slot the compositor holds, or -1 */
	uint64_t held_seq;
	uint64_t sent_release[BH_SURFACE_MAX_SLOTS]; /* seq given back per slot, for checking */
};

struct state {
	bh_channel *ch;
	struct csurf surf[MAX_SURFACES];
	bh_surface *prod;
	/* The model of the producer surface: seq at the consumer per slot (0: not there). */
	uint64_t prod_at_peer[2];
	uint64_t prod_seq;
	const bh_fuzz_made_fd *made; /* fds of the record being delivered */
	unsigned nmade;
	int bad, bad_reason, refused, closed, delivered;
	uint64_t checksum;
};

static bh_loop *loop;
static bh_registry *reg;
static bh_fuzz_fdset fdset;
static int file_fd[2] = { -1, -1 }; /* on disk, on tmpfs */
static char file_path[2][64];
static unsigned long inputs, attaches, frames_read, releases_taken, refusals;

/* ---- the model ----------------------------------------------------------------- */

static int attach_ok(const Bh__SurfaceAttach *a, const bh_fuzz_made_fd *f)
{
	bh_surface_geometry g = { a->width, a->height, a->stride, a->format, a->slots };
	uint64_t need;

	if (bh_surface_geometry_check(&g, NULL, &need) < 0 || a->region_size > BH_SHM_MAX_SIZE ||
	    a->region_size < need)
		return 0;
	return f->memfd && f->access != BH_FUZZ_ACC_PATH && f->access != BH_FUZZ_ACC_WRONLY &&
	       f->access != BH_FUZZ_ACC_NOSEAL && (f->seals & SEALS_REQUIRED) == SEALS_REQUIRED &&
	       f->size >= a->region_size;
}

static int ready_ok(const struct csurf *c, const bh_frame *f)
{
	return f->slot < c->g.slots && f->seq > c->last_seq &&
	       (uint64_t)f->damage.x + f->damage.width <= c->g.width &&
	       (uint64_t)f->damage.y + f->damage.height <= c->g.height &&
	       !(c->held == (int)f->slot);
}

/* ---- the compositor -------------------------------------------------------------- */

static struct csurf *find(struct state *st, uint32_t id)
{
	for (unsigned i = 0; i < MAX_SURFACES; i++)
		if (st->surf[i].s && st->surf[i].id == id)
			return &st->surf[i];
	return NULL;
}

static void refuse(struct state *st, const char *why)
{
	st->refused++;
	refusals++;
	bh_channel_bad_message(st->ch, why);
}

static void check_refusal(int r)
{
	BH_FUZZ_CHECK(bh_shm_is_bad_message(r), "refusal %d (%s) is not a bad-message error", r,
		      bh_shm_strerror(r));
	BH_FUZZ_CHECK(strcmp(bh_shm_strerror(r), "unexpected error") != 0, "error %d has no text", r);
}

static void on_attach(struct state *st, bh_msg *m)
{
	const Bh__SurfaceAttach *a = (const Bh__SurfaceAttach *)bh_msg_body(m);
	struct csurf *c = NULL;
	bh_surface *s;
	uint64_t need;
	int expect, r;

	if (find(st, a->surface_id)) {
		refuse(st, "surface id already in use");
		return;
	}
	for (unsigned i = 0; i < MAX_SURFACES && !c; i++)
		if (!st->surf[i].s)
			c = &st->surf[i];
	if (!c) {
		refuse(st, "too many surfaces");
		return;
	}
	BH_FUZZ_CHECK(st->nmade >= 1, "SurfaceAttach delivered without the fd the harness sent");
	expect = attach_ok(a, &st->made[0]);
	r = bh_surface_handle_attach(m, &s);
	BH_FUZZ_CHECK(bh_msg_fd(m, 0) < 0, "bh_surface_handle_attach left the fd in the message");
	if (r < 0) {
		BH_FUZZ_CHECK(!expect, "good SurfaceAttach refused: %s", bh_shm_strerror(r));
		check_refusal(r);
		refuse(st, bh_shm_strerror(r));
		return;
	}
	BH_FUZZ_CHECK(expect, "bad SurfaceAttach accepted (fd kind %d access %d seals %#x size %llu, "
			      "claim %llu)",
		      st->made[0].memfd, st->made[0].access, st->made[0].seals,
		      (unsigned long long)st->made[0].size, (unsigned long long)a->region_size);
	attaches++;
	memset(c, 0, sizeof *c);
	c->s = s;
	c->id = a->surface_id;
	c->g = *bh_surface_get_geometry(s);
	c->held = -1;
	BH_FUZZ_CHECK(bh_surface_id(s) == a->surface_id, "surface id changed");
	BH_FUZZ_CHECK(bh_surface_geometry_check(&c->g, NULL, &need) == 0, "accepted a bad geometry");
	BH_FUZZ_CHECK(!bh_shm_region_writable(bh_surface_region(s)), "consumer mapping is writable");
	BH_FUZZ_CHECK(bh_shm_region_size(bh_surface_region(s)) == need,
		      "mapped %llu bytes for a layout of %llu",
		      (unsigned long long)bh_shm_region_size(bh_surface_region(s)),
		      (unsigned long long)need);
	BH_FUZZ_CHECK((bh_shm_region_seals(bh_surface_region(s)) & SEALS_REQUIRED) == SEALS_REQUIRED,
		      "accepted region lacks its seals");
	for (unsigned i = 0; i < BH_SURFACE_MAX_SLOTS; i++)
		BH_FUZZ_CHECK(bh_surface_slot_data(s, i) == NULL, "slot %u readable before a frame", i);
}

/* Reads what a compositor would: a few rows of the damaged rectangle, first and last pixel. */
static void read_damage(struct state *st, const struct csurf *c, const bh_frame *f)
{
	const uint8_t *px = bh_surface_slot_data(c->s, f->slot);
	uint32_t rows = f->damage.height, step = rows > 8 ? rows / 8 : 1;

	BH_FUZZ_CHECK(px != NULL, "held slot %u not readable", f->slot);
	for (unsigned i = 0; i < c->g.slots; i++)
		BH_FUZZ_CHECK(i == f->slot || (int)i == c->held || bh_surface_slot_data(c->s, i) == NULL,
			      "slot %u readable while not held", i);
	if (!f->damage.width)
		return;
	for (uint32_t y = f->damage.y; y < f->damage.y + rows; y += step) {
		const uint8_t *row = px + (size_t)y * c->g.stride;
		uint32_t first, last;

		memcpy(&first, row + (size_t)f->damage.x * 4, 4);
		memcpy(&last, row + ((size_t)f->damage.x + f->damage.width - 1) * 4, 4);
		st->checksum += first ^ last;
	}
	frames_read++;
}

static void on_ready(struct state *st, bh_msg *m)
{
	struct csurf *c;
	bh_frame f;
	int expect, r;

	r = bh_surface_parse_frame(m, &f);
	if (r < 0) {
		check_refusal(r);
		refuse(st, bh_shm_strerror(r));
		return;
	}
	c = find(st, f.surface_id);
	if (!c) {
		refuse(st, "FrameReady for an unknown surface");
		return;
	}
	expect = ready_ok(c, &f);
	r = bh_surface_handle_ready(c->s, &f);
	if (r < 0) {
		BH_FUZZ_CHECK(!expect, "good FrameReady refused: %s", bh_shm_strerror(r));
		check_refusal(r);
		refuse(st, bh_shm_strerror(r));
		return;
	}
	BH_FUZZ_CHECK(expect, "bad FrameReady accepted (slot %u seq %llu after %llu)", f.slot,
		      (unsigned long long)f.seq, (unsigned long long)c->last_seq);
	c->last_seq = f.seq;
	read_damage(st, c, &f);
	/* The compositor keeps the newest frame and gives the one it held back. */
	if (c->held >= 0) {
		r = bh_surface_send_release(st->ch, c->s, (unsigned)c->held);
		BH_FUZZ_CHECK(r == 0, "cannot release slot %d: %s", c->held, strerror(-r));
		c->sent_release[c->held] = c->held_seq;
		BH_FUZZ_CHECK(bh_surface_slot_data(c->s, (unsigned)c->held) == NULL,
			      "slot %d readable after its release", c->held);
	}
	c->held = (int)f.slot;
	c->held_seq = f.seq;
}

static void present(struct state *st)
{
	unsigned slot;
	uint64_t seq;

	if (bh_surface_acquire(st->prod, &slot, NULL) < 0)
		return;
	BH_FUZZ_CHECK(bh_surface_send_ready(st->ch, st->prod, slot, NULL, &seq) == 0,
		      "cannot present");
	BH_FUZZ_CHECK(seq == st->prod_seq + 1 && slot < 2 && !st->prod_at_peer[slot],
		      "producer handed out slot %u seq %llu", slot, (unsigned long long)seq);
	st->prod_seq = seq;
	st->prod_at_peer[slot] = seq;
}

static void on_release(struct state *st, bh_msg *m)
{
	bh_frame f;
	int expect, r;

	r = bh_surface_parse_frame(m, &f);
	BH_FUZZ_CHECK(r == 0, "FrameRelease does not parse");
	if (f.surface_id != PRODUCER_ID) {
		refuse(st, "FrameRelease for an unknown surface");
		return;
	}
	expect = f.slot < 2 && st->prod_at_peer[f.slot] && st->prod_at_peer[f.slot] == f.seq;
	r = bh_surface_handle_release(st->prod, &f);
	if (r < 0) {
		BH_FUZZ_CHECK(!expect, "good FrameRelease refused: %s", bh_shm_strerror(r));
		check_refusal(r);
		refuse(st, bh_shm_strerror(r));
		return;
	}
	BH_FUZZ_CHECK(expect, "bad FrameRelease accepted (slot %u seq %llu)", f.slot,
		      (unsigned long long)f.seq);
	st->prod_at_peer[f.slot] = 0;
	releases_taken++;
	present(st);
}

static void on_detach(struct state *st, bh_msg *m)
{
	struct csurf *c;
	uint32_t id;

	if (bh_surface_parse_detach(m, &id) < 0 || !(c = find(st, id))) {
		refuse(st, "bad SurfaceDetach");
		return;
	}
	bh_surface_destroy(c->s);
	memset(c, 0, sizeof *c);
}

static void on_message(bh_channel *ch, bh_msg *m, void *ud)
{
	struct state *st = ud;

	st->delivered++;
	switch (bh_msg_type(m)) {
	case BH_MSG_SURFACE_ATTACH:
		on_attach(st, m);
		break;
	case BH_MSG_FRAME_READY:
		on_ready(st, m);
		break;
	case BH_MSG_FRAME_RELEASE:
		on_release(st, m);
		break;
	case BH_MSG_SURFACE_DETACH:
		on_detach(st, m);
		break;
	default:
		refuse(st, "a renderer may only send surfaces and frames");
	}
}

static void on_bad(bh_channel *ch, int reason, const char *detail, void *ud)
{
	struct state *st = ud;

	st->bad++;
	st->bad_reason = reason;
	BH_FUZZ_CHECK(reason > 0 && reason < BH_BAD_REASON_COUNT, "bad message with reason %d", reason);
	BH_FUZZ_CHECK(!bh_channel_is_open(ch), "channel still open after a bad message");
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

/* ---- making the fds ------------------------------------------------------------ */

/* Every frame the receiver sent back: releases of accepted frames, and its own frames. */
static void check_sent(int sock, struct state *st)
{
	static uint8_t buf[BH_MAX_MESSAGE];
	union {
		struct cmsghdr align;
		uint8_t b[CMSG_SPACE(BH_MAX_FDS * sizeof(int)) + CMSG_SPACE(sizeof(struct ucred))];
	} cbuf;

	for (;;) {
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.b,
				     .msg_controllen = sizeof cbuf.b };
		ssize_t r = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		Bh__FrameRelease *fr;
		struct csurf *c;
		uint8_t *f;
		bh_header h;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			BH_FUZZ_CHECK(cm->cmsg_type != SCM_RIGHTS, "the consumer sent an fd");
		for (size_t off = 0, flen; (f = bh_fuzz_next_frame(buf, (size_t)r, &off, &flen));) {
			BH_FUZZ_CHECK(bh_header_decode(f, flen, &h) == 0, "the consumer sent a bad frame");
			if (h.type == BH_MSG_FRAME_READY)
				continue; /* the producer's own frame, checked in present() */
			BH_FUZZ_CHECK(h.type == BH_MSG_FRAME_RELEASE, "the consumer sent type %u", h.type);
			fr = bh__frame_release__unpack(NULL, h.payload_len, f + BH_HEADER_SIZE);
			BH_FUZZ_CHECK(fr != NULL, "FrameRelease does not decode");
			c = find(st, fr->surface_id);
			/* A surface detached since may no longer be there; otherwise the release must match. */
			BH_FUZZ_CHECK(!c || (fr->slot < c->g.slots && c->sent_release[fr->slot] == fr->seq),
				      "release of slot %u seq %llu was never sent", fr->slot,
				      (unsigned long long)fr->seq);
			bh__frame_release__free_unpacked(fr, NULL);
		}
	}
}

static int memfd_mappings(void)
{
	char line[512];
	int n = 0;
	FILE *f = fopen("/proc/self/maps", "re");

	if (!f)
		bh_fuzz_fail("cannot read /proc/self/maps");
	while (fgets(line, sizeof line, f))
		if (strstr(line, "/memfd:"))
			n++;
	fclose(f);
	return n;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dirs[2] = { "/tmp", "/dev/shm" };

	if (bh_loop_create(&loop) < 0 || bh_fuzz_registry_create(&reg) < 0 ||
	    bh_fuzz_fdset_init(&fdset) < 0)
		bh_fuzz_fail("cannot set up the harness");
	for (int i = 0; i < 2; i++) {
		snprintf(file_path[i], sizeof file_path[i], "%s/bh-fuzz-surface-XXXXXX", dirs[i]);
		file_fd[i] = mkostemp(file_path[i], O_CLOEXEC);
		if (file_fd[i] < 0)
			bh_fuzz_fail("mkostemp %s: %s", file_path[i], strerror(errno));
		/* The open fd is all the harness needs: nothing is left behind. */
		unlink(file_path[i]);
	}
	return 0;
}

static void print_stats(void)
{
	fprintf(stderr, "fuzz_surface: %lu inputs, %lu surfaces attached, %lu frames read, "
			"%lu releases taken, %lu refusals\n",
		inputs, attaches, frames_read, releases_taken, refusals);
}

int bh_fuzz_replay_done(void)
{
	if (getenv("BH_FUZZ_STATS"))
		print_stats();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bh_fuzz_record recs[BH_FUZZ_SEQ_MAX];
	struct state st;
	bh_surface_geometry pg;
	uint8_t options;
	unsigned n;
	int sv[2], base, r;

	base = bh_fuzz_count_fds();
	inputs++;
	memset(&st, 0, sizeof st);
	n = bh_fuzz_seq_parse(data, size, &options, recs, BH_FUZZ_SEQ_MAX);
	if (bh_channel_socketpair(sv) < 0)
		bh_fuzz_fail("socketpair failed");
	if (bh_channel_create(loop, reg, sv[0], &ops, &st, NULL, &st.ch) < 0)
		bh_fuzz_fail("bh_channel_create failed");
	if (bh_surface_geometry_init(&pg, 32, 32, BH_PIXEL_ARGB8888, 2) < 0 ||
	    bh_surface_create(PRODUCER_ID, &pg, &st.prod) < 0)
		bh_fuzz_fail("cannot create the producer surface");
	present(&st);

	for (unsigned i = 0; i < n && bh_channel_is_open(st.ch); i++) {
		bh_fuzz_made_fd made[BH_FUZZ_MAX_FDS + BH_FUZZ_FLOOD_FDS];
		int fds[BH_FUZZ_MAX_FDS + BH_FUZZ_FLOOD_FDS];
		bh_fuzz_envelope env;
		uint64_t claimed, need;
		unsigned nfds;
		int before;

		bh_fuzz_envelope_parse(recs[i].env, recs[i].env_len, &env);
		bh_fuzz_region_claims(env.frame, env.frame_len, &claimed, &need);
		for (unsigned k = 0; k < env.nfds; k++)
			fds[k] = bh_fuzz_make_fd(&fdset, file_fd, env.kinds[k], recs[i].aux, claimed, need, &made[k]);
		nfds = env.nfds;
		if (env.ctl & BH_FUZZ_CTL_FLOOD) {
			for (unsigned k = 0; k < BH_FUZZ_FLOOD_FDS; k++) {
				made[nfds] = (bh_fuzz_made_fd){ .fd = -1 };
				fds[nfds++] = dup(fdset.fd[BH_FUZZ_FD_DEVNULL]);
			}
		}
		st.made = made;
		st.nmade = nfds;
		before = st.delivered + st.bad;
		r = bh_fuzz_send(sv[1], env.frame, env.frame_len, fds, nfds);
		for (unsigned k = 0; k < nfds; k++)
			close(fds[k]);
		if (r == 0) {
			int frames = (int)bh_fuzz_count_frames(env.frame, env.frame_len), got;

			/* A long coalesced datagram takes a round per receive budget. */
			for (int k = 0; k < 256; k++) {
				int d = bh_loop_run_once(loop, 0);

				BH_FUZZ_CHECK(d >= 0, "loop failed");
				if (d == 0 && k >= 1)
					break;
			}
			/*
			 * Every frame of the datagram, or those before a bad one and
			 * the report (a refused frame is both delivered and reported).
			 */
			got = st.delivered + st.bad - before;
			BH_FUZZ_CHECK(st.bad ? got >= 1 && got <= frames + st.refused : got == frames,
				      "record %u: %d frames, %d deliveries, %d bad reports", i, frames,
				      st.delivered, st.bad);
		} else {
			BH_FUZZ_CHECK(r == -EMSGSIZE || r == -ENOBUFS || r == -EAGAIN, "send failed: %s",
				      strerror(-r));
		}
		/* The evil producer's move: shrink what it sent. Only missing seals let it. */
		for (unsigned k = 0; k < nfds; k++) {
			if (made[k].fd < 0)
				continue;
			if (ftruncate(made[k].fd, 0) == 0)
				BH_FUZZ_CHECK(!(made[k].seals & F_SEAL_SHRINK) || made[k].size == 0,
					      "a memfd sealed against shrinking shrank");
			close(made[k].fd);
		}
		st.made = NULL;
		st.nmade = 0;
		check_sent(sv[1], &st);
	}
	BH_FUZZ_CHECK(st.closed == 0, "channel closed although the peer is still there");
	BH_FUZZ_CHECK(st.refused <= 1 && st.bad == (st.refused ? 1 : st.bad),
		      "%d refusals, %d bad reports", st.refused, st.bad);
	if (st.refused)
		BH_FUZZ_CHECK(st.bad_reason == BH_BAD_APP, "refusal reported as reason %d", st.bad_reason);

	for (unsigned i = 0; i < MAX_SURFACES; i++)
		bh_surface_destroy(st.surf[i].s);
	bh_surface_destroy(st.prod);
	bh_channel_destroy(st.ch);
	bh_fuzz_drain(sv[1]);
	close(sv[1]);
	r = bh_fuzz_count_fds();
	if (r != base) {
		bh_fuzz_list_fds();
		bh_fuzz_fail("fd leak: %d open fds, %d before", r, base);
	}
	/* Reading the maps costs more than an input: every 16th, where every surface is gone. */
	if (inputs % 16 == 1 || getenv("BH_FUZZ_CHECK_MAPS")) {
		r = memfd_mappings();
		BH_FUZZ_CHECK(r == 0, "%d memfd mappings left after the input", r);
	}
	(void)st.checksum;
	return 0;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, unsigned seed);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, unsigned seed)
{
	return bh_fuzz_mutate_seq(reg, data, size, max, seed);
}

size_t LLVMFuzzerCustomCrossOver(const uint8_t *a, size_t asize, const uint8_t *b, size_t bsize,
				 uint8_t *out, size_t max, unsigned seed);
size_t LLVMFuzzerCustomCrossOver(const uint8_t *a, size_t asize, const uint8_t *b, size_t bsize,
				 uint8_t *out, size_t max, unsigned seed)
{
	return bh_fuzz_crossover_seq(reg, a, asize, b, bsize, out, max, seed);
}
