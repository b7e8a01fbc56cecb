/*
 * Surfaces: geometry checks, the slot ownership state machine, 10 000 frames
 * between a producer and a consumer process over a real channel with every
 * frame's pixels checked, and every protocol violation refused as a bad
 * message by the side that receives it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bulkhead/shm.h>

#include "bulkhead.pb-c.h"
#include "testutil.h"
#include "test_shm_peer.h"

#define W 64u
#define H 48u
#define SLOTS 3u
#define STRIDE (W * 4)
#define SLOT_BYTES (STRIDE * H) /* 12288: already a multiple of 4096 */
#define REGION (SLOT_BYTES * SLOTS)

static const bh_surface_geometry G = { W, H, STRIDE, BH_PIXEL_ARGB8888, SLOTS };

/* ---- geometry ----------------------------------------------------------- */

struct geom_case {
	bh_surface_geometry g;
	int want;
	uint64_t slot, total;
};

static const struct geom_case geom_cases[] = {
	{ { 64, 48, 256, BH_PIXEL_ARGB8888, 3 }, 0, 12288, 36864 },
	{ { 1, 1, 4, BH_PIXEL_XRGB8888, 1 }, 0, 4096, 4096 },
	{ { 100, 10, 400, BH_PIXEL_ARGB8888, 2 }, 0, 4096, 8192 },  /* 4000 rounded up */
	{ { 100, 11, 512, BH_PIXEL_ARGB8888, 2 }, 0, 8192, 16384 }, /* padded rows */
	{ { 1920, 1080, 7680, BH_PIXEL_ARGB8888, 3 }, 0, 8294400, 24883200 },
	{ { 8192, 8192, 32768, BH_PIXEL_ARGB8888, 4 }, 0, 268435456, 1073741824 },
	{ { 0, 48, 256, BH_PIXEL_ARGB8888, 3 }, -EINVAL, 0, 0 },
	{ { 64, 0, 256, BH_PIXEL_ARGB8888, 3 }, -EINVAL, 0, 0 },
	{ { 64, 48, 256, BH_PIXEL_ARGB8888, 0 }, -EINVAL, 0, 0 },
	{ { 64, 48, 256, 0, 3 }, -EINVAL, 0, 0 },
	{ { 64, 48, 256, 77, 3 }, -EINVAL, 0, 0 },
	{ { 64, 48, 252, BH_PIXEL_ARGB8888, 3 }, -EINVAL, 0, 0 }, /* stride below width * 4 */
	{ { 64, 48, 258, BH_PIXEL_ARGB8888, 3 }, -EINVAL, 0, 0 }, /* stride not a multiple of 4 */
	{ { 0xffffffffu, 1, 0xfffffffcu, BH_PIXEL_ARGB8888, 1 }, -EINVAL, 0, 0 },
	{ { 1, 0xffffffffu, 0xfffffffcu, BH_PIXEL_ARGB8888, 0xffffffffu }, -EOVERFLOW, 0, 0 },
	{ { 8193, 1, 32772, BH_PIXEL_ARGB8888, 1 }, -E2BIG, 0, 0 },
	{ { 1, 8193, 4, BH_PIXEL_ARGB8888, 1 }, -E2BIG, 0, 0 },
	{ { 1, 1, 65540, BH_PIXEL_ARGB8888, 1 }, -E2BIG, 0, 0 },
	{ { 1, 1, 4, BH_PIXEL_ARGB8888, 5 }, -E2BIG, 0, 0 },
	{ { 8192, 8192, 65536, BH_PIXEL_ARGB8888, 4 }, -EFBIG, 0, 0 },
	{ { 8192, 8192, 32768, BH_PIXEL_ARGB8888, 4 }, 0, 268435456, 1073741824 },
};

