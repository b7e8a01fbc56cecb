/*
 * Writes the hand-made seeds of fuzz_broker: short sessions of a fake gpu
 * or renderer talking to the demo broker that reach each of its handlers,
 * in the good and the bad way, built with the real encoders so that they
 * stay valid when the protocol changes. fuzz/make-seeds.sh runs it.
 *
 *   bh_fuzz_seedgen_broker DIR
 *
 * The harness's fixture (fuzz/fuzz_broker.c) fixes what the seeds rely on:
 * the window is 64x48, the gpu has worker id 1 and the renderers of tabs 1
 * and 2 ids 2 and 3. The gpu says Hello first, then the renderers present
 * in tab order, so with the gpu as the sender tab 1's gpu channel has
 * generation 1 and tab 2's generation 2; a renderer sender alone (the other
 * tab has a renderer only when it is to be dead) gets navigation id 1 and
 * generation 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bulkhead/shm.h>

#include "broker/browser_proto.h"
#include "bulkhead.pb-c.h"
#include "fuzz/fuzz.h"

enum { S_GPU = 0, S_TAB1 = 1, S_TAB2 = 2 };
enum { HANDSHAKE = 1u << 2, OTHER_DEAD = 1u << 5, GPU_RESTARTED = 1u << 6 };
#define PINGS(n) ((unsigned)(n) << 3) /* 0: none, 1: one, 2: two, 3: five */
#define W 64u
#define H 48u
/* A memfd sized as the SurfaceAttach claims; seals SHRINK, GROW and SEAL. */
#define GOOD_MEMFD 0x00u
#define GOOD_SEALS 0x07u

static const uint8_t token[BH_TOKEN_SIZE] = "bh-fuzz-token-16";
static const char *outdir;
static int failed;

/* One record: aux byte, fd kinds, and a frame of `type` holding `m`. */
static void add(bh_fuzz_seed *s, uint8_t aux, const uint8_t *kinds, unsigned nkinds, uint32_t type,
		uint16_t flags, uint32_t req, const ProtobufCMessage *m)
{
	bh_fuzz_seed_add(s, aux, 0, kinds, nkinds, type, flags, req, m);
}

static void msg(bh_fuzz_seed *s, uint32_t type, const ProtobufCMessage *m)
{
	add(s, 0, NULL, 0, type, 0, 0, m);
}

static void save(const bh_fuzz_seed *s, const char *name)
{
	if (bh_fuzz_seed_save(s, outdir, name) < 0)
		failed = 1;
}

/* ---- the messages ------------------------------------------------------------------ */

static void hello(bh_fuzz_seed *s, const char *type, uint32_t id)
{
	Bh__Hello h = BH__HELLO__INIT;

	h.protocol_version = BH_PROTOCOL_VERSION;
	h.worker_type = (char *)type;
	h.pid = 1;
	h.token.data = (uint8_t *)token;
	h.token.len = BH_TOKEN_SIZE;
	h.worker_id = id;
	add(s, 0, NULL, 0, BH_MSG_HELLO, BH_FLAG_REQUEST, 1, &h.base);
}

static void attach(bh_fuzz_seed *s, uint32_t id, uint32_t w, uint32_t h, uint32_t slots, uint8_t kind,
		   uint8_t seals)
{
	Bh__SurfaceAttach a = BH__SURFACE_ATTACH__INIT;

	a.surface_id = id;
	a.width = w;
	a.height = h;
	a.stride = w * 4;
	a.format = BH_PIXEL_ARGB8888;
	a.slots = slots;
	a.region_size = (uint64_t)a.stride * h * slots;
	add(s, seals, &kind, 1, BH_MSG_SURFACE_ATTACH, 0, 0, &a.base);
}

static void frame(bh_fuzz_seed *s, uint32_t id, uint32_t slot, uint64_t seq, uint32_t dw, uint32_t dh)
{
	Bh__FrameReady f = BH__FRAME_READY__INIT;
	Bh__Rect d = BH__RECT__INIT;

	f.surface_id = id;
	f.slot = slot;
	f.seq = seq;
	d.width = dw;
	d.height = dh;
	f.damage = &d;
	msg(s, BH_MSG_FRAME_READY, &f.base);
}

static void detach(bh_fuzz_seed *s, uint32_t id)
{
	Bh__SurfaceDetach d = BH__SURFACE_DETACH__INIT;

	d.surface_id = id;
	msg(s, BH_MSG_SURFACE_DETACH, &d.base);
}

