/*
 * fuzz_gpu: the gpu process's own handling of what a renderer sends it
 * (gpu/gpu_main.c: renderer_message, renderer_attach, renderer_frame,
 * renderer_bad, renderer_closed) on the gpu's real state, with its real
 * compositor reading the renderer's pixels.
 *
 * One gpu fixture (gpu/gpu_private.h) lives for the whole run. The harness
 * plays the broker on the other end of the gpu's broker channel, through
 * the gpu's own dispatch: GpuConfig (a 96x80 window under a 24-row tab
 * strip, so renderer surfaces are 96x56), the ShmAlloc of the output
 * surface answered by the real quota, and per input a Scene (tabs 1 and 2
 * with content, tab 3 sad) and a GpuChannel handing the gpu one end of a
 * new SOCK_SEQPACKET socketpair as tab N's renderer channel. The input's
 * frames are written into the other end. After each frame the gpu
 * composites once (the compositor reads the held slot of every tab it
 * shows), and the harness takes the output frame as the broker does
 * (bh_surface_handle_ready, then FrameRelease of the one before).
 *
 * Input: a sequence (fuzz.h).
 *   options   bit 0      overview (every tab drawn in a grid)
 *             bits 1-2   the renderer's tab: 1, 2, 3 (sad), 9 (not in the scene)
 *             bit 3      tab 2 is active instead of the renderer's tab
 *   record    an envelope; fds are real, made per record as fuzz_surface
 *             does: kind byte bits 0-1 memfd, pipe, socket, /dev/null;
 *             bits 2-4 the memfd's size (the region_size a SurfaceAttach
 *             claims, what its geometry needs, claimed + 1, claimed + 4096,
 *             0, 4096, 1 MiB, needed - 1; at most 4 MiB); bits 5-7 how it
 *             is passed (as created, reopened O_RDONLY, O_PATH, O_WRONLY,
 *             made without MFD_ALLOW_SEALING)
 *   aux byte  bits 0-4   the memfd's seals: SHRINK, GROW, SEAL, WRITE, FUTURE_WRITE
 *             bits 5-7   all set: before this record the broker sends a new GpuChannel
 *                        (the next generation) for the same tab, the old
 *                        renderer end still open
 * After each record the harness tries to shrink the memfds it sent to zero,
 * as an evil renderer would: a surface accepted without its seals would
 * then raise SIGBUS in the compositor.
 *
 * Checked per record: an independent model of the channel's and the gpu's
 * rules (header, fds, type, payload; one surface per renderer, of the
 * content area's size and format, with the seals; frames of that surface
 * with growing sequence numbers, damage inside, not into the held slot;
 * SurfaceDetach of that surface; in a coalesced datagram, each frame in
 * order, one-way and without fds) says whether the datagram is bad; a bad one
 * must close the renderer's channel and send the broker exactly one
 * BadRenderer naming the tab and the generation, a good one neither; what
 * the gpu then holds for the tab (channel, surface, held slot and its
 * sequence) is what the model holds; every frame the renderer gets back is
 * a FrameRelease of the frame held before, in order; every Composited
 * reports the held frame's generation and sequence; output frames are
 * well formed. Per input: the renderer's hang-up is noticed without a
 * BadRenderer, nothing is left held, and no fd leaks.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bulkhead/shm.h>

#include "broker/browser_proto.h"
#include "bulkhead.pb-c.h"
#include "common/internal.h"
#include "fuzz/fuzz.h"
#include "gpu/gpu_private.h"

/*
 * The harness's own code is left out of coverage: its model makes the same
 * decisions as the gpu, so its edges tell libFuzzer nothing new, and every
 * feature costs the engine bookkeeping on each run.
 */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((no_sanitize("coverage"))), apply_to = function)
#endif

#define FONT_DIR "/usr/share/fonts/truetype/dejavu"
#define WIN_W 96u
#define WIN_H 80u
#define STRIP 24u
#define CONTENT_H (WIN_H - STRIP)
#define SEALS_REQUIRED (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif
#define MAX_BAD (BH_FUZZ_SEQ_MAX + 1) /* one per generation at most */
/* A coalesced datagram can carry a FrameReady per 40-odd bytes. */
#define MAX_RELEASES 2048

