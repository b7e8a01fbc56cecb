/*
 * Writes the hand-made seeds of the sequence harnesses (fuzz_supervisor,
 * fuzz_surface, fuzz_gpu): short sessions that reach each handler, in the good and
 * the bad way, built with the real encoders so that they stay valid when
 * the protocol changes. fuzz/make-seeds.sh runs it.
 *
 *   bh_fuzz_seedgen HARNESS DIR
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bulkhead/shm.h>

#include "bulkhead.pb-c.h"
#include "fuzz/fuzz.h"
#include "fuzz_test.pb-c.h"

static const char *outdir;
static int failed;

/* A record of raw bytes as the datagram (for frames no encoder would make). */
static void add_raw(bh_fuzz_seed *s, const void *bytes, size_t n)
{
	uint8_t *rec = s->buf + s->len;

	rec[0] = (uint8_t)(n + 1);
	rec[1] = (uint8_t)((n + 1) >> 8);
	rec[2] = 0;
	rec[3] = 0;
	memcpy(rec + 4, bytes, n);
	s->len += 4 + n;
}

static void save(const bh_fuzz_seed *s, const char *name)
{
	if (bh_fuzz_seed_save(s, outdir, name) < 0)
		failed = 1;
}

/* ---- fuzz_supervisor -------------------------------------------------------- */

static const uint8_t token[BH_TOKEN_SIZE] = "bh-fuzz-token-16";
enum { OPT_GPU = 1, OPT_HANDSHAKE = 2 };

static void hello(bh_fuzz_seed *s, const char *type, const uint8_t *tok, uint32_t id)
{
	Bh__Hello h = BH__HELLO__INIT;

	h.protocol_version = BH_PROTOCOL_VERSION;
	h.worker_type = (char *)type;
	h.pid = 1;
	h.token.data = (uint8_t *)tok;
	h.token.len = BH_TOKEN_SIZE;
	h.worker_id = id;
	bh_fuzz_seed_add(s, 0, 0, NULL, 0, BH_MSG_HELLO, BH_FLAG_REQUEST, 1, &h.base);
}

static void heartbeat(bh_fuzz_seed *s, uint64_t seq)
{
	Bh__Heartbeat hb = BH__HEARTBEAT__INIT;

	hb.seq = seq;
	bh_fuzz_seed_add(s, 0, 0, NULL, 0, BH_MSG_HEARTBEAT, 0, 0, &hb.base);
}

static void file_open(bh_fuzz_seed *s, const char *path, size_t len, uint32_t req)
{
	Bh__FileOpen fo = BH__FILE_OPEN__INIT;

	fo.path.data = (uint8_t *)path;
	fo.path.len = len;
	bh_fuzz_seed_add(s, 0, 0, NULL, 0, BH_MSG_FILE_OPEN, req ? BH_FLAG_REQUEST : 0, req, &fo.base);
}

static void shm_alloc(bh_fuzz_seed *s, uint64_t size, uint32_t req)
{
	Bh__ShmAlloc sa = BH__SHM_ALLOC__INIT;

	sa.size = size;
	bh_fuzz_seed_add(s, 0, 0, NULL, 0, BH_MSG_SHM_ALLOC, req ? BH_FLAG_REQUEST : 0, req, &sa.base);
}

static void sandbox_status_ex(bh_fuzz_seed *s, const char *layer, int state, const char *detail);

static void sandbox_status(bh_fuzz_seed *s, const char *layer)
{
	sandbox_status_ex(s, layer, BH__SANDBOX_LAYER__STATE__APPLIED, "filter loaded");
}