static void composited(bh_fuzz_seed *s, uint64_t serial, uint32_t kind1, uint32_t kind2)
{
	Browser__Composited c = BROWSER__COMPOSITED__INIT;
	Browser__TabShown t[2], *tp[2] = { &t[0], &t[1] };

	for (int i = 0; i < 2; i++) {
		browser__tab_shown__init(&t[i]);
		t[i].tab_id = (uint32_t)i + 1;
		t[i].generation = (uint32_t)i + 1;
		t[i].frame_seq = 1;
	}
	t[0].kind = kind1;
	t[1].kind = kind2;
	c.seq = 1;
	c.tabs = tp;
	c.n_tabs = 2;
	c.bytes = W * H * 4;
	c.compose_ns = 100000;
	c.damage_w = W;
	c.damage_h = H;
	c.scene_serial = serial;
	msg(s, MSG_COMPOSITED, &c.base);
}

static void bad_renderer(bh_fuzz_seed *s, uint32_t tab, uint32_t gen, const char *detail)
{
	Browser__BadRenderer br = BROWSER__BAD_RENDERER__INIT;

	br.tab_id = tab;
	br.generation = gen;
	br.detail = (char *)detail;
	msg(s, MSG_BAD_RENDERER, &br.base);
}

static void bench(bh_fuzz_seed *s, uint32_t frames, uint64_t compose_ns)
{
	Browser__BenchResult r = BROWSER__BENCH_RESULT__INIT;

	r.frames = frames;
	r.compose_ns = compose_ns;
	r.bytes = (uint64_t)frames * W * H * 4;
	r.memcpy_ns = compose_ns / 3;
	r.tabs = 2;
	msg(s, MSG_BENCH_RESULT, &r.base);
}

static void pong(bh_fuzz_seed *s, uint64_t seq, uint64_t gaps, uint64_t refused)
{
	Browser__Pong p = BROWSER__PONG__INIT;

	p.seq = seq;
	p.gaps = gaps;
	p.refused = refused;
	msg(s, MSG_PONG, &p.base);
}

static void page_state(bh_fuzz_seed *s, uint32_t nav, bool ok, const char *title, const char *error,
		       uint32_t gen)
{
	Browser__PageState ps = BROWSER__PAGE_STATE__INIT;

	ps.nav_id = nav;
	ps.ok = ok;
	ps.title = (char *)title;
	ps.error = (char *)error;
	ps.links = 3;
	ps.images = 1;
	ps.render_us = 1500;
	ps.generation = gen;
	ps.frame_seq = 1;
	msg(s, MSG_PAGE_STATE, &ps.base);
}

static void note(bh_fuzz_seed *s, const char *text)
{
	Browser__DebugNote dn = BROWSER__DEBUG_NOTE__INIT;

	dn.text = (char *)text;
	msg(s, MSG_DEBUG_NOTE, &dn.base);
}

static void heartbeat(bh_fuzz_seed *s)
{
	Bh__Heartbeat hb = BH__HEARTBEAT__INIT;

	hb.seq = 1;
	msg(s, BH_MSG_HEARTBEAT, &hb.base);
}

/* ---- the sessions ------------------------------------------------------------------- */

static void gpu_seeds(void)
{
	bh_fuzz_seed s;

	/* The gpu's life: its output, frames in both slots, a composite report, a benchmark. */
	bh_fuzz_seed_begin(&s, S_GPU);
	attach(&s, 0x100, W, H, 2, GOOD_MEMFD, GOOD_SEALS);
	frame(&s, 0x100, 0, 1, W, H);
	composited(&s, 2, 1, 1);
	frame(&s, 0x100, 1, 2, 8, 8);
	frame(&s, 0x100, 0, 3, W, H);
	bench(&s, 100, 2000000);
	heartbeat(&s);
	detach(&s, 0x100);
	save(&s, "gpu-output-frames-detach");

	/* The same after its own Hello, as a restarted gpu, with Pings answered. */
	bh_fuzz_seed_begin(&s, S_GPU | HANDSHAKE | GPU_RESTARTED | PINGS(2));
	hello(&s, "gpu", 1);
	attach(&s, 0x100, W, H, 2, GOOD_MEMFD, GOOD_SEALS);
	pong(&s, 1, 0, 0);
	frame(&s, 0x100, 0, 1, W, H);
	pong(&s, 2, 0, 0);
	composited(&s, 3, 1, 1);
	save(&s, "gpu-hello-pongs");

	/* A stale report is dropped; the current one kills tab 1's renderer. */
	bh_fuzz_seed_begin(&s, S_GPU);
	bad_renderer(&s, 2, 7, "stale generation");
	bad_renderer(&s, 1, 1, "bad frame: slot out of range \033[2J");
	bad_renderer(&s, 1, 1, "again, after it is gone");
	save(&s, "gpu-bad-renderer");

	/* A sad tab shown by the gpu. */
	bh_fuzz_seed_begin(&s, S_GPU | OTHER_DEAD);
	composited(&s, 4, 2, 1);
	bad_renderer(&s, 1, 1, "dead already");
	save(&s, "gpu-sad-tab-shown");

	/* Refused: frames before the output, a wrong size, bad seals, a lying Pong, a foreign id. */
	bh_fuzz_seed_begin(&s, S_GPU);
	frame(&s, 0x100, 0, 1, W, H);
	save(&s, "gpu-frame-before-attach");
	bh_fuzz_seed_begin(&s, S_GPU);
	attach(&s, 0x100, W * 2, H, 2, GOOD_MEMFD, GOOD_SEALS);
	save(&s, "gpu-attach-wrong-size");
	bh_fuzz_seed_begin(&s, S_GPU);
	attach(&s, 0x100, W, H, 2, GOOD_MEMFD, 0x03);
	save(&s, "gpu-attach-unsealed");
	bh_fuzz_seed_begin(&s, S_GPU | PINGS(1));
	pong(&s, 1, 0, 0);
	pong(&s, 2, 0, 0);
	save(&s, "gpu-pong-never-asked");
	bh_fuzz_seed_begin(&s, S_GPU);
	attach(&s, 0x100, W, H, 2, GOOD_MEMFD, GOOD_SEALS);
	frame(&s, 0x101, 0, 1, W, H);
	save(&s, "gpu-frame-other-surface");
	bh_fuzz_seed_begin(&s, S_GPU);
	attach(&s, 0x100, W, H, 1, GOOD_MEMFD, GOOD_SEALS);
	frame(&s, 0x100, 0, 1, W, H);
	frame(&s, 0x100, 0, 2, W, H);
	save(&s, "gpu-frame-held-slot");
	bh_fuzz_seed_begin(&s, S_GPU);
	detach(&s, 0x100);
	save(&s, "gpu-detach-nothing");
	bh_fuzz_seed_begin(&s, S_GPU);
	page_state(&s, 1, true, "gpu", "", 0);
	save(&s, "gpu-sends-page-state");
}