enum { OPT_OVERVIEW = 1u << 0, OPT_TAB_SHIFT = 1, OPT_ACTIVE_2 = 1u << 3 };
/* All three bits: a fresh channel costs more than a record, and most records should keep theirs. */
enum { AUX_RECONNECT = 7u << 5 };

static const uint32_t tab_ids[4] = { 1, 2, 3, 9 };

/* What the harness made for one fd of the current record. */
struct release {
	uint32_t surface_id, slot;
	uint64_t seq;
};

/* The gpu's view of the renderer, as the rules say it must be. */
struct model {
	uint32_t tab, gen;
	int open, surf;
	uint32_t sid;
	bh_surface_geometry g;
	uint64_t last_seq, held_seq;
	int held;
	struct release expect[MAX_RELEASES]; /* releases due to the renderer, in order */
	unsigned nexpect, nseen;
};

/* What the broker side saw during one input. */
struct broker_view {
	struct {
		uint32_t tab, gen;
	} bad[MAX_BAD];
	unsigned nbad;
	unsigned composited;
};

static bh_loop *loop;
static bh_registry *reg;
static bh_quota *quota;
static bh_channel *bch; /* the broker's end of the gpu's broker channel */
static bh_fuzz_fdset fdset;
static uint8_t *font_regular, *font_bold;
static bh_surface *out;  /* the gpu's output surface, as the broker maps it */
static int out_held = -1;
static uint64_t scene_serial;
static struct model md;
static struct broker_view bv;
static unsigned long inputs, frames, bad_frames, attaches, gpu_frames, out_frames, reconnects;

/* ---- the broker's end --------------------------------------------------------- */

/* Reads what a broker would of an output frame: the first and last pixel of each damaged row. */
static void read_output(const bh_frame *f)
{
	const uint8_t *px = bh_surface_slot_data(out, f->slot);
	size_t stride = bh_surface_get_geometry(out)->stride;
	uint32_t sum = 0, a, b;

	BH_FUZZ_CHECK(px != NULL, "output slot %u not readable", f->slot);
	if (!f->damage.width)
		return;
	for (uint32_t y = f->damage.y; y < f->damage.y + f->damage.height; y++) {
		memcpy(&a, px + y * stride + (size_t)f->damage.x * 4, 4);
		memcpy(&b, px + y * stride + ((size_t)f->damage.x + f->damage.width - 1) * 4, 4);
		sum += a ^ b;
	}
	(void)sum;
}

static void on_output_frame(bh_msg *m)
{
	bh_frame f;
	int r;

	BH_FUZZ_CHECK(out != NULL, "FrameReady before the output SurfaceAttach");
	r = bh_surface_parse_frame(m, &f);
	if (r == 0)
		r = bh_surface_handle_ready(out, &f);
	BH_FUZZ_CHECK(r == 0, "the gpu sent a bad output frame: %s", bh_shm_strerror(r));
	read_output(&f);
	if (out_held >= 0)
		BH_FUZZ_CHECK(bh_surface_send_release(bch, out, (unsigned)out_held) == 0,
			      "cannot give the output slot back");
	out_held = (int)f.slot;
	out_frames++;
}

static void on_composited(const Browser__Composited *c)
{
	bv.composited++;
	BH_FUZZ_CHECK(c->scene_serial <= scene_serial, "Composited for scene %llu of %llu",
		      (unsigned long long)c->scene_serial, (unsigned long long)scene_serial);
	for (size_t i = 0; i < c->n_tabs; i++) {
		const Browser__TabShown *s = c->tabs[i];

		if (s->tab_id != md.tab)
			continue;
		BH_FUZZ_CHECK(s->kind <= 2, "tab shown as kind %u", s->kind);
		if (md.open && md.surf && md.held >= 0)
			BH_FUZZ_CHECK(s->generation == md.gen && s->frame_seq == md.held_seq,
				      "Composited says generation %u frame %llu, the gpu holds %u/%llu",
				      s->generation, (unsigned long long)s->frame_seq, md.gen,
				      (unsigned long long)md.held_seq);
		else
			BH_FUZZ_CHECK(s->generation == 0 && s->frame_seq == 0,
				      "Composited says generation %u frame %llu, no frame is held",
				      s->generation, (unsigned long long)s->frame_seq);
	}
}