static void sandbox_status_ex(bh_fuzz_seed *s, const char *layer, int state, const char *detail)
{
	Bh__SandboxStatus st = BH__SANDBOX_STATUS__INIT;
	Bh__SandboxLayer l1 = BH__SANDBOX_LAYER__INIT, l2 = BH__SANDBOX_LAYER__INIT;
	Bh__SandboxLayer *layers[2] = { &l1, &l2 };

	st.profile = (char *)"renderer";
	l1.name = (char *)layer;
	l1.state = (Bh__SandboxLayer__State)state;
	l1.detail = (char *)detail;
	l1.need = BH__SANDBOX_LAYER__NEED__REQUIRED;
	l2.name = (char *)"no_new_privs";
	l2.state = BH__SANDBOX_LAYER__STATE__APPLIED;
	l2.need = BH__SANDBOX_LAYER__NEED__REQUIRED;
	l2.detail = (char *)"";
	st.layers = layers;
	st.n_layers = 2;
	st.seccomp_mode = 2;
	st.seccomp_filters = 1;
	st.no_new_privs = 1;
	st.pid = 1;
	st.open_fds = 3;
	bh_fuzz_seed_add(s, 0, 0, NULL, 0, BH_MSG_SANDBOX_STATUS, 0, 0, &st.base);
}

static void all_kinds(bh_fuzz_seed *s, unsigned nfds)
{
	Bhfuzz__AllKinds ak = BHFUZZ__ALL_KINDS__INIT;
	Bhfuzz__Leaf leaf = BHFUZZ__LEAF__INIT;
	static const uint8_t kinds[8] = { 0, 1, 2, 3, 0, 1, 2, 3 };

	ak.id = 1;
	ak.req_leaf = &leaf;
	bh_fuzz_seed_add(s, 0, 0, kinds, nfds, BH_FUZZ_MSG_ALL_KINDS, 0, 0, &ak.base);
}

static void leaf(bh_fuzz_seed *s)
{
	Bhfuzz__Leaf lf = BHFUZZ__LEAF__INIT;
	static const uint8_t kinds[1] = { 1 };

	lf.name = (char *)"leaf";
	bh_fuzz_seed_add(s, 0, 0, kinds, 1, BH_FUZZ_MSG_LEAF, 0, 0, &lf.base);
}

