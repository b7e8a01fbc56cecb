/*
 * The gpu process: maps every tab's surface read-only and composites the
 * window into an output surface the broker maps read-only.
 *
 * Renderers talk to it over channels the broker made (one socketpair per
 * renderer and gpu incarnation). Everything a renderer sends is checked by
 * the shm/surface API before use; a renderer that lies (a slot it does not
 * own, a sequence that goes back, a region without seals, a surface of the
 * wrong size) loses its channel at once, and the gpu tells the broker, which
 * kills that renderer as a bad-message sender: the receiver carries on, the
 * sender is the one that pays.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bulkhead/shm.h>
#include <bulkhead/supervisor.h>

#include "broker/browser_proto.h"
#include "bulkhead.pb-c.h"
#include "gpu/compositor.h"
#include "gpu/gpu.h"
#include "gpu/gpu_private.h"
#include "renderer/page.h"
#include "renderer/renderer.h"

#define MAX_FONT_BYTES (64u << 20)

struct gtab {
	int used;
	uint32_t id;
	bh_channel *ch;
	uint32_t gen;
	bh_surface *surf;
	int held; /* slot the compositor shows, or -1 */
	uint64_t seq;
	uint32_t *sad;
	char sad_reason[256];  /* the reason drawn in `sad` */
	char want_reason[256]; /* the reason the scene gives */
};

struct gpu {
	bh_worker_ctx *ctx; /* NULL under a fuzz harness (gpu/gpu_private.h) */
	bh_loop *loop;
	bh_channel *broker;
	const bh_registry *reg;

	const uint8_t *font[2];
	size_t font_len[2];
	int fonts_requested, fonts_done;
	struct page_engine *engine;

	uint32_t width, height, strip;
	int configured;
	struct compositor *comp;
	bh_surface *out;
	int out_requested;

	struct gtab tabs[COMP_MAX_TABS];
	struct comp_tab scene[COMP_MAX_TABS];
	size_t nscene;
	uint32_t active;
	int overview;

	bh_timer *pace;
	uint64_t last_ns;
	uint64_t scene_serial;
	bool scene_pending; /* a new Scene must be acknowledged by a frame, changed or not */
	uint64_t ping_seq, ping_gaps, pong_refused; /* the broker's Pings (broker/reliability.c) */
};

static struct gpu G;

static void schedule(struct gpu *g);
static void report_held(struct gpu *g);

static void segfault(void)
{
	volatile uintptr_t a = 8;

	*(volatile int *)a = 1;
}

/* ---- tabs and their renderer channels ---------------------------------------------- */

static struct gtab *tab_find(struct gpu *g, uint32_t id)
{
	for (size_t i = 0; i < COMP_MAX_TABS; i++)
		if (g->tabs[i].used && g->tabs[i].id == id)
			return &g->tabs[i];
	return NULL;
}

static struct gtab *tab_get(struct gpu *g, uint32_t id)
{
	struct gtab *t = tab_find(g, id);

	for (size_t i = 0; !t && i < COMP_MAX_TABS; i++) {
		if (!g->tabs[i].used) {
			t = &g->tabs[i];
			memset(t, 0, sizeof *t);
			t->used = 1;
			t->id = id;
			t->held = -1;
		}
	}
	return t;
}

/* Forgets the renderer's surface and channel (the tab itself stays). */
static void tab_drop_renderer(struct gpu *g, struct gtab *t)
{
	bh_channel_destroy(t->ch);
	t->ch = NULL;
	bh_surface_destroy(t->surf);
	t->surf = NULL;
	t->held = -1;
	t->seq = 0;
	if (g->comp)
		(void)comp_set_frame(g->comp, t->id, NULL, NULL);
	schedule(g);
}

static void tab_free(struct gpu *g, struct gtab *t)
{
	tab_drop_renderer(g, t);
	free(t->sad);
	memset(t, 0, sizeof *t);
}

static void report_bad(struct gpu *g, struct gtab *t, const char *detail)
{
	Browser__BadRenderer br = BROWSER__BAD_RENDERER__INIT;

	br.tab_id = t->id;
	br.generation = t->gen;
	br.detail = (char *)detail;
	(void)bh_channel_send(g->broker, MSG_BAD_RENDERER, &br.base, NULL, 0);
}