static void broker_message(bh_channel *ch, bh_msg *m, void *ud)
{
	switch (bh_msg_type(m)) {
	case BH_MSG_SHM_ALLOC:
		BH_FUZZ_CHECK(bh_quota_handle_alloc(quota, ch, m, 1, "gpu") == 0,
			      "cannot allocate the output surface");
		return;
	case BH_MSG_SURFACE_ATTACH: {
		const bh_surface_geometry *g;

		BH_FUZZ_CHECK(out == NULL, "a second output surface");
		BH_FUZZ_CHECK(bh_surface_handle_attach(m, &out) == 0, "bad output SurfaceAttach");
		g = bh_surface_get_geometry(out);
		BH_FUZZ_CHECK(g->width == WIN_W && g->height == WIN_H, "output of %ux%u", g->width,
			      g->height);
		return;
	}
	case BH_MSG_FRAME_READY:
		on_output_frame(m);
		return;
	case MSG_COMPOSITED:
		on_composited((const Browser__Composited *)bh_msg_body(m));
		return;
	case MSG_BAD_RENDERER: {
		const Browser__BadRenderer *b = (const Browser__BadRenderer *)bh_msg_body(m);

		BH_FUZZ_CHECK(bv.nbad < MAX_BAD, "too many BadRenderer");
		BH_FUZZ_CHECK(b->detail && b->detail[0], "BadRenderer without a detail");
		bv.bad[bv.nbad].tab = b->tab_id;
		bv.bad[bv.nbad].gen = b->generation;
		bv.nbad++;
		return;
	}
	default:
		bh_fuzz_fail("the gpu sent the broker type %#x", bh_msg_type(m));
	}
}

static void broker_bad(bh_channel *ch, int reason, const char *detail, void *ud)
{
	bh_fuzz_fail("the gpu sent the broker a bad frame: %s %s", bh_bad_reason_name(reason),
		     detail ? detail : "");
}

static void broker_closed(bh_channel *ch, int err, void *ud)
{
	bh_fuzz_fail("the gpu closed its broker channel (%d)", err);
}

static const bh_channel_ops broker_ops = {
	.on_message = broker_message,
	.on_bad_message = broker_bad,
	.on_close = broker_closed,
};

static void run_loop(void)
{
	/*
	 * Dispatch (a long coalesced datagram takes a round per receive
	 * budget), then the rounds that flush what the handlers queued and
	 * deliver it.
	 */
	for (int i = 0; i < 256; i++) {
		int r = bh_loop_run_once(loop, 0);

		BH_FUZZ_CHECK(r >= 0, "loop failed: %s", strerror(-r));
		if (r == 0 && i >= 1)
			break;
	}
	BH_FUZZ_CHECK(!bh__gpu_fuzz_broker_lost(), "the gpu lost its broker channel");
}

/*
 * The scene an input asks for, sent when it differs from the one the gpu
 * has: re-sending the same Scene would redraw the strip for nothing.
 */