static void test_geometry(void **state)
{
	bh_surface_geometry g;

	for (size_t i = 0; i < sizeof geom_cases / sizeof geom_cases[0]; i++) {
		const struct geom_case *c = &geom_cases[i];
		uint64_t slot = 1, total = 1;
		int r = bh_surface_geometry_check(&c->g, &slot, &total);

		if (r != c->want)
			fail_msg("case %zu: %d, want %d", i, r, c->want);
		if (r == 0 && (slot != c->slot || total != c->total))
			fail_msg("case %zu: slot %llu total %llu", i, (unsigned long long)slot,
				 (unsigned long long)total);
		if (r < 0 && (slot != 1 || total != 1))
			fail_msg("case %zu: outputs written on failure", i);
		if (r < 0)
			assert_true(bh_shm_is_bad_message(r));
	}
	assert_int_equal(bh_surface_geometry_init(&g, 1920, 1080, BH_PIXEL_XRGB8888, 2), 0);
	assert_int_equal(g.stride, 7680);
	assert_int_equal(g.format, BH_PIXEL_XRGB8888);
	assert_int_equal(bh_surface_geometry_init(&g, 0x40000000u, 1, BH_PIXEL_ARGB8888, 2), -E2BIG);
	assert_int_equal(bh_surface_geometry_init(&g, 10, 10, BH_PIXEL_ARGB8888, 9), -E2BIG);
}

/* ---- the state machine, in one process -------------------------------------- */

static void make_pair(bh_surface **prod, bh_surface **cons)
{
	int fd;

	assert_int_equal(bh_surface_create(1, &G, prod), 0);
	fd = dup(bh_shm_region_fd(bh_surface_region(*prod)));
	assert_true(fd >= 0);
	assert_int_equal(bh_surface_import(1, &G, REGION, fd, cons), 0);
}