static void renderer_attach(struct gpu *g, struct gtab *t, bh_msg *m)
{
	const bh_surface_geometry *geo;
	bh_surface *s;
	int e;

	if (t->surf) {
		bh_channel_bad_message(t->ch, "second SurfaceAttach");
		return;
	}
	e = bh_surface_handle_attach(m, &s);
	if (e < 0) {
		bh_channel_bad_message(t->ch, bh_shm_strerror(e));
		return;
	}
	geo = bh_surface_get_geometry(s);
	/* The compositor reads content-sized pictures: any other size would read past them. */
	if (!g->configured || geo->width != g->width || geo->height != g->height - g->strip ||
	    geo->format != BH_PIXEL_ARGB8888) {
		bh_surface_destroy(s);
		bh_channel_bad_message(t->ch, "surface size differs from the content area");
		return;
	}
	t->surf = s;
}

static void renderer_frame(struct gpu *g, struct gtab *t, bh_msg *m)
{
	struct comp_frame fr;
	struct comp_rect d;
	bh_frame f;
	int e;

	if (!t->surf) {
		bh_channel_bad_message(t->ch, "FrameReady before SurfaceAttach");
		return;
	}
	e = bh_surface_parse_frame(m, &f);
	if (e == 0)
		e = bh_surface_handle_ready(t->surf, &f);
	if (e < 0) {
		bh_channel_bad_message(t->ch, bh_shm_strerror(e));
		return;
	}
	/* The previous frame is no longer shown: give its slot back. */
	if (t->held >= 0)
		(void)bh_surface_send_release(t->ch, t->surf, (unsigned)t->held);
	t->held = (int)f.slot;
	t->seq = f.seq;
	fr.pixels = bh_surface_slot_data(t->surf, f.slot);
	fr.stride = bh_surface_get_geometry(t->surf)->stride;
	d = (struct comp_rect){ (int)f.damage.x, (int)f.damage.y, (int)f.damage.width,
				(int)f.damage.height };
	if (g->comp)
		(void)comp_set_frame(g->comp, t->id, &fr, &d);
	schedule(g);
	report_held(g);
}

static void renderer_message(bh_channel *ch, bh_msg *m, void *ud)
{
	struct gtab *t = ud;
	struct gpu *g = &G;
	uint32_t id;

	switch (bh_msg_type(m)) {
	case BH_MSG_SURFACE_ATTACH:
		renderer_attach(g, t, m);
		return;
	case BH_MSG_FRAME_READY:
		renderer_frame(g, t, m);
		return;
	case BH_MSG_SURFACE_DETACH:
		if (bh_surface_parse_detach(m, &id) < 0 || !t->surf || id != bh_surface_id(t->surf)) {
			bh_channel_bad_message(ch, "bad SurfaceDetach");
			return;
		}
		bh_surface_destroy(t->surf);
		t->surf = NULL;
		t->held = -1;
		if (g->comp)
			(void)comp_set_frame(g->comp, t->id, NULL, NULL);
		schedule(g);
		return;
	default:
		bh_channel_bad_message(ch, "a renderer may only send surfaces and frames");
		return;
	}
}

static void renderer_bad(bh_channel *ch, int reason, const char *detail, void *ud)
{
	struct gtab *t = ud;
	char why[200];

	/* The application's own refusals carry their reason in `detail` alone. */
	if (reason == BH_BAD_APP && detail)
		snprintf(why, sizeof why, "the gpu refused its frame: %s", detail);
	else
		snprintf(why, sizeof why, "the gpu refused its frame: %s%s%s", bh_bad_reason_name(reason),
			 detail ? ": " : "", detail ? detail : "");
	report_bad(&G, t, why);
	tab_drop_renderer(&G, t);
}

static void renderer_closed(bh_channel *ch, int err, void *ud)
{
	tab_drop_renderer(&G, ud);
}

static const bh_channel_ops renderer_ops = {
	.on_message = renderer_message,
	.on_close = renderer_closed,
	.on_bad_message = renderer_bad,
};