static void supervisor_seeds(void)
{
	static const char odd[] = "odd\x01\x7f\xff\xfe name\n\t.html";
	Bh__CrashReport cr = BH__CRASH_REPORT__INIT;
	Bh__SetupFailed sf = BH__SETUP_FAILED__INIT;
	Bh__SurfaceAttach sa = BH__SURFACE_ATTACH__INIT;
	static const uint8_t memfd_kind[1] = { 0 };
	bh_fuzz_seed s;

	bh_fuzz_seed_begin(&s, 0);
	heartbeat(&s, 1);
	cr.signal = 11;
	cr.fault_addr = 0x10;
	cr.syscall_nr = -1;
	bh_fuzz_seed_add(&s, 0, 0, NULL, 0, BH_MSG_CRASH_REPORT, 0, 0, &cr.base);
	sf.layer = (char *)"seccomp";
	sf.code = 1;
	sf.text = (char *)"cannot load the filter";
	bh_fuzz_seed_add(&s, 0, 0, NULL, 0, BH_MSG_SETUP_FAILED, 0, 0, &sf.base);
	sandbox_status(&s, "seccomp");
	file_open(&s, "page.html", 9, 1);
	file_open(&s, "link-in.html", 12, 2);
	shm_alloc(&s, 4096, 3);
	all_kinds(&s, 0);
	save(&s, "renderer-ready-session");

	bh_fuzz_seed_begin(&s, OPT_HANDSHAKE);
	hello(&s, "renderer", token, 7);
	heartbeat(&s, 1);
	file_open(&s, "sub/deep/b.html", 15, 2);
	file_open(&s, "cat.png", 7, 3);
	file_open(&s, "up.png", 6, 4);
	save(&s, "renderer-handshake-files");

	bh_fuzz_seed_begin(&s, OPT_HANDSHAKE | OPT_GPU);
	hello(&s, "gpu", token, 7);
	leaf(&s);
	shm_alloc(&s, 4096, 2);
	file_open(&s, "page.html", 9, 3);
	save(&s, "gpu-handshake-session");

	bh_fuzz_seed_begin(&s, 0);
	shm_alloc(&s, 32768, 1);
	shm_alloc(&s, 16384, 2);
	shm_alloc(&s, 16385, 3);
	shm_alloc(&s, 1, 4);
	shm_alloc(&s, 1, 5);
	shm_alloc(&s, 0, 6);
	shm_alloc(&s, (uint64_t)1 << 31, 7);
	save(&s, "renderer-shm-quota");

	bh_fuzz_seed_begin(&s, 0);
	file_open(&s, "fifo.html", 9, 1);
	file_open(&s, "loop1.html", 10, 2);
	file_open(&s, "link-out.html", 13, 3);
	file_open(&s, "../outside.txt", 14, 4);
	file_open(&s, "dir.html", 8, 5);
	file_open(&s, "sock.html", 9, 6);
	file_open(&s, "null.html", 9, 7);
	file_open(&s, odd, sizeof odd - 1, 8);
	file_open(&s, "link-dir/deep/b.html", 20, 9);
	file_open(&s, "page.html\0.html", 15, 10);
	file_open(&s, "/etc/passwd", 11, 11);
	file_open(&s, "link-abs.html", 13, 12);
	save(&s, "renderer-file-refusals");

	bh_fuzz_seed_begin(&s, 0);
	leaf(&s);
	save(&s, "bad-type-not-allowed");

	bh_fuzz_seed_begin(&s, 0);
	hello(&s, "renderer", token, 7);
	save(&s, "bad-second-hello");

	bh_fuzz_seed_begin(&s, OPT_HANDSHAKE);
	heartbeat(&s, 1);
	save(&s, "bad-before-hello");

	bh_fuzz_seed_begin(&s, OPT_HANDSHAKE);
	hello(&s, "renderer", (const uint8_t *)"bh-fuzz-token-17", 7);
	save(&s, "bad-hello-token");

	bh_fuzz_seed_begin(&s, OPT_GPU);
	sandbox_status(&s, "no-such-layer");
	save(&s, "bad-sandbox-status");

	bh_fuzz_seed_begin(&s, 0);
	sandbox_status_ex(&s, "seccomp", 7, "state out of range");
	save(&s, "bad-sandbox-status-state");

	bh_fuzz_seed_begin(&s, 0);
	sandbox_status_ex(&s, "seccomp", BH__SANDBOX_LAYER__STATE__FAILED,
			  "a detail longer than the ninety-five bytes a layer report keeps, "
			  "which the broker must refuse rather than cut");
	save(&s, "bad-sandbox-status-long-detail");

	bh_fuzz_seed_begin(&s, 0);
	file_open(&s, "page.html", 9, 0);
	save(&s, "bad-file-open-not-request");

	bh_fuzz_seed_begin(&s, 0);
	all_kinds(&s, 5);
	save(&s, "bad-app-too-many-fds");

	bh_fuzz_seed_begin(&s, 0);
	sa.surface_id = 1;
	sa.width = sa.height = 16;
	sa.stride = 64;
	sa.format = 1;
	sa.slots = 2;
	sa.region_size = 8192;
	bh_fuzz_seed_add(&s, 0, 0, memfd_kind, 1, BH_MSG_SURFACE_ATTACH, 0, 0, &sa.base);
	save(&s, "bad-surface-to-broker");

	bh_fuzz_seed_begin(&s, 0);
	add_raw(&s, "BHD1", 4);
	save(&s, "bad-short-frame");
}

/* ---- fuzz_surface ------------------------------------------------------------ */

/* aux: the memfd's seals (fuzz_surface.c); kind byte: bits 0-1 kind, 2-4 size class, 5-7 access. */
#define SEALS_OK 0x07 /* shrink, grow, seal */
#define SEAL_WRITE_BIT 0x08
#define SEAL_FUTURE_BIT 0x10
enum { SIZE_CLAIMED = 0, SIZE_NEED = 1 << 2, SIZE_LESS = 7 << 2 };