static void test_slot_protocol(void **state)
{
	int fds = bh_test_count_fds();
	struct maps_snapshot maps = maps_snapshot();
	bh_surface *p, *c;
	unsigned a, b, d, e;
	void *pix;
	bh_frame f, rel;
	bh_rect dmg = { 1, 2, 3, 4 }, out = { 60, 0, 5, 1 };

	make_pair(&p, &c);
	assert_int_equal(bh_surface_id(c), 1);
	assert_int_equal(bh_surface_slot_size(c), SLOT_BYTES);
	assert_int_equal(bh_surface_get_geometry(c)->stride, STRIDE);
	assert_true(bh_shm_region_writable(bh_surface_region(p)));
	assert_false(bh_shm_region_writable(bh_surface_region(c)));
	assert_true(bh_shm_region_seals(bh_surface_region(c)) & 0x0010 /* F_SEAL_FUTURE_WRITE */);

	/* Nobody touches a slot they do not own. */
	for (unsigned i = 0; i < SLOTS + 2; i++) {
		assert_null(bh_surface_slot_data(p, i));
		assert_null(bh_surface_slot_data(c, i));
	}
	/* Wrong side. */
	assert_int_equal(bh_surface_acquire(c, &a, NULL), -EINVAL);
	assert_int_equal(bh_surface_release(p, 0, NULL), -EINVAL);

	assert_int_equal(bh_surface_acquire(p, &a, &pix), 0);
	assert_ptr_equal(pix, bh_surface_slot_data(p, a));
	memset(pix, 0x11, SLOT_BYTES);
	assert_int_equal(bh_surface_present(p, a, &out, &f), -EINVAL);
	assert_int_equal(bh_surface_present(p, a + 1, NULL, &f), -EINVAL);
	assert_int_equal(bh_surface_present(p, a, &dmg, &f), 0);
	assert_null(bh_surface_slot_data(p, a));
	assert_int_equal(f.surface_id, 1);
	assert_int_equal(f.slot, a);
	assert_int_equal(f.seq, 1);
	assert_memory_equal(&f.damage, &dmg, sizeof dmg);
	assert_int_equal(bh_surface_present(p, a, NULL, &f), -EINVAL); /* already sent */

	assert_int_equal(bh_surface_handle_ready(c, &f), 0);
	pix = bh_surface_slot_data(c, a);
	assert_non_null(pix);
	assert_int_equal(((uint8_t *)pix)[SLOT_BYTES - 1], 0x11);
	/* The same frame again: the sequence did not increase. */
	assert_int_equal(bh_surface_handle_ready(c, &f), -EILSEQ);

	/* Two more frames; the consumer still holds the first: the producer runs out. */
	assert_int_equal(bh_surface_acquire(p, &b, NULL), 0);
	assert_int_equal(bh_surface_acquire(p, &d, NULL), 0);
	assert_true(a != b && b != d && a != d);
	assert_int_equal(bh_surface_acquire(p, &e, NULL), -EAGAIN);
	assert_int_equal(bh_surface_cancel(p, d), 0);
	assert_int_equal(bh_surface_cancel(p, d), -EINVAL);
	assert_int_equal(bh_surface_present(p, b, NULL, &f), 0);
	assert_int_equal(f.seq, 2);
	assert_int_equal(f.damage.width, W);
	assert_int_equal(f.damage.height, H);
	assert_int_equal(bh_surface_handle_ready(c, &f), 0);

	/* Releases: the consumer's view, then the producer's checks. */
	assert_int_equal(bh_surface_release(c, d, &rel), -ENOENT);
	assert_int_equal(bh_surface_release(c, a, &rel), 0);
	assert_null(bh_surface_slot_data(c, a));
	assert_int_equal(rel.slot, a);
	assert_int_equal(rel.seq, 1);
	assert_int_equal(bh_surface_release(c, a, NULL), -ENOENT);
	{
		bh_frame bad = rel;

		bad.surface_id = 2;
		assert_int_equal(bh_surface_handle_release(p, &bad), -ENXIO);
		bad = rel;
		bad.slot = SLOTS;
		assert_int_equal(bh_surface_handle_release(p, &bad), -ERANGE);
		bad = rel;
		bad.seq = 2;
		assert_int_equal(bh_surface_handle_release(p, &bad), -ESTALE);
		bad = rel;
		bad.slot = d;
		assert_int_equal(bh_surface_handle_release(p, &bad), -ENOENT);
	}
	assert_int_equal(bh_surface_handle_release(p, &rel), 0);
	assert_int_equal(bh_surface_handle_release(p, &rel), -ENOENT);

	/* The least recently presented free slot comes first: d was never presented. */
	assert_int_equal(bh_surface_acquire(p, &e, NULL), 0);
	assert_int_equal(e, d);
	assert_int_equal(bh_surface_acquire(p, &e, NULL), 0);
	assert_int_equal(e, a);

	/* Consumer checks on a frame from a lying producer. */
	{
		bh_frame bad = { 1, 0, 10, { 0, 0, W, H } };

		bad.surface_id = 7;
		assert_int_equal(bh_surface_handle_ready(c, &bad), -ENXIO);
		bad.surface_id = 1;
		bad.slot = SLOTS;
		assert_int_equal(bh_surface_handle_ready(c, &bad), -ERANGE);
		bad.slot = b; /* still held */
		assert_int_equal(bh_surface_handle_ready(c, &bad), -EBUSY);
		bad.slot = a;
		bad.seq = 2;
		assert_int_equal(bh_surface_handle_ready(c, &bad), -EILSEQ);
		bad.seq = 10;
		bad.damage = (bh_rect){ W, 0, 1, 1 };
		assert_int_equal(bh_surface_handle_ready(c, &bad), -EDOM);
		bad.damage = (bh_rect){ 0xffffffffu, 0, 2, 1 };
		assert_int_equal(bh_surface_handle_ready(c, &bad), -EDOM);
		bad.damage = (bh_rect){ 0, 1, 1, 0xffffffffu };
		assert_int_equal(bh_surface_handle_ready(c, &bad), -EDOM);
		/* An empty damage rectangle anywhere inside, edges included, is fine. */
		bad.damage = (bh_rect){ W, H, 0, 0 };
		assert_int_equal(bh_surface_handle_ready(c, &bad), 0);
		/* Failed checks changed nothing: the next frame must still beat 10. */
		bad.seq = 10;
		bad.slot = d;
		assert_int_equal(bh_surface_handle_ready(c, &bad), -EILSEQ);
	}

	bh_surface_destroy(c);
	bh_surface_destroy(p);
	bh_surface_destroy(NULL);
	assert_int_equal(bh_test_count_fds(), fds);
	assert_true(maps_unchanged(maps));
}

static void test_create_from_region(void **state)
{
	int fds = bh_test_count_fds();
	bh_shm_region *r;
	bh_surface *s;

	assert_int_equal(bh_shm_region_create(REGION - 1, 0, &r), 0);
	assert_int_equal(bh_surface_create_from_region(1, &G, r, &s), -EMSGSIZE); /* r destroyed */
	assert_int_equal(bh_shm_region_create(REGION, BH_SHM_NO_MAP, &r), 0);
	assert_int_equal(bh_surface_create_from_region(1, &G, r, &s), -EACCES);
	assert_int_equal(bh_shm_region_create(REGION, 0, &r), 0);
	assert_int_equal(bh_surface_create_from_region(9, &G, r, &s), 0);
	assert_int_equal(bh_surface_id(s), 9);
	bh_surface_destroy(s);
	assert_int_equal(bh_test_count_fds(), fds);
}