static void on_gpu_channel(struct gpu *g, bh_msg *m)
{
	const Browser__GpuChannel *gc = (const Browser__GpuChannel *)bh_msg_body(m);
	int fd = bh_msg_take_fd(m, 0);
	struct gtab *t = tab_get(g, gc->tab_id);

	if (!t) {
		if (fd >= 0)
			close(fd);
		return;
	}
	tab_drop_renderer(g, t);
	t->gen = gc->generation;
	if (fd < 0 || bh_channel_create(g->loop, g->reg, fd, &renderer_ops, t, NULL, &t->ch) < 0)
		t->ch = NULL;
}

/* ---- the scene -------------------------------------------------------------------- */

static void draw_sad(struct gpu *g, struct gtab *t, const char *reason)
{
	struct page_surface s;
	size_t bytes;

	if (t->sad && !strcmp(t->sad_reason, reason))
		return;
	bytes = (size_t)comp_content_width(g->comp) * (size_t)comp_content_height(g->comp) * 4u;
	if (!t->sad)
		t->sad = malloc(bytes);
	if (!t->sad)
		return;
	s.pixels = t->sad;
	s.width = comp_content_width(g->comp);
	s.height = comp_content_height(g->comp);
	s.stride = (size_t)s.width * 4u;
	if (page_render_sad_tab(g->engine, &s, reason) < 0) {
		free(t->sad);
		t->sad = NULL;
		return;
	}
	snprintf(t->sad_reason, sizeof t->sad_reason, "%s", reason);
}

static void apply_scene(struct gpu *g)
{
	if (!g->comp)
		return;
	(void)comp_set_scene(g->comp, g->scene, g->nscene, g->active, g->overview);
	for (size_t i = 0; i < g->nscene; i++) {
		struct gtab *t = tab_get(g, g->scene[i].id);
		struct comp_frame fr = { NULL, 0 };

		if (!t)
			continue;
		/* Sad pictures are drawn once per reason; a tab that recovered gives its memory back. */
		if (g->scene[i].kind == COMP_SAD) {
			draw_sad(g, t, t->want_reason);
		} else if (t->sad) {
			free(t->sad);
			t->sad = NULL;
			t->sad_reason[0] = '\0';
		}
		if (t->sad) {
			fr.pixels = t->sad;
			fr.stride = (size_t)comp_content_width(g->comp) * 4u;
		}
		(void)comp_set_sad(g->comp, t->id, fr.pixels ? &fr : NULL);
		if (t->surf && t->held >= 0) {
			fr.pixels = bh_surface_slot_data(t->surf, (unsigned)t->held);
			fr.stride = bh_surface_get_geometry(t->surf)->stride;
			(void)comp_set_frame(g->comp, t->id, &fr, NULL);
		}
	}
	schedule(g);
}

static void on_scene(struct gpu *g, bh_msg *m)
{
	const Browser__Scene *sc = (const Browser__Scene *)bh_msg_body(m);
	size_t n = sc->n_tabs < COMP_MAX_TABS ? sc->n_tabs : COMP_MAX_TABS;

	memset(g->scene, 0, sizeof g->scene);
	for (size_t i = 0; i < n; i++) {
		const Browser__SceneTab *st = sc->tabs[i];
		struct comp_tab *ct = &g->scene[i];

		ct->id = st->tab_id;
		snprintf(ct->title, sizeof ct->title, "%s", st->title ? st->title : "");
		ct->kind = st->kind == BROWSER__SCENE_TAB__KIND__SAD ? COMP_SAD : COMP_CONTENT;
		ct->loading = st->loading;
	}
	g->nscene = n;
	g->scene_serial = sc->serial;
	g->scene_pending = true;
	g->active = sc->active_tab;
	g->overview = sc->overview;
	/* Tabs that left the scene lose their channel and pictures. */
	for (size_t i = 0; i < COMP_MAX_TABS; i++) {
		int keep = 0;

		if (!g->tabs[i].used)
			continue;
		for (size_t j = 0; j < n; j++)
			keep |= g->scene[j].id == g->tabs[i].id;
		if (!keep && !g->tabs[i].ch)
			tab_free(g, &g->tabs[i]);
	}
	for (size_t i = 0; i < n; i++) {
		struct gtab *t = tab_get(g, g->scene[i].id);

		if (t)
			snprintf(t->want_reason, sizeof t->want_reason, "%s",
				 sc->tabs[i]->reason ? sc->tabs[i]->reason : "");
	}
	apply_scene(g);
}