static void attach(bh_fuzz_seed *s, uint8_t seals, uint8_t kind, uint32_t id, uint32_t w, uint32_t h,
		   uint32_t slots, uint64_t region)
{
	Bh__SurfaceAttach a = BH__SURFACE_ATTACH__INIT;

	a.surface_id = id;
	a.width = w;
	a.height = h;
	a.stride = w * 4;
	a.format = 1;
	a.slots = slots;
	a.region_size = region;
	bh_fuzz_seed_add(s, seals, 0, &kind, 1, BH_MSG_SURFACE_ATTACH, 0, 0, &a.base);
}

static void ready(bh_fuzz_seed *s, uint32_t id, uint32_t slot, uint64_t seq, uint32_t x, uint32_t y,
		  uint32_t w, uint32_t h)
{
	Bh__FrameReady f = BH__FRAME_READY__INIT;
	Bh__Rect r = BH__RECT__INIT;

	r.x = x;
	r.y = y;
	r.width = w;
	r.height = h;
	f.surface_id = id;
	f.slot = slot;
	f.seq = seq;
	f.damage = &r;
	bh_fuzz_seed_add(s, 0, 0, NULL, 0, BH_MSG_FRAME_READY, 0, 0, &f.base);
}

static void release(bh_fuzz_seed *s, uint32_t id, uint32_t slot, uint64_t seq)
{
	Bh__FrameRelease f = BH__FRAME_RELEASE__INIT;

	f.surface_id = id;
	f.slot = slot;
	f.seq = seq;
	bh_fuzz_seed_add(s, 0, 0, NULL, 0, BH_MSG_FRAME_RELEASE, 0, 0, &f.base);
}

static void detach(bh_fuzz_seed *s, uint32_t id)
{
	Bh__SurfaceDetach d = BH__SURFACE_DETACH__INIT;

	d.surface_id = id;
	bh_fuzz_seed_add(s, 0, 0, NULL, 0, BH_MSG_SURFACE_DETACH, 0, 0, &d.base);
}

static void surface_seeds(void)
{
	bh_fuzz_seed s;

	/* 16x16, 2 slots: 1 KiB per slot, each rounded to 4 KiB. */
	bh_fuzz_seed_begin(&s, 0);
	attach(&s, SEALS_OK, SIZE_CLAIMED, 1, 16, 16, 2, 8192);
	ready(&s, 1, 0, 1, 0, 0, 16, 16);
	ready(&s, 1, 1, 2, 4, 4, 8, 8);
	ready(&s, 1, 0, 3, 15, 15, 1, 1);
	detach(&s, 1);
	save(&s, "session-attach-frames-detach");

	bh_fuzz_seed_begin(&s, 0);
	attach(&s, SEALS_OK | SEAL_FUTURE_BIT, SIZE_NEED, 1, 64, 32, 3, 3 * 8192);
	attach(&s, SEALS_OK | SEAL_WRITE_BIT, SIZE_NEED, 2, 8, 8, 1, 4096);
	ready(&s, 2, 0, 1, 0, 0, 8, 8);
	ready(&s, 1, 2, 2, 0, 0, 64, 32);
	release(&s, 0x70, 0, 1);
	release(&s, 0x70, 1, 2);
	save(&s, "session-two-surfaces-and-releases");

	bh_fuzz_seed_begin(&s, 0);
	attach(&s, 0x03, SIZE_CLAIMED, 1, 16, 16, 1, 4096);
	ready(&s, 1, 0, 1, 0, 0, 16, 16);
	save(&s, "bad-attach-unsealed");

	bh_fuzz_seed_begin(&s, 0);
	attach(&s, SEALS_OK, SIZE_LESS, 1, 16, 16, 2, 8192);
	save(&s, "bad-attach-memfd-too-small");

	bh_fuzz_seed_begin(&s, 0);
	attach(&s, SEALS_OK, 1, 1, 16, 16, 1, 4096); /* a pipe */
	save(&s, "bad-attach-pipe");

	bh_fuzz_seed_begin(&s, 0);
	attach(&s, SEALS_OK, 3, 1, 16, 16, 1, 4096); /* a file on disk */
	save(&s, "bad-attach-disk-file");

	bh_fuzz_seed_begin(&s, 0);
	attach(&s, SEALS_OK, SIZE_CLAIMED, 1, 16, 16, 2, 8192);
	ready(&s, 1, 0, 5, 0, 0, 16, 16);
	ready(&s, 1, 1, 5, 0, 0, 16, 16);
	save(&s, "bad-frame-seq-repeated");

	bh_fuzz_seed_begin(&s, 0);
	attach(&s, SEALS_OK, SIZE_CLAIMED, 1, 16, 16, 2, 8192);
	ready(&s, 1, 0, 1, 8, 8, 9, 1);
	save(&s, "bad-frame-damage-outside");

	bh_fuzz_seed_begin(&s, 0);
	attach(&s, SEALS_OK, SIZE_CLAIMED, 1, 16, 16, 2, 8192);
	attach(&s, SEALS_OK, SIZE_CLAIMED, 1, 16, 16, 2, 8192);
	save(&s, "bad-attach-id-twice");

	bh_fuzz_seed_begin(&s, 0);
	release(&s, 0x70, 0, 2);
	save(&s, "bad-release-stale-seq");

	bh_fuzz_seed_begin(&s, 0);
	detach(&s, 9);
	save(&s, "bad-detach-unknown");
}