static void send_scene(uint8_t options, uint32_t tab)
{
	static uint32_t shown_active;
	static protobuf_c_boolean shown_overview;
	Browser__Scene sc = BROWSER__SCENE__INIT;
	Browser__SceneTab t[3], *tp[3];
	static const char *const titles[3] = { "Sample page", "Second tab", "Crashed" };

	for (unsigned i = 0; i < 3; i++) {
		browser__scene_tab__init(&t[i]);
		t[i].tab_id = tab_ids[i];
		t[i].title = (char *)titles[i];
		t[i].kind = i == 2 ? BROWSER__SCENE_TAB__KIND__SAD : BROWSER__SCENE_TAB__KIND__CONTENT;
		t[i].reason = i == 2 ? (char *)"killed by signal 11" : (char *)"";
		t[i].loading = i == 1;
		tp[i] = &t[i];
	}
	sc.tabs = tp;
	sc.n_tabs = 3;
	sc.active_tab = options & OPT_ACTIVE_2 ? 2 : tab;
	sc.overview = (options & OPT_OVERVIEW) != 0;
	if (scene_serial && sc.active_tab == shown_active && sc.overview == shown_overview)
		return;
	shown_active = sc.active_tab;
	shown_overview = sc.overview;
	sc.serial = ++scene_serial;
	BH_FUZZ_CHECK(bh_channel_send(bch, MSG_SCENE, &sc.base, NULL, 0) == 0, "cannot send Scene");
}

/* Hands the gpu a new renderer channel for md.tab; returns the renderer's end. */
static int connect_renderer(void)
{
	Browser__GpuChannel gc = BROWSER__GPU_CHANNEL__INIT;
	int sv[2], r;

	if (bh_channel_socketpair(sv) < 0)
		bh_fuzz_fail("socketpair failed");
	md.gen++;
	gc.tab_id = md.tab;
	gc.generation = md.gen;
	r = bh_channel_send(bch, MSG_GPU_CHANNEL, &gc.base, &sv[0], 1);
	close(sv[0]);
	BH_FUZZ_CHECK(r == 0, "cannot send GpuChannel: %s", strerror(-r));
	md.open = 1;
	md.surf = 0;
	md.held = -1;
	md.nexpect = md.nseen = 0;
	return sv[1];
}

/* ---- the model ------------------------------------------------------------------ */

static int attach_ok(const Bh__SurfaceAttach *a, const bh_fuzz_made_fd *f)
{
	bh_surface_geometry g = { a->width, a->height, a->stride, a->format, a->slots };
	uint64_t need;

	if (bh_surface_geometry_check(&g, NULL, &need) < 0 || a->region_size > BH_SHM_MAX_SIZE ||
	    a->region_size < need)
		return 0;
	if (!f->memfd || f->access == BH_FUZZ_ACC_PATH || f->access == BH_FUZZ_ACC_WRONLY ||
	    f->access == BH_FUZZ_ACC_NOSEAL || (f->seals & SEALS_REQUIRED) != SEALS_REQUIRED ||
	    f->size < a->region_size)
		return 0;
	/* The gpu's own rule: the content area's size, in the one format it composites. */
	return a->width == WIN_W && a->height == CONTENT_H && a->format == BH_PIXEL_ARGB8888;
}

static int frame_ok(const Bh__FrameReady *f)
{
	const Bh__Rect *d = f->damage;

	return md.surf && d && f->surface_id == md.sid && f->slot < md.g.slots &&
	       f->seq > md.last_seq && (uint64_t)d->x + d->width <= md.g.width &&
	       (uint64_t)d->y + d->height <= md.g.height && md.held != (int)f->slot;
}