/* ---- output ------------------------------------------------------------------------ */

/* What the compositor holds for every tab of the scene, for Composited. */
static void fill_shown(struct gpu *g, Browser__Composited *cm, Browser__TabShown *shown,
		       Browser__TabShown **shownp)
{
	for (size_t i = 0; i < g->nscene; i++) {
		struct gtab *t = tab_find(g, g->scene[i].id);
		enum comp_kind k = COMP_BLANK;

		browser__tab_shown__init(&shown[i]);
		(void)comp_tab_kind(g->comp, g->scene[i].id, &k);
		shown[i].tab_id = g->scene[i].id;
		shown[i].kind = (uint32_t)k;
		if (t && t->held >= 0) {
			shown[i].generation = t->gen;
			shown[i].frame_seq = t->seq;
		}
		shownp[i] = &shown[i];
	}
	cm->tabs = shownp;
	cm->n_tabs = g->nscene;
}

/*
 * A frame of a tab that is not on screen damages nothing, so no output
 * frame follows and no Composited would tell the broker that the gpu holds
 * it: `wait loaded` would wait for a frame that never comes. Say so without
 * a frame (seq 0) when nothing else is about to be composited.
 */
static void report_held(struct gpu *g)
{
	Browser__Composited cm = BROWSER__COMPOSITED__INIT;
	Browser__TabShown shown[COMP_MAX_TABS], *shownp[COMP_MAX_TABS];

	if (!g->comp || !g->out || g->scene_pending || comp_has_damage(g->comp))
		return;
	fill_shown(g, &cm, shown, shownp);
	cm.scene_serial = g->scene_serial;
	(void)bh_channel_send(g->broker, MSG_COMPOSITED, &cm.base, NULL, 0);
}

static void compose(struct gpu *g)
{
	Browser__Composited cm = BROWSER__COMPOSITED__INIT;
	Browser__TabShown shown[COMP_MAX_TABS], *shownp[COMP_MAX_TABS];
	struct comp_rect d;
	unsigned slot;
	void *px;
	uint64_t bytes, t0, seq;
	int e;

	if (!g->out || !g->comp || (!comp_has_damage(g->comp) && !g->scene_pending))
		return;
	if (bh_surface_acquire(g->out, &slot, &px) < 0)
		return; /* the broker holds every other slot: its FrameRelease brings us back */
	t0 = bh_now_ns();
	e = comp_draw(g->comp, slot, px, bh_surface_get_geometry(g->out)->stride, &d, &bytes);
	if (e < 0) {
		(void)bh_surface_cancel(g->out, slot);
		return;
	}
	cm.compose_ns = bh_now_ns() - t0;
	cm.bytes = bytes;
	cm.damage_x = (uint32_t)d.x;
	cm.damage_y = (uint32_t)d.y;
	cm.damage_w = (uint32_t)d.w;
	cm.damage_h = (uint32_t)d.h;
	fill_shown(g, &cm, shown, shownp);
	/* Composited first: the broker reads it when the frame itself arrives. */
	cm.seq = 0;
	if (bh_surface_send_ready(g->broker, g->out, slot, NULL, &seq) < 0) {
		(void)bh_surface_cancel(g->out, slot);
		comp_damage_all(g->comp);
		return;
	}
	cm.seq = seq;
	cm.scene_serial = g->scene_serial;
	g->scene_pending = false;
	(void)bh_channel_send(g->broker, MSG_COMPOSITED, &cm.base, NULL, 0);
	g->last_ns = bh_now_ns();
}

static void on_pace(bh_timer *t, void *ud)
{
	compose(ud);
}