/* ---- fuzz_gpu ------------------------------------------------------------------ */

/* fuzz_gpu.c: options bits 1-2 pick tab 1, 2, 3 (sad) or 9; bit 0 overview; aux bits 5-7 reconnect. */
enum { GPU_TAB1 = 0, GPU_TAB2 = 1 << 1, GPU_TAB3 = 2 << 1, GPU_TAB9 = 3 << 1, GPU_OVERVIEW = 1 };
#define GPU_RECONNECT 0xe0
#define GPU_W 96u /* the content area of fuzz_gpu's window */
#define GPU_H 56u

/* A SurfaceAttach of a w x h surface with a memfd of exactly the size its layout needs. */
static void gpu_attach(bh_fuzz_seed *s, uint8_t aux, uint8_t kind, uint32_t id, uint32_t w, uint32_t h,
		       uint32_t stride, uint32_t slots)
{
	Bh__SurfaceAttach a = BH__SURFACE_ATTACH__INIT;
	bh_surface_geometry g = { w, h, stride, BH_PIXEL_ARGB8888, slots };
	uint64_t need = 4096;

	if (bh_surface_geometry_check(&g, NULL, &need) < 0)
		need = 4096;
	a.surface_id = id;
	a.width = w;
	a.height = h;
	a.stride = stride;
	a.format = BH_PIXEL_ARGB8888;
	a.slots = slots;
	a.region_size = need;
	bh_fuzz_seed_add(s, aux, 0, &kind, 1, BH_MSG_SURFACE_ATTACH, 0, 0, &a.base);
}