/* A consumer's pixels are mapped read-only. */
static void test_consumer_cannot_write(void **state)
{
	bh_surface *p, *c;
	bh_frame f;
	unsigned slot;
	void *pix;

	make_pair(&p, &c);
	assert_int_equal(bh_surface_acquire(p, &slot, NULL), 0);
	assert_int_equal(bh_surface_present(p, slot, NULL, &f), 0);
	assert_int_equal(bh_surface_handle_ready(c, &f), 0);
	pix = bh_surface_slot_data(c, slot);
	assert_int_equal(mprotect((void *)((uintptr_t)pix & ~(uintptr_t)4095), 4096,
				  PROT_READ | PROT_WRITE), -1);
	assert_int_equal(errno, EACCES);
	bh_surface_destroy(c);
	bh_surface_destroy(p);
}

/* ---- 10 000 frames between two processes ------------------------------------ */

#define FRAMES 10000u

static uint32_t pixel(uint64_t seq, uint32_t x, uint32_t y)
{
	return (uint32_t)(seq * 0x9e3779b1u) ^ (y << 16) ^ x ^ 0xff000000u;
}

struct producer {
	struct peer peer;
	bh_surface *s;
	uint64_t sent, released;
	int detached;
};

static void producer_pump(struct producer *pr)
{
	unsigned slot;
	void *pix;

	while (pr->sent < FRAMES && bh_surface_acquire(pr->s, &slot, &pix) == 0) {
		uint64_t seq = pr->sent + 1, got;
		bh_rect dmg = { (uint32_t)(seq % W), (uint32_t)(seq % H), 0, 0 };

		dmg.width = W - dmg.x;
		dmg.height = H - dmg.y;
		for (uint32_t y = 0; y < H; y++) {
			uint32_t *row = (uint32_t *)((uint8_t *)pix + (size_t)y * STRIDE);

			for (uint32_t x = 0; x < W; x++)
				row[x] = pixel(seq, x, y);
		}
		CHILD_CHECK_EQ(bh_surface_send_ready(pr->peer.ch, pr->s, slot, &dmg, &got), 0);
		CHILD_CHECK_EQ(got, seq);
		pr->sent++;
	}
}

static void producer_on_message(struct peer *p, bh_msg *msg)
{
	struct producer *pr = p->ctx;
	bh_frame f;
	int r;

	r = bh_surface_parse_frame(msg, &f);
	if (r == 0)
		r = bh_surface_handle_release(pr->s, &f);
	if (r < 0) {
		bh_channel_bad_message(p->ch, bh_shm_strerror(r));
		return;
	}
	pr->released++;
	if (pr->released == FRAMES) {
		CHILD_CHECK_EQ(bh_surface_send_detach(p->ch, bh_surface_id(pr->s)), 0);
		pr->detached = 1;
		return; /* the consumer closes once it has the detach */
	}
	producer_pump(pr);
}

static void producer_main(void *arg)
{
	struct producer pr;

	memset(&pr, 0, sizeof pr);
	close(((int *)arg)[1]);
	CHILD_CHECK_EQ(peer_init(&pr.peer, ((int *)arg)[0], producer_on_message, &pr), 0);
	CHILD_CHECK_EQ(bh_surface_create(5, &G, &pr.s), 0);
	CHILD_CHECK_EQ(bh_surface_send_attach(pr.peer.ch, pr.s, -1), 0);
	producer_pump(&pr);
	CHILD_CHECK_EQ(peer_run(&pr.peer, 60000), 1); /* the consumer closed */
	CHILD_CHECK_EQ(pr.peer.bad_reason, 0);
	CHILD_CHECK(pr.detached);
	CHILD_CHECK_EQ(pr.released, FRAMES);
	bh_surface_destroy(pr.s);
	peer_fini(&pr.peer);
}

struct consumer {
	struct peer peer;
	bh_surface *s;
	int held; /* slot of the frame shown, or -1 */
	uint64_t frames, checked_pixels, last_seq;
	char error[160];
};