/* Whether the gpu must refuse the frame; an accepted one updates the model. */
static int must_refuse_frame(const uint8_t *buf, size_t len, unsigned nfds,
			     const bh_fuzz_made_fd *made, bool coalesced)
{
	const bh_msg_type_info *info;
	ProtobufCMessage *body;
	bh_header h;
	int bad = 0;

	if (bh_header_decode(buf, len, &h) < 0)
		return 1;
	/* Only one-way frames without fds share a datagram. */
	if (coalesced && (nfds || (h.flags & (BH_FLAG_REQUEST | BH_FLAG_REPLY))))
		return 1;
	if (nfds != h.nfds || !(info = bh_registry_lookup(reg, h.type)) || nfds > info->max_fds ||
	    nfds < info->min_fds || (h.flags & BH_FLAG_REPLY) || h.type == BH_MSG_ERROR)
		return 1;
	body = protobuf_c_message_unpack(info->desc, NULL, h.payload_len, buf + BH_HEADER_SIZE);
	if (!body)
		return 1;
	switch (h.type) {
	case BH_MSG_SURFACE_ATTACH: {
		const Bh__SurfaceAttach *a = (const Bh__SurfaceAttach *)body;

		if (md.surf || !attach_ok(a, &made[0])) {
			bad = 1;
			break;
		}
		md.surf = 1;
		md.sid = a->surface_id;
		md.g = (bh_surface_geometry){ a->width, a->height, a->stride, a->format, a->slots };
		md.last_seq = 0;
		md.held = -1;
		attaches++;
		break;
	}
	case BH_MSG_FRAME_READY: {
		const Bh__FrameReady *f = (const Bh__FrameReady *)body;

		if (!frame_ok(f)) {
			bad = 1;
			break;
		}
		/* The frame shown before goes back to the renderer. */
		if (md.held >= 0 && md.nexpect < MAX_RELEASES)
			md.expect[md.nexpect++] = (struct release){ md.sid, (uint32_t)md.held, md.held_seq };
		md.held = (int)f->slot;
		md.held_seq = f->seq;
		md.last_seq = f->seq;
		gpu_frames++;
		break;
	}
	case BH_MSG_SURFACE_DETACH:
		if (!md.surf || ((const Bh__SurfaceDetach *)body)->surface_id != md.sid) {
			bad = 1;
			break;
		}
		md.surf = 0;
		md.held = -1;
		break;
	default:
		bad = 1;
	}
	protobuf_c_message_free_unpacked(body, NULL);
	return bad;
}

static int refuse_frame(void *made, const uint8_t *buf, size_t len, unsigned nfds, bool coalesced)
{
	return must_refuse_frame(buf, len, nfds, made, coalesced);
}

/* The same for a datagram: its frames in order (BH_FLAG_MORE). */
static int must_refuse(const uint8_t *dgram, size_t len, unsigned nfds, int flood,
		       const bh_fuzz_made_fd *made)
{
	if (flood || len > BH_MAX_MESSAGE)
		return 1;
	return bh_fuzz_each_frame(dgram, len, nfds, refuse_frame, (void *)made);
}

/* ---- what the renderer gets back ------------------------------------------------- */

/* Every frame queued for the renderer must be the next release the model expects. */
static void read_releases(int sock)
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
		const struct release *want;
		Bh__FrameRelease *fr;
		uint8_t *f;
		bh_header h;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			BH_FUZZ_CHECK(c->cmsg_type != SCM_RIGHTS, "the gpu sent the renderer an fd");
		for (size_t off = 0, flen; (f = bh_fuzz_next_frame(buf, (size_t)r, &off, &flen));) {
			BH_FUZZ_CHECK(bh_header_decode(f, flen, &h) == 0 && h.nfds == 0 &&
					      !(h.flags & (BH_FLAG_REQUEST | BH_FLAG_REPLY)),
				      "the gpu sent the renderer a malformed frame");
			BH_FUZZ_CHECK(h.type == BH_MSG_FRAME_RELEASE, "the gpu sent the renderer type %#x",
				      h.type);
			fr = bh__frame_release__unpack(NULL, h.payload_len, f + BH_HEADER_SIZE);
			BH_FUZZ_CHECK(fr != NULL, "FrameRelease does not decode");
			BH_FUZZ_CHECK(md.nseen < md.nexpect, "FrameRelease of slot %u seq %llu was never due",
				      fr->slot, (unsigned long long)fr->seq);
			want = &md.expect[md.nseen++];
			BH_FUZZ_CHECK(fr->surface_id == want->surface_id && fr->slot == want->slot &&
					      fr->seq == want->seq,
				      "FrameRelease %u/%u/%llu, due %u/%u/%llu", fr->surface_id, fr->slot,
				      (unsigned long long)fr->seq, want->surface_id, want->slot,
				      (unsigned long long)want->seq);
			bh__frame_release__free_unpacked(fr, NULL);
		}
	}
}