/* Composites soon, at most once per GPU_FRAME_MS. */
static void schedule(struct gpu *g)
{
	uint64_t next = g->last_ns + (uint64_t)GPU_FRAME_MS * 1000000u, now = bh_now_ns();

	if (!g->pace || bh_timer_armed(g->pace) || !g->comp ||
	    (!comp_has_damage(g->comp) && !g->scene_pending))
		return;
	if (next <= now)
		compose(g);
	else
		(void)bh_timer_arm(g->pace, (next - now) / 1000000u + 1, 0);
}

static void on_release(struct gpu *g, bh_msg *m)
{
	bh_frame f;

	if (!g->out || bh_surface_parse_frame(m, &f) < 0 || bh_surface_handle_release(g->out, &f) < 0) {
		/* The broker is trusted: a bad release is a bug there; stop rather than guess. */
		bh_channel_bad_message(g->broker, "bad FrameRelease from the broker");
		return;
	}
	schedule(g);
}

/* ---- start-up: fonts, engine, compositor, output surface ---------------------------- */

static void setup(struct gpu *g);

static void font_opened(bh_worker_ctx *ctx, int fd, void *ud)
{
	struct gpu *g = &G;
	size_t i = (size_t)(uintptr_t)ud;
	struct stat st;
	void *p;

	g->fonts_done++;
	if (fd >= 0) {
		if (fstat(fd, &st) == 0 && st.st_size > 0 && (uint64_t)st.st_size <= MAX_FONT_BYTES) {
			p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
			if (p != MAP_FAILED) {
				g->font[i] = p;
				g->font_len[i] = (size_t)st.st_size;
			}
		}
		close(fd);
	}
	setup(g);
}

static void out_allocated(bh_channel *ch, int status, bh_msg *reply, void *ud)
{
	struct gpu *g = ud;
	bh_surface_geometry geo;
	bh_shm_region *region;
	int e = status;

	if (e == 0)
		e = bh_shm_region_from_reply(reply, 0, &region, NULL);
	if (e == 0) {
		e = bh_surface_geometry_init(&geo, g->width, g->height, BH_PIXEL_ARGB8888, GPU_OUTPUT_SLOTS);
		if (e == 0)
			e = bh_surface_create_from_region(1, &geo, region, &g->out);
		else
			bh_shm_region_destroy(region);
	}
	/* Without an output there is nothing to do: exit and let the broker restart us. */
	if (e < 0 || bh_surface_send_attach(g->broker, g->out, -1) < 0)
		_exit(4);
	comp_damage_all(g->comp);
	schedule(g);
}

static void setup(struct gpu *g)
{
	static const char *const names[2] = { RENDERER_FONT_REGULAR, RENDERER_FONT_BOLD };
	struct page_fonts f;
	struct page_error err;
	bh_surface_geometry geo;
	uint64_t size;

	if (!g->configured)
		return;
	if (!g->fonts_requested) {
		g->fonts_requested = 1;
		for (size_t i = 0; i < 2; i++)
			if (bh_worker_ctx_open(g->ctx, names[i], 5000, font_opened, (void *)(uintptr_t)i) < 0)
				g->fonts_done++;
	}
	if (g->fonts_done < 2 || g->comp)
		return;
	f = (struct page_fonts){ g->font[0], g->font_len[0], g->font[1], g->font_len[1] };
	/* Without fonts the window is still drawn, only without text. */
	g->engine = g->font[0] ? page_engine_create(&f, &err) : NULL;
	g->comp = comp_create((int)g->width, (int)g->height, (int)g->strip, GPU_OUTPUT_SLOTS, g->engine);
	if (!g->comp)
		_exit(4);
	if (bh_surface_geometry_init(&geo, g->width, g->height, BH_PIXEL_ARGB8888, GPU_OUTPUT_SLOTS) < 0 ||
	    bh_surface_geometry_check(&geo, NULL, &size) < 0 ||
	    bh_shm_request(g->broker, size, 5000, out_allocated, g) < 0)
		_exit(4);
	g->out_requested = 1;
	apply_scene(g);
}