static void consumer_fail(struct consumer *co, const char *what)
{
	if (!co->error[0])
		snprintf(co->error, sizeof co->error, "%s (frame %llu)", what,
			 (unsigned long long)co->frames);
	bh_channel_bad_message(co->peer.ch, what);
}

static void consumer_on_message(struct peer *p, bh_msg *msg)
{
	struct consumer *co = p->ctx;
	const bh_surface_geometry *g;
	const uint8_t *pix;
	bh_frame f;
	uint32_t id;
	int r;

	switch (bh_msg_type(msg)) {
	case BH_MSG_SURFACE_ATTACH:
		if (co->s) {
			consumer_fail(co, "second surface");
			return;
		}
		r = bh_surface_handle_attach(msg, &co->s);
		if (r < 0)
			consumer_fail(co, bh_shm_strerror(r));
		return;
	case BH_MSG_SURFACE_DETACH:
		if (bh_surface_parse_detach(msg, &id) < 0 || !co->s || id != bh_surface_id(co->s)) {
			consumer_fail(co, "bad detach");
			return;
		}
		bh_surface_destroy(co->s);
		co->s = NULL;
		bh_loop_quit(p->loop, 0);
		return;
	case BH_MSG_FRAME_READY:
		break;
	default:
		consumer_fail(co, "unexpected message");
		return;
	}
	if (!co->s) {
		consumer_fail(co, "frame before attach");
		return;
	}
	r = bh_surface_parse_frame(msg, &f);
	if (r == 0)
		r = bh_surface_handle_ready(co->s, &f);
	if (r < 0) {
		consumer_fail(co, bh_shm_strerror(r));
		return;
	}
	if (f.seq != co->last_seq + 1) {
		consumer_fail(co, "a frame was skipped");
		return;
	}
	co->last_seq = f.seq;
	/* Every pixel of the frame, from the geometry the consumer validated. */
	g = bh_surface_get_geometry(co->s);
	pix = bh_surface_slot_data(co->s, f.slot);
	for (uint32_t y = 0; y < g->height; y++) {
		const uint32_t *row = (const uint32_t *)(pix + (size_t)y * g->stride);

		for (uint32_t x = 0; x < g->width; x++) {
			if (row[x] != pixel(f.seq, x, y)) {
				consumer_fail(co, "pixel mismatch");
				return;
			}
		}
		co->checked_pixels += g->width;
	}
	if (f.damage.x != f.seq % W || f.damage.y != f.seq % H || f.damage.x + f.damage.width != W) {
		consumer_fail(co, "damage changed in transit");
		return;
	}
	co->frames++;
	/* Keep showing this frame; hand back the previous one, and the last one at once. */
	if (co->held >= 0 && bh_surface_send_release(p->ch, co->s, (unsigned)co->held) < 0) {
		consumer_fail(co, "release failed");
		return;
	}
	co->held = (int)f.slot;
	if (co->frames == FRAMES) {
		if (bh_surface_send_release(p->ch, co->s, f.slot) < 0) {
			consumer_fail(co, "release failed");
			return;
		}
		co->held = -1;
	}
}

static void test_frames_between_processes(void **state)
{
	int fds = bh_test_count_fds(), sv[2];
	struct maps_snapshot maps = maps_snapshot();
	struct consumer co;
	pid_t pid;
	int r;

	memset(&co, 0, sizeof co);
	co.held = -1;
	assert_int_equal(bh_channel_socketpair(sv), 0);
	pid = bh_test_fork(producer_main, (int[2]){ sv[1], sv[0] });
	close(sv[1]);
	assert_int_equal(peer_init(&co.peer, sv[0], consumer_on_message, &co), 0);
	r = peer_run(&co.peer, 60000);
	if (r != 0)
		fail_msg("consumer loop ended with %d: %s / bad %d %s", r, co.error,
			 co.peer.bad_reason, co.peer.bad_detail);
	assert_int_equal(co.frames, FRAMES);
	assert_int_equal(co.checked_pixels, (uint64_t)FRAMES * W * H);
	assert_null(co.s);
	peer_fini(&co.peer);
	bh_test_wait_ok(pid, 60000);
	assert_int_equal(bh_test_count_fds(), fds);
	assert_true(maps_unchanged(maps));
	assert_false(bh_test_have_children());
}

/* ---- protocol violations over a real channel ------------------------------- */

enum step_kind { ATTACH, READY, RELEASE };
enum fd_kind { FD_GOOD, FD_NONE, FD_PIPE, FD_UNSEALED, FD_SMALL };