static void renderer_seeds(void)
{
	bh_fuzz_seed s;

	/* A page loads; its title and a note; a Ping answered. */
	bh_fuzz_seed_begin(&s, S_TAB1 | PINGS(1));
	page_state(&s, 1, true, "Index of pages", "", 1);
	note(&s, "threads: 12");
	pong(&s, 1, 0, 0);
	save(&s, "renderer-page-loaded");

	/* Tab 2 after its own Hello: an error page, then a state of a navigation never made. */
	bh_fuzz_seed_begin(&s, S_TAB2 | HANDSHAKE | PINGS(3));
	hello(&s, "renderer", 3);
	page_state(&s, 1, false, "", "cannot open nothere.html: No such file or directory", 1);
	page_state(&s, 0, true, "older", "", 1);
	pong(&s, 1, 0, 0);
	pong(&s, 3, 0, 1);
	pong(&s, 5, 2, 1);
	save(&s, "renderer-hello-error-page");

	/* Hostile text: escape sequences, C1 controls, malformed UTF-8, a long title. */
	bh_fuzz_seed_begin(&s, S_TAB1 | OTHER_DEAD);
	page_state(&s, 1, true, "\033]0;owned\007\033[2J title \xc2\x9b" "31m \x9b" "6n \xc0\x80 \xed\xa0\x80 \xe2\x80\xae",
		   "\033[31mred\r\nsecond line", 1);
	note(&s, "\033]8;;http://x\033\\click\033]8;;\033\\ \x7f \xf4\x90\x80\x80 \xe2\x82");
	{
		char longt[300];

		memset(longt, 'x', sizeof longt - 3);
		memcpy(longt + sizeof longt - 3, "\xc3\xa9", 3); /* é cut by the title's limit */
		page_state(&s, 1, true, longt, "", 1);
	}
	save(&s, "renderer-hostile-text");

	/* Tab 2 beside a dead tab 1: its navigation id is 2. */
	bh_fuzz_seed_begin(&s, S_TAB2 | OTHER_DEAD);
	page_state(&s, 2, true, "Text", "", 2);
	save(&s, "renderer-beside-sad-tab");

	/* Refused: a type only the gpu sends, a Pong never asked, a second Hello. */
	bh_fuzz_seed_begin(&s, S_TAB2);
	composited(&s, 1, 1, 1);
	save(&s, "renderer-sends-composited");
	bh_fuzz_seed_begin(&s, S_TAB1);
	pong(&s, 1, 0, 0);
	save(&s, "renderer-pong-never-asked");
	bh_fuzz_seed_begin(&s, S_TAB1);
	hello(&s, "renderer", 2);
	save(&s, "renderer-second-hello");
	bh_fuzz_seed_begin(&s, S_TAB2 | HANDSHAKE);
	hello(&s, "renderer", 2);
	save(&s, "renderer-hello-wrong-id");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	outdir = argv[1];
	gpu_seeds();
	renderer_seeds();
	return failed;
}