static int hung_up(int sock)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };

	return poll(&p, 1, 0) > 0 && (p.revents & POLLHUP);
}

/* What the gpu holds for the tab must be what the model holds. */
static void check_tab(unsigned rec)
{
	struct bh__gpu_fuzz_tab t;

	BH_FUZZ_CHECK(bh__gpu_fuzz_tab(md.tab, &t) == 0, "the gpu forgot tab %u", md.tab);
	BH_FUZZ_CHECK(t.generation == md.gen, "record %u: generation %u, sent %u", rec, t.generation,
		      md.gen);
	BH_FUZZ_CHECK(t.has_channel == md.open, "record %u: channel %s, expected %s", rec,
		      t.has_channel ? "open" : "closed", md.open ? "open" : "closed");
	BH_FUZZ_CHECK(t.has_surface == (md.open && md.surf), "record %u: surface %s", rec,
		      t.has_surface ? "attached" : "missing");
	if (!t.has_surface)
		return;
	BH_FUZZ_CHECK(t.surface_id == md.sid, "record %u: surface %u, expected %u", rec,
		      t.surface_id, md.sid);
	BH_FUZZ_CHECK(t.held == md.held && (t.held < 0 || t.seq == md.held_seq),
		      "record %u: holds slot %d seq %llu, expected %d seq %llu", rec, t.held,
		      (unsigned long long)t.seq, md.held, (unsigned long long)md.held_seq);
}

/* ---- making the fds (as fuzz_surface) ------------------------------------------------ */

/* ---- the harness -------------------------------------------------------------------- */

/* The fonts the gpu draws tab titles and the sad tab with; without them it draws no text. */
static uint8_t *read_font(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || !(buf = malloc((size_t)st.st_size)) ||
	    bh__read_full(fd, buf, (size_t)st.st_size) < 0)
		bh_fuzz_fail("cannot read %s", path);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

static void print_stats(void)
{
	static int printed;

	if (printed++)
		return;
	fprintf(stderr, "fuzz_gpu: %lu inputs, %lu frames, %lu refused, %lu surfaces attached, "
			"%lu renderer frames taken, %lu output frames, %lu reconnects\n",
		inputs, frames, bad_frames, attaches, gpu_frames, out_frames, reconnects);
}

int bh_fuzz_replay_done(void)
{
	if (getenv("BH_FUZZ_STATS"))
		print_stats();
	return 0;
}