struct step {
	enum step_kind kind;
	uint32_t id, slot;
	uint64_t seq;
	bool no_damage;
	bh_rect damage;
	/* ATTACH: the geometry and size claimed, and what fd goes with them. */
	const bh_surface_geometry *g;
	uint64_t region_size;
	enum fd_kind fd;
};

struct violation {
	const char *name;
	bool against_producer; /* the hostile side is the consumer */
	struct step steps[4];
	unsigned nsteps;
	int want;
};

#define FULL { 0, 0, W, H }
#define GOOD_ATTACH { ATTACH, 1, 0, 0, false, { 0 }, &G, REGION, FD_GOOD }
#define RDY(slot, seq) { READY, 1, slot, seq, false, FULL, NULL, 0, FD_GOOD }
#define RDY_D(slot, seq, x, y, w, h) { READY, 1, slot, seq, false, { x, y, w, h }, NULL, 0, FD_GOOD }
#define REL(id, slot, seq) { RELEASE, id, slot, seq, false, { 0 }, NULL, 0, FD_GOOD }

static const bh_surface_geometry G_ZERO = { 0, H, STRIDE, BH_PIXEL_ARGB8888, SLOTS };
static const bh_surface_geometry G_HUGE = { 9000, H, 36000, BH_PIXEL_ARGB8888, SLOTS };
static const bh_surface_geometry G_OVERFLOW = { 1, 0xffffffffu, 0xfffffffcu, BH_PIXEL_ARGB8888,
						0xffffffffu };

static const struct violation violations[] = {
	/* A lying producer; the consumer refuses. */
	{ "slot out of range", false, { GOOD_ATTACH, RDY(SLOTS, 1) }, 2, -ERANGE },
	{ "slot UINT32_MAX", false, { GOOD_ATTACH, RDY(0xffffffffu, 1) }, 2, -ERANGE },
	{ "sequence backwards", false, { GOOD_ATTACH, RDY(0, 5), RDY(1, 4) }, 3, -EILSEQ },
	{ "sequence repeated", false, { GOOD_ATTACH, RDY(0, 5), RDY(1, 5) }, 3, -EILSEQ },
	{ "sequence zero", false, { GOOD_ATTACH, RDY(0, 0) }, 2, -EILSEQ },
	{ "damage past the right edge", false, { GOOD_ATTACH, RDY_D(0, 1, 60, 0, 5, 1) }, 2, -EDOM },
	{ "damage past the bottom", false, { GOOD_ATTACH, RDY_D(0, 1, 0, 40, 1, 9) }, 2, -EDOM },
	{ "damage x + width wraps", false, { GOOD_ATTACH, RDY_D(0, 1, 0xffffffffu, 0, 2, 1) }, 2,
	  -EDOM },
	{ "damage y + height wraps", false, { GOOD_ATTACH, RDY_D(0, 1, 0, 1, 1, 0xffffffffu) }, 2,
	  -EDOM },
	{ "slot already held", false, { GOOD_ATTACH, RDY(0, 1), RDY(0, 2) }, 3, -EBUSY },
	{ "frame for another surface", false,
	  { GOOD_ATTACH, { READY, 2, 0, 1, false, FULL, NULL, 0, FD_GOOD } }, 2, -ENXIO },
	{ "frame without damage", false,
	  { GOOD_ATTACH, { READY, 1, 0, 1, true, FULL, NULL, 0, FD_GOOD } }, 2, -EBADMSG },
	/* An attach without its fd never reaches the handler: the registry requires one
	 * (test_channel's "missing-fds" case). */
	{ "attach with a pipe", false, { { ATTACH, 1, 0, 0, false, { 0 }, &G, REGION, FD_PIPE } }, 1,
	  -ENODEV },
	{ "attach with an unsealed memfd", false,
	  { { ATTACH, 1, 0, 0, false, { 0 }, &G, REGION, FD_UNSEALED } }, 1, -EPERM },
	{ "attach claiming less than the slots need", false,
	  { { ATTACH, 1, 0, 0, false, { 0 }, &G, REGION - 1, FD_GOOD } }, 1, -EMSGSIZE },
	{ "attach with a memfd smaller than claimed", false,
	  { { ATTACH, 1, 0, 0, false, { 0 }, &G, REGION, FD_SMALL } }, 1, -EMSGSIZE },
	{ "attach claiming UINT64_MAX bytes", false,
	  { { ATTACH, 1, 0, 0, false, { 0 }, &G, UINT64_MAX, FD_GOOD } }, 1, -EFBIG },
	{ "attach with overflowing geometry", false,
	  { { ATTACH, 1, 0, 0, false, { 0 }, &G_OVERFLOW, REGION, FD_GOOD } }, 1, -EOVERFLOW },
	{ "attach with zero width", false,
	  { { ATTACH, 1, 0, 0, false, { 0 }, &G_ZERO, REGION, FD_GOOD } }, 1, -EINVAL },
	{ "attach wider than the limit", false,
	  { { ATTACH, 1, 0, 0, false, { 0 }, &G_HUGE, REGION, FD_GOOD } }, 1, -E2BIG },
	/* A lying consumer; the producer (which sent seq 1 in slot 0, seq 2 in slot 1) refuses. */
	{ "release of a slot never sent", true, { REL(1, 2, 3) }, 1, -ENOENT },
	{ "release with the wrong sequence", true, { REL(1, 0, 2) }, 1, -ESTALE },
	{ "release out of range", true, { REL(1, 7, 1) }, 1, -ERANGE },
	{ "release twice", true, { REL(1, 0, 1), REL(1, 0, 1) }, 2, -ENOENT },
	{ "release for another surface", true, { REL(4, 0, 1) }, 1, -ENXIO },
};