static void on_config(struct gpu *g, bh_msg *m)
{
	const Browser__GpuConfig *c = (const Browser__GpuConfig *)bh_msg_body(m);

	if (g->configured)
		return;
	if (c->width < 64 || c->width > 8192 || c->height > 8192 || c->strip_height < 16 ||
	    c->height <= c->strip_height + 16) {
		bh_channel_bad_message(g->broker, "bad GpuConfig");
		return;
	}
	g->width = c->width;
	g->height = c->height;
	g->strip = c->strip_height;
	g->configured = 1;
	setup(g);
}

/* ---- benchmark ------------------------------------------------------------------------ */

/*
 * Composites `frames` full frames into one output slot (not presented) and
 * copies the same number of bytes with memcpy between the same two
 * mappings, so the ratio compares like with like.
 */
static void on_bench(struct gpu *g, bh_msg *m)
{
	const Browser__BenchRequest *rq = (const Browser__BenchRequest *)bh_msg_body(m);
	Browser__BenchResult res = BROWSER__BENCH_RESULT__INIT;
	unsigned frames = rq->frames > 2000 ? 2000 : rq->frames, slot;
	size_t stride, row;
	const uint8_t *src = NULL;
	void *px;
	uint64_t t0, bytes = 0, b, copied = 0;

	if (!g->comp || !g->out || bh_surface_acquire(g->out, &slot, &px) < 0)
		goto out;
	stride = bh_surface_get_geometry(g->out)->stride;
	t0 = bh_now_ns();
	for (unsigned i = 0; i < frames; i++) {
		comp_damage_all(g->comp);
		(void)comp_draw(g->comp, slot, px, stride, NULL, &b);
		bytes += b;
	}
	res.compose_ns = bh_now_ns() - t0;
	res.bytes = bytes;
	res.frames = frames;
	res.tabs = (uint32_t)g->nscene;
	for (size_t i = 0; i < COMP_MAX_TABS && !src; i++)
		if (g->tabs[i].used && g->tabs[i].surf && g->tabs[i].held >= 0)
			src = bh_surface_slot_data(g->tabs[i].surf, (unsigned)g->tabs[i].held);
	if (src) {
		row = (size_t)comp_content_width(g->comp) * 4u;
		t0 = bh_now_ns();
		/* Row by row, as the compositor copies, over the same mappings. */
		while (copied < bytes) {
			for (int y = 0; y < comp_content_height(g->comp) && copied < bytes; y++) {
				memcpy((uint8_t *)px + (size_t)(y + (int)g->strip) * stride, src + (size_t)y * row, row);
				copied += row;
			}
		}
		res.memcpy_ns = bh_now_ns() - t0;
	}
	(void)bh_surface_cancel(g->out, slot);
	comp_damage_all(g->comp);
	schedule(g);
out:
	(void)bh_channel_send(g->broker, MSG_BENCH_RESULT, &res.base, NULL, 0);
}

/* ---- messages from the broker ---------------------------------------------------------- */

static void broker_message(bh_worker_ctx *ctx, bh_msg *m, void *ud)
{
	struct gpu *g = ud;

	switch (bh_msg_type(m)) {
	case MSG_GPU_CONFIG:
		on_config(g, m);
		return;
	case MSG_SCENE:
		on_scene(g, m);
		return;
	case MSG_GPU_CHANNEL:
		on_gpu_channel(g, m);
		return;
	case BH_MSG_FRAME_RELEASE:
		on_release(g, m);
		return;
	case MSG_DEBUG_CRASH:
		segfault();
		return;
	case MSG_BENCH_REQUEST:
		on_bench(g, m);
		return;
	case MSG_PING: {
		const Browser__Ping *p = (const Browser__Ping *)bh_msg_body(m);
		Browser__Pong pg = BROWSER__PONG__INIT;

		if (p->seq != g->ping_seq + 1)
			g->ping_gaps++;
		g->ping_seq = p->seq;
		pg.seq = p->seq;
		pg.gaps = g->ping_gaps;
		pg.refused = g->pong_refused;
		if (bh_channel_send(g->broker, MSG_PONG, &pg.base, NULL, 0) < 0)
			g->pong_refused++;
		return;
	}
	default:
		bh_channel_bad_message(g->broker, "unexpected message for the gpu");
		return;
	}
}