static void gpu_seeds(void)
{
	Bh__FrameReady nodamage = BH__FRAME_READY__INIT;
	Bh__Heartbeat hb = BH__HEARTBEAT__INIT;
	bh_fuzz_seed s;

	bh_fuzz_seed_begin(&s, GPU_TAB1);
	gpu_attach(&s, SEALS_OK, SIZE_NEED, 1, GPU_W, GPU_H, GPU_W * 4, 2);
	ready(&s, 1, 0, 1, 0, 0, GPU_W, GPU_H);
	ready(&s, 1, 1, 2, 8, 8, 16, 16);
	ready(&s, 1, 0, 3, GPU_W - 1, GPU_H - 1, 1, 1);
	detach(&s, 1);
	gpu_attach(&s, SEALS_OK, SIZE_NEED, 2, GPU_W, GPU_H, GPU_W * 4, 1);
	ready(&s, 2, 0, 1, 0, 0, GPU_W, GPU_H);
	save(&s, "session-attach-frames-detach");

	bh_fuzz_seed_begin(&s, GPU_TAB2 | GPU_OVERVIEW);
	gpu_attach(&s, SEALS_OK | SEAL_FUTURE_BIT, SIZE_NEED, 5, GPU_W, GPU_H, GPU_W * 4 + 128, 3);
	ready(&s, 5, 0, 1, 0, 0, GPU_W, GPU_H);
	ready(&s, 5, 1, 2, 0, 0, GPU_W, 1);
	ready(&s, 5, 2, 4, 0, 0, 0, 0);
	ready(&s, 5, 0, 9, 10, 20, 30, 20);
	save(&s, "overview-three-slots-wide-stride");

	bh_fuzz_seed_begin(&s, GPU_TAB1);
	gpu_attach(&s, SEALS_OK, SIZE_NEED, 1, GPU_W, GPU_H, GPU_W * 4, 2);
	ready(&s, 1, 0, 1, 0, 0, GPU_W, GPU_H);
	gpu_attach(&s, SEALS_OK | GPU_RECONNECT, SIZE_NEED, 1, GPU_W, GPU_H, GPU_W * 4, 2);
	ready(&s, 1, 1, 1, 0, 0, GPU_W, GPU_H);
	ready(&s, 1, 0, 2, 0, 0, GPU_W, GPU_H);
	save(&s, "reconnect-while-showing");

	bh_fuzz_seed_begin(&s, GPU_TAB3);
	gpu_attach(&s, SEALS_OK | SEAL_WRITE_BIT, SIZE_NEED, 1, GPU_W, GPU_H, GPU_W * 4, 2);
	ready(&s, 1, 0, 1, 0, 0, GPU_W, GPU_H);
	ready(&s, 1, 1, 2, 0, 0, GPU_W, GPU_H);
	save(&s, "sad-tab-frames");

	bh_fuzz_seed_begin(&s, GPU_TAB9 | 0x08);
	gpu_attach(&s, SEALS_OK, SIZE_CLAIMED, 1, GPU_W, GPU_H, GPU_W * 4, 2);
	ready(&s, 1, 0, 1, 0, 0, GPU_W, GPU_H);
	detach(&s, 1);
	save(&s, "tab-not-in-scene");

	bh_fuzz_seed_begin(&s, GPU_TAB1);
	gpu_attach(&s, SEALS_OK, SIZE_NEED, 1, GPU_W, GPU_H + 24, GPU_W * 4, 2);
	save(&s, "bad-attach-window-size");

	bh_fuzz_seed_begin(&s, GPU_TAB1);
	gpu_attach(&s, 0x03, SIZE_NEED, 1, GPU_W, GPU_H, GPU_W * 4, 2);
	save(&s, "bad-attach-unsealed");

	bh_fuzz_seed_begin(&s, GPU_TAB1);
	gpu_attach(&s, SEALS_OK, SIZE_LESS, 1, GPU_W, GPU_H, GPU_W * 4, 2);
	save(&s, "bad-attach-memfd-too-small");

	bh_fuzz_seed_begin(&s, GPU_TAB2);
	gpu_attach(&s, SEALS_OK, 1, 1, GPU_W, GPU_H, GPU_W * 4, 2); /* a pipe */
	save(&s, "bad-attach-pipe");

	bh_fuzz_seed_begin(&s, GPU_TAB1);
	ready(&s, 1, 0, 1, 0, 0, GPU_W, GPU_H);
	save(&s, "bad-frame-before-attach");

	bh_fuzz_seed_begin(&s, GPU_TAB1);
	gpu_attach(&s, SEALS_OK, SIZE_NEED, 1, GPU_W, GPU_H, GPU_W * 4, 2);
	gpu_attach(&s, SEALS_OK, SIZE_NEED, 2, GPU_W, GPU_H, GPU_W * 4, 2);
	save(&s, "bad-second-attach");

	bh_fuzz_seed_begin(&s, GPU_TAB1);
	gpu_attach(&s, SEALS_OK, SIZE_NEED, 1, GPU_W, GPU_H, GPU_W * 4, 2);
	ready(&s, 1, 0, 1, 0, 0, GPU_W, GPU_H);
	ready(&s, 1, 0, 2, 0, 0, GPU_W, GPU_H);
	save(&s, "bad-frame-into-held-slot");

	bh_fuzz_seed_begin(&s, GPU_TAB1);
	gpu_attach(&s, SEALS_OK, SIZE_NEED, 1, GPU_W, GPU_H, GPU_W * 4, 2);
	ready(&s, 1, 0, 5, 0, 0, GPU_W, GPU_H);
	ready(&s, 1, 1, 5, 0, 0, GPU_W, GPU_H);
	save(&s, "bad-frame-seq-repeated");

	bh_fuzz_seed_begin(&s, GPU_TAB1);
	gpu_attach(&s, SEALS_OK, SIZE_NEED, 1, GPU_W, GPU_H, GPU_W * 4, 2);
	ready(&s, 1, 0, 1, GPU_W - 8, 0, 9, 1);
	save(&s, "bad-frame-damage-outside");

	bh_fuzz_seed_begin(&s, GPU_TAB1);
	gpu_attach(&s, SEALS_OK, SIZE_NEED, 1, GPU_W, GPU_H, GPU_W * 4, 2);
	ready(&s, 7, 0, 1, 0, 0, GPU_W, GPU_H);
	save(&s, "bad-frame-other-surface");

	bh_fuzz_seed_begin(&s, GPU_TAB1);
	gpu_attach(&s, SEALS_OK, SIZE_NEED, 1, GPU_W, GPU_H, GPU_W * 4, 2);
	nodamage.surface_id = 1;
	nodamage.seq = 1;
	bh_fuzz_seed_add(&s, 0, 0, NULL, 0, BH_MSG_FRAME_READY, 0, 0, &nodamage.base);
	save(&s, "bad-frame-without-damage");

	bh_fuzz_seed_begin(&s, GPU_TAB1);
	gpu_attach(&s, SEALS_OK, SIZE_NEED, 1, GPU_W, GPU_H, GPU_W * 4, 2);
	detach(&s, 2);
	save(&s, "bad-detach-other-surface");

	bh_fuzz_seed_begin(&s, GPU_TAB2);
	hb.seq = 1;
	bh_fuzz_seed_add(&s, 0, 0, NULL, 0, BH_MSG_HEARTBEAT, 0, 0, &hb.base);
	save(&s, "bad-type-heartbeat");

	bh_fuzz_seed_begin(&s, GPU_TAB1);
	ready(&s, 1, 0, 1, 0, 0, GPU_W, GPU_H);
	gpu_attach(&s, SEALS_OK | GPU_RECONNECT, SIZE_NEED, 1, GPU_W, GPU_H, GPU_W * 4, 2);
	ready(&s, 1, 0, 1, 0, 0, GPU_W, GPU_H);
	save(&s, "bad-then-new-generation");

	bh_fuzz_seed_begin(&s, GPU_TAB1);
	add_raw(&s, "BHD1", 4);
	save(&s, "bad-short-frame");
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s fuzz_supervisor|fuzz_surface|fuzz_gpu DIR\n", argv[0]);
		return 2;
	}
	outdir = argv[2];
	if (strcmp(argv[1], "fuzz_supervisor") == 0)
		supervisor_seeds();
	else if (strcmp(argv[1], "fuzz_surface") == 0)
		surface_seeds();
	else if (strcmp(argv[1], "fuzz_gpu") == 0)
		gpu_seeds();
	else {
		fprintf(stderr, "seedgen: no seeds for %s\n", argv[1]);
		return 2;
	}
	return failed;
}