static int make_attach_fd(const struct step *st, bh_shm_region **keep)
{
	int fd, p[2];

	switch (st->fd) {
	case FD_GOOD:
		CHILD_CHECK_EQ(bh_shm_region_create(REGION, 0, keep), 0);
		return dup(bh_shm_region_fd(*keep));
	case FD_SMALL:
		CHILD_CHECK_EQ(bh_shm_region_create(REGION - 4096, 0, keep), 0);
		return dup(bh_shm_region_fd(*keep));
	case FD_UNSEALED:
		fd = memfd_create("unsealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		CHILD_CHECK(fd >= 0);
		CHILD_CHECK_EQ(ftruncate(fd, REGION), 0);
		return fd;
	case FD_PIPE:
		CHILD_CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
		close(p[1]);
		return p[0];
	case FD_NONE:
		break;
	}
	return -1;
}

static void send_step(bh_channel *ch, const struct step *st)
{
	bh_shm_region *keep = NULL;

	switch (st->kind) {
	case ATTACH: {
		Bh__SurfaceAttach m = BH__SURFACE_ATTACH__INIT;
		int fd = make_attach_fd(st, &keep);

		m.surface_id = st->id;
		m.width = st->g->width;
		m.height = st->g->height;
		m.stride = st->g->stride;
		m.format = st->g->format;
		m.slots = st->g->slots;
		m.region_size = st->region_size;
		CHILD_CHECK_EQ(bh_channel_send(ch, BH_MSG_SURFACE_ATTACH, &m.base, &fd,
					       fd >= 0 ? 1 : 0), 0);
		if (fd >= 0)
			close(fd);
		bh_shm_region_destroy(keep);
		break;
	}
	case READY: {
		Bh__FrameReady m = BH__FRAME_READY__INIT;
		Bh__Rect r = BH__RECT__INIT;

		m.surface_id = st->id;
		m.slot = st->slot;
		m.seq = st->seq;
		r.x = st->damage.x;
		r.y = st->damage.y;
		r.width = st->damage.width;
		r.height = st->damage.height;
		m.damage = st->no_damage ? NULL : &r;
		CHILD_CHECK_EQ(bh_channel_send(ch, BH_MSG_FRAME_READY, &m.base, NULL, 0), 0);
		break;
	}
	case RELEASE: {
		Bh__FrameRelease m = BH__FRAME_RELEASE__INIT;

		m.surface_id = st->id;
		m.slot = st->slot;
		m.seq = st->seq;
		CHILD_CHECK_EQ(bh_channel_send(ch, BH_MSG_FRAME_RELEASE, &m.base, NULL, 0), 0);
		break;
	}
	}
}

static void ignore_message(struct peer *p, bh_msg *msg)
{
	(void)p;
	(void)msg;
}

struct hostile_arg {
	int ends[2];
	const struct violation *v;
};

/* Sends its script, then waits for the victim to hang up on it. */
static void hostile_main(void *arg)
{
	struct hostile_arg *a = arg;
	struct peer p;

	close(a->ends[1]);
	CHILD_CHECK_EQ(peer_init(&p, a->ends[0], ignore_message, NULL), 0);
	for (unsigned i = 0; i < a->v->nsteps; i++)
		send_step(p.ch, &a->v->steps[i]);
	CHILD_CHECK_EQ(peer_run(&p, 10000), 1);
	peer_fini(&p);
}

struct victim {
	bh_surface *s;
	int err; /* the helper's refusal */
};

static void victim_refuse(struct peer *p, int r)
{
	struct victim *v = p->ctx;

	v->err = r;
	bh_channel_bad_message(p->ch, bh_shm_strerror(r));
}

/* Handles exactly as an application would, with one surface. */
static void victim_on_message(struct peer *p, bh_msg *msg)
{
	struct victim *v = p->ctx;
	bh_frame f;
	int r;

	if (bh_msg_type(msg) == BH_MSG_SURFACE_ATTACH) {
		r = bh_surface_handle_attach(msg, &v->s);
		if (r < 0)
			victim_refuse(p, r);
		return;
	}
	r = bh_surface_parse_frame(msg, &f);
	if (r < 0) {
		victim_refuse(p, r);
		return;
	}
	if (!v->s) {
		victim_refuse(p, -ENXIO);
		return;
	}
	r = bh_msg_type(msg) == BH_MSG_FRAME_READY ? bh_surface_handle_ready(v->s, &f)
						   : bh_surface_handle_release(v->s, &f);
	if (r < 0)
		victim_refuse(p, r);
}

static void test_violations(void **state)
{
	int fds = bh_test_count_fds();
	struct maps_snapshot maps = maps_snapshot();

	for (size_t i = 0; i < sizeof violations / sizeof violations[0]; i++) {
		const struct violation *vi = &violations[i];
		struct hostile_arg a = { .v = vi };
		struct victim v = { 0 };
		struct peer p;
		pid_t pid;
		int sv[2], r;

		assert_int_equal(bh_channel_socketpair(sv), 0);
		a.ends[0] = sv[1];
		a.ends[1] = sv[0];
		pid = bh_test_fork(hostile_main, &a);
		close(sv[1]);
		assert_int_equal(peer_init(&p, sv[0], victim_on_message, &v), 0);
		if (vi->against_producer) {
			unsigned s0, s1;

			assert_int_equal(bh_surface_create(1, &G, &v.s), 0);
			assert_int_equal(bh_surface_send_attach(p.ch, v.s, -1), 0);
			assert_int_equal(bh_surface_acquire(v.s, &s0, NULL), 0);
			assert_int_equal(bh_surface_send_ready(p.ch, v.s, s0, NULL, NULL), 0);
			assert_int_equal(bh_surface_acquire(v.s, &s1, NULL), 0);
			assert_int_equal(bh_surface_send_ready(p.ch, v.s, s1, NULL, NULL), 0);
			assert_int_equal(s0, 0);
			assert_int_equal(s1, 1);
		}
		r = peer_run(&p, 10000);
		if (r != 2 || p.bad_reason != BH_BAD_APP || v.err != vi->want)
			fail_msg("%s: loop %d, bad reason %d (%s), refusal %d (%s), want %d (%s)",
				 vi->name, r, p.bad_reason, p.bad_detail, v.err,
				 bh_shm_strerror(v.err), vi->want, bh_shm_strerror(vi->want));
		assert_string_equal(p.bad_detail, bh_shm_strerror(vi->want));
		bh_surface_destroy(v.s);
		peer_fini(&p);
		bh_test_wait_ok(pid, 10000);
		if (bh_test_count_fds() != fds || !maps_unchanged(maps))
			fail_msg("%s: fd or mapping left behind", vi->name);
	}
	assert_false(bh_test_have_children());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_geometry),
		cmocka_unit_test(test_slot_protocol),
		cmocka_unit_test(test_create_from_region),
		cmocka_unit_test(test_consumer_cannot_write),
		cmocka_unit_test(test_frames_between_processes),
		cmocka_unit_test(test_violations),
	};

	bh_test_deadline(240);
	return bh_test_run_as_root_and_user("surface", tests, sizeof tests / sizeof tests[0]);
}
