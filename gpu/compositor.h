/*
 * The compositor core of the gpu process: pure computation, no IPC, no
 * files, so that tests and the benchmark drive it directly.
 *
 * It draws the browser window into an output buffer: a tab strip with the
 * tabs' titles along the top, then either the active tab's frame or an
 * overview grid of every tab. Frames are the renderers' surface slots,
 * mapped read-only; the compositor only reads them.
 *
 * Damage: every change (a new frame, a scene change) is a rectangle of the
 * window. The output has several slots (the broker holds one while the gpu
 * draws the next), so the compositor keeps the region each slot misses and
 * redraws only that when the slot comes back: a frame in which nothing
 * changed costs nothing, and a new frame of a background tab costs nothing
 * either. The overview keeps each tab's scaled thumbnail and rendered label
 * and makes them again only where they changed: a renderer's damage is
 * mapped to the part of its thumbnail that samples it.
 */
#ifndef BH_GPU_COMPOSITOR_H
#define BH_GPU_COMPOSITOR_H

#include <stddef.h>
#include <stdint.h>

#include "renderer/page.h"

#define COMP_MAX_TABS 64
#define COMP_MAX_SLOTS 4
#define COMP_TITLE_MAX 128

enum comp_kind {
	COMP_BLANK = 0,   /* no frame yet: an empty content area */
	COMP_CONTENT = 1, /* the renderer's latest frame */
	COMP_SAD = 2,     /* the renderer died: the sad-tab picture */
};

struct comp_rect {
	int x, y, w, h;
};

/* A read-only picture of content size (a renderer slot or a sad tile). */
struct comp_frame {
	const uint32_t *pixels; /* NULL: none */
	size_t stride;          /* bytes */
};

struct comp_tab {
	uint32_t id;
	char title[COMP_TITLE_MAX];
	enum comp_kind kind;
	int loading;
	struct comp_frame frame; /* the renderer's latest frame (COMP_CONTENT) */
	struct comp_frame sad;   /* the sad picture (COMP_SAD) */
};

struct compositor;

/*
 * Creates a compositor for a `width` x `height` window whose top
 * `strip_height` rows are the tab strip, with `slots` output slots.
 * `engine` (may be NULL: no text) draws the titles; it must outlive the
 * compositor. Returns NULL with errno set (EINVAL, ENOMEM).
 */
struct compositor *comp_create(int width, int height, int strip_height, unsigned slots,
			       struct page_engine *engine);
void comp_destroy(struct compositor *c);

/* The content area's size: what every renderer surface must be. */
int comp_content_width(const struct compositor *c);
int comp_content_height(const struct compositor *c);

/*
 * Replaces the scene: tabs in strip order (copied, n <= COMP_MAX_TABS), the
 * active tab's id and the overview flag. Damages what differs from the
 * previous scene. Returns 0 or -EINVAL.
 */
int comp_set_scene(struct compositor *c, const struct comp_tab *tabs, size_t n, uint32_t active,
		   int overview);

/*
 * A tab's frame changed: `frame` is its new latest picture (pixels NULL:
 * none), `damage` the part of the content that differs (NULL: all).
 * Unknown tab ids are ignored (-ENOENT).
 */
int comp_set_frame(struct compositor *c, uint32_t tab_id, const struct comp_frame *frame,
		   const struct comp_rect *damage);

/* Sets a tab's sad picture (pixels NULL: none). Unknown ids: -ENOENT. */
int comp_set_sad(struct compositor *c, uint32_t tab_id, const struct comp_frame *sad);

/* Damages the whole window (e.g. benchmark, new output surface). */
void comp_damage_all(struct compositor *c);

/* True if something changed since the last comp_draw(): a frame is worth drawing. */
int comp_has_damage(const struct compositor *c);

/* What comp_draw() would draw next into `slot`'s region, without drawing. */
int comp_pending(const struct compositor *c, unsigned slot, struct comp_rect *out);

/*
 * Draws into output slot `slot` (dst: height rows of width pixels, `stride`
 * bytes apart) everything that slot misses. *damage receives the part of
 * the window that changed since the previous comp_draw() (for FrameReady),
 * *bytes the bytes written: to the window, and to the compositor's caches
 * when an overview thumbnail or label had to be made again. Returns 0, or
 * -EINVAL.
 */
int comp_draw(struct compositor *c, unsigned slot, uint32_t *dst, size_t stride,
	      struct comp_rect *damage, uint64_t *bytes);

/* What the compositor shows (or would show) for a tab. -ENOENT if unknown. */
int comp_tab_kind(const struct compositor *c, uint32_t tab_id, enum comp_kind *kind);

/* The window rectangle where a tab's content is drawn now (empty if hidden). */
struct comp_rect comp_tab_rect(const struct compositor *c, uint32_t tab_id);

#endif