int gpu_main(bh_worker_ctx *ctx, void *arg)
{
	struct gpu *g = &G;

	memset(g, 0, sizeof *g);
	g->ctx = ctx;
	g->loop = bh_worker_ctx_loop(ctx);
	g->broker = bh_worker_ctx_channel(ctx);
	g->reg = bh_worker_ctx_registry(ctx);
	if (bh_timer_create(g->loop, on_pace, g, &g->pace) < 0)
		return 4;
	bh_worker_ctx_set_handler(ctx, broker_message, g);
	return bh_worker_ctx_run(ctx);
}

/* ---- the fuzz fixture (gpu/gpu_private.h) ---------------------------------------------- */

static int fixture_broker_lost;

static void fixture_broker_message(bh_channel *ch, bh_msg *m, void *ud)
{
	/* A crash on purpose would end the harness: everything else takes the process's own path. */
	if (bh_msg_type(m) == MSG_DEBUG_CRASH) {
		bh_channel_bad_message(ch, "DebugCrash under a fuzz harness");
		return;
	}
	broker_message(NULL, m, ud);
}

static void fixture_broker_bad(bh_channel *ch, int reason, const char *detail, void *ud)
{
	fixture_broker_lost = 1;
}

static void fixture_broker_closed(bh_channel *ch, int err, void *ud)
{
	fixture_broker_lost = 1;
}

static const bh_channel_ops fixture_broker_ops = {
	.on_message = fixture_broker_message,
	.on_close = fixture_broker_closed,
	.on_bad_message = fixture_broker_bad,
};

int bh__gpu_fuzz_setup(bh_loop *loop, const bh_registry *reg, int broker_fd,
		       const struct page_fonts *fonts)
{
	struct gpu *g = &G;

	memset(g, 0, sizeof *g);
	fixture_broker_lost = 0;
	g->loop = loop;
	g->reg = reg;
	/* setup() asks the broker for the fonts through the worker context; here they are given. */
	g->fonts_requested = 1;
	g->fonts_done = 2;
	if (fonts) {
		g->font[0] = fonts->regular;
		g->font_len[0] = fonts->regular_len;
		g->font[1] = fonts->bold;
		g->font_len[1] = fonts->bold_len;
	}
	/* No pace timer: schedule() then leaves compositing to bh__gpu_fuzz_compose(). */
	return bh_channel_create(loop, reg, broker_fd, &fixture_broker_ops, g, NULL, &g->broker);
}

void bh__gpu_fuzz_compose(void)
{
	compose(&G);
}

int bh__gpu_fuzz_tab(uint32_t tab_id, struct bh__gpu_fuzz_tab *out)
{
	const struct gtab *t = tab_find(&G, tab_id);

	if (!t)
		return -ENOENT;
	*out = (struct bh__gpu_fuzz_tab){
		.has_channel = t->ch != NULL,
		.has_surface = t->surf != NULL,
		.surface_id = t->surf ? bh_surface_id(t->surf) : 0,
		.held = t->held,
		.seq = t->seq,
		.generation = t->gen,
	};
	return 0;
}

int bh__gpu_fuzz_reset(void)
{
	struct gpu *g = &G;
	int left = 0;

	for (size_t i = 0; i < COMP_MAX_TABS; i++) {
		struct gtab *t = &g->tabs[i];

		if (!t->used || (!t->ch && !t->surf))
			continue;
		left++;
		tab_drop_renderer(g, t);
	}
	if (g->comp)
		comp_damage_all(g->comp);
	return left;
}

int bh__gpu_fuzz_broker_lost(void)
{
	return fixture_broker_lost;
}

void bh__gpu_fuzz_teardown(void)
{
	struct gpu *g = &G;

	for (size_t i = 0; i < COMP_MAX_TABS; i++)
		if (g->tabs[i].used)
			tab_free(g, &g->tabs[i]);
	comp_destroy(g->comp);
	g->comp = NULL;
	page_engine_destroy(g->engine);
	bh_surface_destroy(g->out);
	bh_channel_destroy(g->broker);
	memset(g, 0, sizeof *g);
}