static void teardown(void)
{
	bh__gpu_fuzz_teardown();
	bh_surface_destroy(out);
	out = NULL;
	bh_channel_destroy(bch);
	bch = NULL;
	bh_quota_destroy(quota);
	free(font_regular);
	free(font_bold);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	Browser__GpuConfig cfg = BROWSER__GPU_CONFIG__INIT;
	struct page_fonts fonts = { 0 };
	int sv[2], r;

	if (bh_loop_create(&loop) < 0 || browser_registry_create(&reg) < 0 ||
	    bh_fuzz_fdset_init(&fdset) < 0 || bh_quota_create(NULL, &quota) < 0)
		bh_fuzz_fail("cannot set up the harness");
	font_regular = read_font(FONT_DIR "/DejaVuSans.ttf", &fonts.regular_len);
	font_bold = read_font(FONT_DIR "/DejaVuSans-Bold.ttf", &fonts.bold_len);
	if (font_regular && font_bold) {
		fonts.regular = font_regular;
		fonts.bold = font_bold;
	} else {
		fprintf(stderr, "fuzz_gpu: no DejaVu fonts in " FONT_DIR ": the gpu draws no text\n");
	}
	if (bh_channel_socketpair(sv) < 0)
		bh_fuzz_fail("socketpair failed");
	r = bh__gpu_fuzz_setup(loop, reg, sv[0], fonts.regular ? &fonts : NULL);
	if (r < 0)
		bh_fuzz_fail("bh__gpu_fuzz_setup: %s", strerror(-r));
	if (bh_channel_create(loop, reg, sv[1], &broker_ops, NULL, NULL, &bch) < 0)
		bh_fuzz_fail("cannot make the broker's channel");
	atexit(teardown);
	/* As the broker starts the gpu: the window, then the output surface it asks for. */
	cfg.width = WIN_W;
	cfg.height = WIN_H;
	cfg.strip_height = STRIP;
	if (bh_channel_send(bch, MSG_GPU_CONFIG, &cfg.base, NULL, 0) < 0)
		bh_fuzz_fail("cannot send GpuConfig");
	for (int i = 0; i < 50 && !out; i++)
		if (bh_loop_run_once(loop, 100) < 0)
			bh_fuzz_fail("loop failed");
	BH_FUZZ_CHECK(out != NULL, "the gpu made no output surface");
	if (getenv("BH_FUZZ_STATS"))
		atexit(print_stats);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bh_fuzz_record recs[BH_FUZZ_SEQ_MAX];
	uint8_t options;
	unsigned n, bad_seen = 0;
	int rend, base, r;

	base = bh_fuzz_count_fds();
	inputs++;
	n = bh_fuzz_seq_parse(data, size, &options, recs, BH_FUZZ_SEQ_MAX);
	memset(&md, 0, sizeof md);
	memset(&bv, 0, sizeof bv);
	md.tab = tab_ids[(options >> OPT_TAB_SHIFT) & 3];
	md.held = -1;
	send_scene(options, md.tab);
	rend = connect_renderer();
	run_loop();
	check_tab(0);

	for (unsigned i = 0; i < n; i++) {
		bh_fuzz_made_fd made[BH_FUZZ_MAX_FDS + BH_FUZZ_FLOOD_FDS];
		int fds[BH_FUZZ_MAX_FDS + BH_FUZZ_FLOOD_FDS];
		bh_fuzz_envelope env;
		uint64_t claimed, need;
		unsigned nfds;
		int flood, expect_bad, closed, shown;

		if ((recs[i].aux & AUX_RECONNECT) == AUX_RECONNECT && i > 0) {
			/* The old renderer end stays open until the gpu has dropped its side. */
			int old = rend;

			shown = md.open && md.surf && md.held >= 0;

			rend = connect_renderer();
			run_loop();
			BH_FUZZ_CHECK(bv.nbad == bad_seen, "a new GpuChannel sent BadRenderer");
			read_releases(old);
			BH_FUZZ_CHECK(hung_up(old), "the gpu kept the previous renderer channel");
			bh_fuzz_drain(old);
			close(old);
			md.nexpect = md.nseen = 0;
			check_tab(i);
			reconnects++;
			if (shown) {
				/* The dropped surface is unmapped: the compositor must not read it. */
				bh__gpu_fuzz_compose();
				run_loop();
			}
		}
		if (!md.open)
			continue;
		bh_fuzz_envelope_parse(recs[i].env, recs[i].env_len, &env);
		bh_fuzz_region_claims(env.frame, env.frame_len, &claimed, &need);
		for (unsigned k = 0; k < env.nfds; k++)
			fds[k] = bh_fuzz_make_fd(&fdset, NULL, env.kinds[k], recs[i].aux, claimed, need, &made[k]);
		nfds = env.nfds;
		flood = (env.ctl & BH_FUZZ_CTL_FLOOD) != 0;
		if (flood) {
			for (unsigned k = 0; k < BH_FUZZ_FLOOD_FDS; k++) {
				made[nfds] = (bh_fuzz_made_fd){ .fd = -1 };
				fds[nfds++] = dup(fdset.fd[BH_FUZZ_FD_DEVNULL]);
			}
		}
		shown = md.surf && md.held >= 0;
		r = bh_fuzz_send(rend, env.frame, env.frame_len, fds, nfds);
		for (unsigned k = 0; k < nfds; k++)
			close(fds[k]);
		if (r == 0) {
			frames++;
			expect_bad = must_refuse(env.frame, env.frame_len, env.nfds, flood, made);
			run_loop();
			read_releases(rend);
			closed = hung_up(rend);
			BH_FUZZ_CHECK(closed == expect_bad, "record %u: the renderer's channel was %s, expected %s",
				      i, closed ? "closed" : "kept", expect_bad ? "closed" : "kept");
			if (expect_bad) {
				bad_frames++;
				md.open = 0;
				md.surf = 0;
				md.held = -1;
				BH_FUZZ_CHECK(bv.nbad == bad_seen + 1, "record %u: %u BadRenderer for one bad frame",
					      i, bv.nbad - bad_seen);
				BH_FUZZ_CHECK(bv.bad[bad_seen].tab == md.tab && bv.bad[bad_seen].gen == md.gen,
					      "BadRenderer names tab %u generation %u, not %u/%u",
					      bv.bad[bad_seen].tab, bv.bad[bad_seen].gen, md.tab, md.gen);
				bad_seen++;
			} else {
				BH_FUZZ_CHECK(bv.nbad == bad_seen, "record %u: BadRenderer for a good frame", i);
				BH_FUZZ_CHECK(md.nseen == md.nexpect, "record %u: %u FrameRelease due, %u came",
					      i, md.nexpect, md.nseen);
			}
			check_tab(i);
		} else {
			/* Too large for the socket: the gpu never sees it. */
			BH_FUZZ_CHECK(r == -EMSGSIZE || r == -ENOBUFS || r == -EAGAIN, "send failed: %s",
				      strerror(-r));
		}
		/*
		 * The evil renderer's move: shrink what it sent. Only missing seals
		 * let it, and a surface kept without them would fault in the
		 * compositor from now on.
		 */
		for (unsigned k = 0; k < nfds; k++) {
			if (made[k].fd < 0)
				continue;
			if (ftruncate(made[k].fd, 0) == 0)
				BH_FUZZ_CHECK(!(made[k].seals & F_SEAL_SHRINK) || made[k].size == 0,
					      "a memfd sealed against shrinking shrank");
			close(made[k].fd);
		}
		/*
		 * The compositor reads what the tab holds now, as the pacing timer
		 * would make it, whenever the tab's picture may have changed: a new
		 * frame, or the one shown gone with its surface or its channel.
		 */
		if (r == 0 && (shown || (md.surf && md.held >= 0))) {
			bh__gpu_fuzz_compose();
			run_loop();
		}
	}

	/* The renderer goes away: the gpu notices the hang-up and blames nobody. */
	close(rend);
	run_loop();
	BH_FUZZ_CHECK(bv.nbad == bad_seen, "BadRenderer after the renderer hung up");
	md.open = 0;
	check_tab(n);
	BH_FUZZ_CHECK(bh__gpu_fuzz_reset() == 0, "a renderer's channel or surface outlived it");
	r = bh_fuzz_count_fds();
	if (r != base) {
		bh_fuzz_list_fds();
		bh_fuzz_fail("fd leak: %d open fds, %d before", r, base);
	}
	return 0;
}

/*
 * Each input makes and frees at least one channel with a 64 KiB receive
 * buffer: ASan's default 256 MiB quarantine keeps thousands of them mapped
 * and faults their shadow in again and again. A use after free is still
 * caught for the next dozens of inputs. ASAN_OPTIONS overrides this.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "quarantine_size_mb=32";
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, unsigned seed);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, unsigned seed)
{
	return bh_fuzz_mutate_seq(reg, data, size, max, seed);
}

size_t LLVMFuzzerCustomCrossOver(const uint8_t *a, size_t asize, const uint8_t *b, size_t bsize,
				 uint8_t *out_buf, size_t max, unsigned seed);
size_t LLVMFuzzerCustomCrossOver(const uint8_t *a, size_t asize, const uint8_t *b, size_t bsize,
				 uint8_t *out_buf, size_t max, unsigned seed)
{
	return bh_fuzz_crossover_seq(reg, a, asize, b, bsize, out_buf, max, seed);
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
