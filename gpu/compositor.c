/*
 * Compositing the browser window: tab strip, active tab or overview grid,
 * with per-slot damage so that only what changed is drawn again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/compositor.h"
#include "renderer/page_internal.h"

#define COL_STRIP 0xffdee1e6u
#define COL_TAB 0xffeceef1u
#define COL_TAB_ACTIVE 0xffffffffu
#define COL_ACCENT 0xff1a73e8u
#define COL_TEXT 0xff202124u
#define COL_TEXT_DIM 0xff5f6368u
#define COL_SAD_TEXT 0xffc5221fu
#define COL_BLANK 0xfff8f9fau
#define COL_OVERVIEW 0xff3c4043u
#define COL_LABEL 0xffe8eaedu
#define TITLE_PX 13
#define TAB_MAX_W 240
#define CELL_MARGIN 12
#define LABEL_H 22

struct compositor {
	int w, h, strip, cw, ch;
	unsigned slots;
	struct page_engine *engine;
	struct comp_tab tabs[COMP_MAX_TABS];
	size_t n;
	uint32_t active;
	int overview;
	struct comp_rect miss[COMP_MAX_SLOTS];
	struct comp_rect since_last;
	int *xmap; /* scratch for scaling thumbnails, w entries */
	/*
	 * What the overview draws per tab, cached by tab id. Rescaling is a
	 * gather per pixel, so a thumbnail is rescaled only where its picture
	 * changed (comp_set_frame's damage, mapped to the thumbnail) or in full
	 * when the grid moved or the picture was replaced; otherwise it is copied
	 * row by row. The label under it (title text over the background) is
	 * rendered once per title, colour and size: glyph work is far slower per
	 * pixel than a copy.
	 */
	struct tab_cache {
		uint32_t id;            /* 0: unused */
		enum comp_kind kind;    /* the picture the thumbnail was scaled from */
		int w, h;
		int valid;
		struct comp_rect stale; /* content coordinates: changed since scaled */
		uint32_t *buf;
		size_t cap;             /* pixels */
		char title[COMP_TITLE_MAX];
		uint32_t color;
		int lw, lh;             /* 0 x 0: no label rendered yet */
		uint32_t *label;
		size_t label_cap;       /* pixels */
	} cache[COMP_MAX_TABS];
};

/* ---- rectangles ------------------------------------------------------------ */

static int rect_empty(const struct comp_rect *r)
{
	return r->w <= 0 || r->h <= 0;
}

static struct comp_rect rect_union(struct comp_rect a, struct comp_rect b)
{
	struct comp_rect u;
	int x1, y1;

	if (rect_empty(&a))
		return b;
	if (rect_empty(&b))
		return a;
	u.x = a.x < b.x ? a.x : b.x;
	u.y = a.y < b.y ? a.y : b.y;
	x1 = a.x + a.w > b.x + b.w ? a.x + a.w : b.x + b.w;
	y1 = a.y + a.h > b.y + b.h ? a.y + a.h : b.y + b.h;
	u.w = x1 - u.x;
	u.h = y1 - u.y;
	return u;
}

static struct comp_rect rect_clip(struct comp_rect a, struct comp_rect b)
{
	struct comp_rect r;
	int x1 = a.x + a.w < b.x + b.w ? a.x + a.w : b.x + b.w;
	int y1 = a.y + a.h < b.y + b.h ? a.y + a.h : b.y + b.h;

	r.x = a.x > b.x ? a.x : b.x;
	r.y = a.y > b.y ? a.y : b.y;
	r.w = x1 - r.x;
	r.h = y1 - r.y;
	if (r.w < 0)
		r.w = 0;
	if (r.h < 0)
		r.h = 0;
	return r;
}

/* ---- per-tab cache ---------------------------------------------------------- */

/* The cache entry of tab `id`, or a free one for it; NULL when full. */
static struct tab_cache *cache_entry(struct compositor *c, uint32_t id)
{
	struct tab_cache *free_one = NULL;

	for (size_t i = 0; i < COMP_MAX_TABS; i++) {
		if (c->cache[i].id == id)
			return &c->cache[i];
		if (!c->cache[i].id && !free_one)
			free_one = &c->cache[i];
	}
	if (free_one) {
		free_one->id = id;
		free_one->valid = 0;
	}
	return free_one;
}

/*
 * Tab `id`'s picture changed in `r` (content coordinates; NULL: replaced
 * as a whole): its thumbnail is stale there.
 */
static void thumb_invalidate(struct compositor *c, uint32_t id, const struct comp_rect *r)
{
	for (size_t i = 0; i < COMP_MAX_TABS; i++) {
		if (c->cache[i].id != id)
			continue;
		if (r)
			c->cache[i].stale = rect_union(c->cache[i].stale, *r);
		else
			c->cache[i].valid = 0;
	}
}

static void damage(struct compositor *c, struct comp_rect r)
{
	struct comp_rect win = { 0, 0, c->w, c->h };

	r = rect_clip(r, win);
	if (rect_empty(&r))
		return;
	for (unsigned i = 0; i < c->slots; i++)
		c->miss[i] = rect_union(c->miss[i], r);
	c->since_last = rect_union(c->since_last, r);
}

static struct comp_rect strip_rect(const struct compositor *c)
{
	struct comp_rect r = { 0, 0, c->w, c->strip };

	return r;
}

static struct comp_rect content_rect(const struct compositor *c)
{
	struct comp_rect r = { 0, c->strip, c->cw, c->ch };

	return r;
}

/* ---- creation -------------------------------------------------------------- */

struct compositor *comp_create(int width, int height, int strip_height, unsigned slots,
			       struct page_engine *engine)
{
	struct compositor *c;

	if (width < 64 || height <= strip_height + 16 || strip_height < 16 || width > 8192 ||
	    height > 8192 || slots == 0 || slots > COMP_MAX_SLOTS) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->xmap = calloc((size_t)width, sizeof *c->xmap);
	if (!c->xmap) {
		free(c);
		return NULL;
	}
	c->w = width;
	c->h = height;
	c->strip = strip_height;
	c->cw = width;
	c->ch = height - strip_height;
	c->slots = slots;
	c->engine = engine;
	comp_damage_all(c);
	return c;
}

void comp_destroy(struct compositor *c)
{
	if (!c)
		return;
	free(c->xmap);
	for (size_t i = 0; i < COMP_MAX_TABS; i++) {
		free(c->cache[i].buf);
		free(c->cache[i].label);
	}
	free(c);
}

int comp_content_width(const struct compositor *c)
{
	return c->cw;
}

int comp_content_height(const struct compositor *c)
{
	return c->ch;
}

void comp_damage_all(struct compositor *c)
{
	struct comp_rect all = { 0, 0, c->w, c->h };

	damage(c, all);
}

int comp_has_damage(const struct compositor *c)
{
	/* Only changes since the last frame count: a slot catches up when it is drawn next. */
	return !rect_empty(&c->since_last);
}

int comp_pending(const struct compositor *c, unsigned slot, struct comp_rect *out)
{
	if (slot >= c->slots)
		return -EINVAL;
	*out = c->miss[slot];
	return 0;
}

/* ---- tabs and scene -------------------------------------------------------- */

static struct comp_tab *find(struct compositor *c, uint32_t id)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->tabs[i].id == id)
			return &c->tabs[i];
	return NULL;
}

static enum comp_kind effective(const struct comp_tab *t)
{
	if (t->kind == COMP_SAD)
		return t->sad.pixels ? COMP_SAD : COMP_BLANK;
	return t->frame.pixels ? COMP_CONTENT : COMP_BLANK;
}

/* The overview grid: cell i of n in the content area (window coordinates). */
static void grid(const struct compositor *c, size_t i, struct comp_rect *cell, struct comp_rect *thumb)
{
	int cols = 1, rows, cw, ch, aw, ah, tw, th;

	while ((size_t)(cols * cols) < c->n)
		cols++;
	rows = (int)((c->n + (size_t)cols - 1) / (size_t)cols);
	if (rows < 1)
		rows = 1;
	cw = c->cw / cols;
	ch = c->ch / rows;
	cell->x = (int)(i % (size_t)cols) * cw;
	cell->y = c->strip + (int)(i / (size_t)cols) * ch;
	cell->w = cw;
	cell->h = ch;
	/* The thumbnail keeps the content's aspect ratio inside the cell's margins. */
	aw = cw - 2 * CELL_MARGIN;
	ah = ch - 2 * CELL_MARGIN - LABEL_H;
	if (aw < 1)
		aw = 1;
	if (ah < 1)
		ah = 1;
	tw = aw;
	th = (int)((int64_t)tw * c->ch / c->cw);
	if (th > ah) {
		th = ah;
		tw = (int)((int64_t)th * c->cw / c->ch);
	}
	thumb->x = cell->x + (cw - tw) / 2;
	thumb->y = cell->y + CELL_MARGIN;
	thumb->w = tw;
	thumb->h = th;
}

static struct comp_rect tab_rect_of(const struct compositor *c, const struct comp_tab *t)
{
	struct comp_rect none = { 0, 0, 0, 0 }, cell, thumb;

	if (!c->overview)
		return t->id == c->active ? content_rect(c) : none;
	grid(c, (size_t)(t - c->tabs), &cell, &thumb);
	return cell;
}

struct comp_rect comp_tab_rect(const struct compositor *c, uint32_t tab_id)
{
	struct comp_rect none = { 0, 0, 0, 0 };

	for (size_t i = 0; i < c->n; i++)
		if (c->tabs[i].id == tab_id)
			return tab_rect_of(c, &c->tabs[i]);
	return none;
}

int comp_tab_kind(const struct compositor *c, uint32_t tab_id, enum comp_kind *kind)
{
	for (size_t i = 0; i < c->n; i++) {
		if (c->tabs[i].id == tab_id) {
			*kind = effective(&c->tabs[i]);
			return 0;
		}
	}
	return -ENOENT;
}

int comp_set_scene(struct compositor *c, const struct comp_tab *tabs, size_t n, uint32_t active,
		   int overview)
{
	struct comp_tab old[COMP_MAX_TABS];
	size_t old_n = c->n;
	int strip_changed = 0, content_changed = 0;
	uint64_t relabel = 0; /* cells whose label under the thumbnail changed */

	if (n > COMP_MAX_TABS || (n && !tabs))
		return -EINVAL;
	overview = overview != 0;
	memcpy(old, c->tabs, sizeof old);
	for (size_t i = 0; i < n; i++) {
		const struct comp_tab *prev = NULL;
		struct comp_tab *t = &c->tabs[i];

		for (size_t j = 0; j < old_n; j++)
			if (old[j].id == tabs[i].id)
				prev = &old[j];
		*t = tabs[i];
		t->title[COMP_TITLE_MAX - 1] = '\0';
		/* Pictures are the compositor's business, not the scene's. */
		t->frame = prev ? prev->frame : (struct comp_frame){ NULL, 0 };
		t->sad = prev ? prev->sad : (struct comp_frame){ NULL, 0 };
		if (!prev || i >= old_n || old[i].id != t->id || strcmp(prev->title, t->title) ||
		    prev->kind != t->kind || prev->loading != t->loading)
			strip_changed = 1;
		if (!prev || effective(prev) != effective(t) || (i >= old_n || old[i].id != t->id))
			content_changed |= overview || t->id == active;
		else if (strcmp(prev->title, t->title) || prev->kind != t->kind)
			relabel |= (uint64_t)1 << i;
	}
	if (n != old_n || active != c->active)
		strip_changed = 1;
	if (active != c->active || overview != c->overview || n != old_n)
		content_changed = 1;
	c->n = n;
	c->active = active;
	c->overview = overview != 0;
	/* Thumbnails of tabs that left the scene free their cache entries. */
	for (size_t e = 0; e < COMP_MAX_TABS; e++) {
		size_t i;

		if (!c->cache[e].id)
			continue;
		for (i = 0; i < n && c->tabs[i].id != c->cache[e].id; i++)
			;
		if (i == n) {
			c->cache[e].id = 0;
			c->cache[e].valid = 0;
		}
	}
	if (strip_changed)
		damage(c, strip_rect(c));
	for (size_t i = 0; i < n && overview && !content_changed; i++) {
		struct comp_rect cell, th;

		if (!(relabel & ((uint64_t)1 << i)))
			continue;
		grid(c, i, &cell, &th);
		damage(c, cell);
	}
	if (content_changed)
		damage(c, content_rect(c));
	return 0;
}

/* `d` clipped to the content (content coordinates), without overflowing on hostile values. */
static struct comp_rect content_clip(const struct compositor *c, const struct comp_rect *d)
{
	int64_t x0 = d->x > 0 ? d->x : 0, y0 = d->y > 0 ? d->y : 0;
	int64_t x1 = (int64_t)d->x + d->w, y1 = (int64_t)d->y + d->h;

	if (x1 > c->cw)
		x1 = c->cw;
	if (y1 > c->ch)
		y1 = c->ch;
	if (x1 <= x0 || y1 <= y0)
		return (struct comp_rect){ 0, 0, 0, 0 };
	return (struct comp_rect){ (int)x0, (int)y0, (int)(x1 - x0), (int)(y1 - y0) };
}

/*
 * The thumbnail pixels [*o0, *o1) whose nearest-neighbour source lies in
 * [a, a + len) of a `src`-pixel axis scaled to `dst` pixels: pixel o samples
 * floor(o * src / dst).
 */
static void scaled_span(int a, int len, int src, int dst, int *o0, int *o1)
{
	*o0 = (int)((int64_t)a * dst / src);
	*o1 = (int)(((int64_t)(a + len) * dst + src - 1) / src);
	if (*o1 > dst)
		*o1 = dst;
}

int comp_set_frame(struct compositor *c, uint32_t tab_id, const struct comp_frame *frame,
		   const struct comp_rect *dmg)
{
	struct comp_tab *t = find(c, tab_id);
	struct comp_rect r, d = { 0, 0, 0, 0 }, cell, th;
	enum comp_kind before;
	int partial;

	if (!t)
		return -ENOENT;
	before = effective(t);
	t->frame = frame ? *frame : (struct comp_frame){ NULL, 0 };
	/* Only the part the renderer says it changed, as long as the same kind of picture shows. */
	partial = dmg && frame && before == effective(t);
	if (partial) {
		d = content_clip(c, dmg);
		thumb_invalidate(c, tab_id, &d);
		if (rect_empty(&d))
			return 0;
	} else {
		thumb_invalidate(c, tab_id, NULL);
	}
	if (!c->overview) {
		r = tab_rect_of(c, t);
		if (partial && !rect_empty(&r))
			r = (struct comp_rect){ r.x + d.x, r.y + d.y, d.w, d.h };
		damage(c, r);
		return 0;
	}
	grid(c, (size_t)(t - c->tabs), &cell, &th);
	if (!partial || effective(t) != COMP_CONTENT) {
		damage(c, cell);
		return 0;
	}
	/* What of the thumbnail samples the damaged part of the picture. */
	scaled_span(d.x, d.w, c->cw, th.w, &r.x, &r.w);
	scaled_span(d.y, d.h, c->ch, th.h, &r.y, &r.h);
	r = (struct comp_rect){ th.x + r.x, th.y + r.y, r.w - r.x, r.h - r.y };
	damage(c, rect_clip(r, th));
	return 0;
}

int comp_set_sad(struct compositor *c, uint32_t tab_id, const struct comp_frame *sad)
{
	struct comp_tab *t = find(c, tab_id);

	if (!t)
		return -ENOENT;
	t->sad = sad ? *sad : (struct comp_frame){ NULL, 0 };
	thumb_invalidate(c, tab_id, NULL);
	damage(c, tab_rect_of(c, t));
	return 0;
}

/* ---- drawing ------------------------------------------------------------------ */

/*
 * A solid rectangle. The first row is built by doubling copies and the others
 * copied from it: a plain store loop writes four bytes at a time, several
 * times slower than the wide stores memcpy uses.
 */
static void fill(uint32_t *dst, size_t stride, struct comp_rect r, uint32_t color, uint64_t *bytes)
{
	uint32_t *first;
	size_t done, n;

	if (r.w <= 0 || r.h <= 0)
		return;
	first = (uint32_t *)((uint8_t *)dst + (size_t)r.y * stride) + r.x;
	n = (size_t)r.w;
	for (done = 0; done < n && done < 16; done++)
		first[done] = color;
	while (done < n) {
		size_t k = done < n - done ? done : n - done;

		memcpy(first + done, first, k * 4u);
		done += k;
	}
	for (int y = 1; y < r.h; y++)
		memcpy((uint8_t *)first + (size_t)y * stride, first, n * 4u);
	*bytes += (uint64_t)r.w * (uint64_t)r.h * 4u;
}

/* `r` within `clip`: every drawing of the overview is limited to the damaged region. */
static void fill_in(uint32_t *dst, size_t stride, struct comp_rect r, struct comp_rect clip,
		    uint32_t color, uint64_t *bytes)
{
	fill(dst, stride, rect_clip(r, clip), color, bytes);
}

/* Copies the part within `clip` of a picture `src` (rows `w` pixels apart) placed at `at`. */
static void copy_in(uint32_t *dst, size_t stride, struct comp_rect at, const uint32_t *src,
		    struct comp_rect clip, uint64_t *bytes)
{
	struct comp_rect r = rect_clip(at, clip);
	size_t n = (size_t)r.w * 4u;

	if (rect_empty(&r))
		return;
	for (int y = r.y; y < r.y + r.h; y++)
		memcpy((uint8_t *)dst + (size_t)y * stride + (size_t)r.x * 4u,
		       src + (size_t)(y - at.y) * (size_t)at.w + (size_t)(r.x - at.x), n);
	*bytes += (uint64_t)n * (uint64_t)r.h;
}

/* Text clipped to `clip` (window coordinates), pen at x, baseline y. */
static void text(struct compositor *c, uint32_t *dst, size_t stride, struct comp_rect clip, int x,
		 int baseline, const char *s, uint32_t color, int bold)
{
	struct page_font f = { (uint8_t)(bold ? 1 : 0), 0, TITLE_PX };
	struct page_surface sub;
	size_t len = strlen(s), fit;
	int64_t avail, w;
	char buf[COMP_TITLE_MAX + 8];
	static const char ell[] = "\xe2\x80\xa6"; /* U+2026 */

	if (!c->engine || rect_empty(&clip))
		return;
	sub.pixels = (uint32_t *)((uint8_t *)dst + (size_t)clip.y * stride) + clip.x;
	sub.width = clip.w;
	sub.height = clip.h;
	sub.stride = stride;
	avail = (int64_t)(clip.x + clip.w - x) * 64;
	if (avail <= 0)
		return;
	if (page_font_measure(c->engine, f, s, len) > avail) {
		/* Cut at a character boundary that leaves room for the ellipsis. */
		int64_t ew = page_font_measure(c->engine, f, ell, sizeof ell - 1);

		fit = avail > ew ? page_font_fit(c->engine, f, s, len, avail - ew, &w) : 0;
		if (fit > sizeof buf - sizeof ell)
			fit = sizeof buf - sizeof ell;
		memcpy(buf, s, fit);
		memcpy(buf + fit, ell, sizeof ell);
		s = buf;
		len = fit + sizeof ell - 1;
	}
	page_font_draw(c->engine, f, s, len, (int64_t)(x - clip.x) * 64, baseline - clip.y, color, &sub);
}

static int baseline_for(struct compositor *c, int top, int height)
{
	struct page_metrics m = { 10, 3, 15, 1, 1 };
	struct page_font f = { 0, 0, TITLE_PX };

	if (c->engine)
		page_font_metrics(c->engine, f, &m);
	return top + (height + m.ascent - m.descent) / 2;
}

static void draw_strip(struct compositor *c, uint32_t *dst, size_t stride, uint64_t *bytes)
{
	struct comp_rect s = strip_rect(c);
	int tw = TAB_MAX_W, base = baseline_for(c, 4, c->strip - 4);

	fill(dst, stride, s, COL_STRIP, bytes);
	if (c->n && (size_t)tw * c->n > (size_t)c->w)
		tw = c->w / (int)c->n;
	for (size_t i = 0; i < c->n; i++) {
		const struct comp_tab *t = &c->tabs[i];
		int active = t->id == c->active;
		struct comp_rect r = { (int)i * tw, 4, tw - 1, c->strip - 4 };
		struct comp_rect clip = { r.x + 8, r.y, r.w - 16, r.h };
		int x = r.x + 10;
		uint32_t col = t->kind == COMP_SAD ? COL_SAD_TEXT : active ? COL_TEXT : COL_TEXT_DIM;

		if (r.w < 4)
			break;
		fill(dst, stride, r, active ? COL_TAB_ACTIVE : COL_TAB, bytes);
		if (active) {
			struct comp_rect bar = { r.x, r.y, r.w, 2 };

			fill(dst, stride, bar, COL_ACCENT, bytes);
		}
		if (t->loading) {
			struct comp_rect dot = { x, base - 7, 6, 6 };

			fill(dst, stride, rect_clip(dot, clip), COL_ACCENT, bytes);
			x += 10;
		}
		if (t->kind == COMP_SAD) {
			text(c, dst, stride, clip, x, base, ":(", col, 1);
			x += 16;
		}
		text(c, dst, stride, clip, x, base, t->title[0] ? t->title : "Untitled", col, active);
	}
}

static const struct comp_frame *picture(const struct comp_tab *t)
{
	switch (effective(t)) {
	case COMP_SAD:
		return &t->sad;
	case COMP_CONTENT:
		return &t->frame;
	default:
		return NULL;
	}
}

/* Copies rows of the damaged part of a content-sized picture: the compositor's hot path. */
static void blit(struct compositor *c, uint32_t *dst, size_t stride, struct comp_rect r,
		 const struct comp_frame *pic, uint64_t *bytes)
{
	size_t n = (size_t)r.w * 4u;

	for (int y = r.y; y < r.y + r.h; y++) {
		const uint8_t *src = (const uint8_t *)pic->pixels + (size_t)(y - c->strip) * pic->stride +
				     (size_t)r.x * 4u;

		memcpy((uint8_t *)dst + (size_t)y * stride + (size_t)r.x * 4u, src, n);
	}
	*bytes += (uint64_t)n * (uint64_t)r.h;
}

/*
 * Nearest-neighbour downscale of a content-sized picture to a `tw` x `th`
 * thumbnail, of which only the part `part` (thumbnail coordinates) is made,
 * written at `dst` (the thumbnail's origin, rows `stride` bytes apart).
 */
static void thumb(struct compositor *c, uint32_t *dst, size_t stride, int tw, int th,
		  struct comp_rect part, const struct comp_frame *pic, uint64_t *bytes)
{
	part = rect_clip(part, (struct comp_rect){ 0, 0, tw, th });
	if (rect_empty(&part))
		return;
	for (int x = part.x; x < part.x + part.w; x++)
		c->xmap[x] = (int)((int64_t)x * c->cw / tw);
	for (int y = part.y; y < part.y + part.h; y++) {
		int sy = (int)((int64_t)y * c->ch / th);
		const uint32_t *src = (const uint32_t *)((const uint8_t *)pic->pixels + (size_t)sy * pic->stride);
		uint32_t *row = (uint32_t *)((uint8_t *)dst + (size_t)y * stride);

		for (int x = part.x; x < part.x + part.w; x++)
			row[x] = src[c->xmap[x]];
	}
	*bytes += (uint64_t)part.w * (uint64_t)part.h * 4u;
}

/*
 * Brings the thumbnail in cache entry `e` up to date for a `tw` x `th` thumbnail of
 * `pic`: all of it if the entry is new, the size or the kind of picture
 * changed; else only what its picture's damage maps to. Returns the pixels,
 * or NULL when there is no memory for them.
 */
static const uint32_t *thumb_cached(struct compositor *c, struct tab_cache *e, enum comp_kind kind,
				    int tw, int th, const struct comp_frame *pic, uint64_t *bytes)
{
	struct comp_rect part = { 0, 0, tw, th };
	size_t need = (size_t)tw * (size_t)th;

	if (!e->valid || e->kind != kind || e->w != tw || e->h != th) {
		if (need > e->cap) {
			uint32_t *nb = realloc(e->buf, need * sizeof *nb);

			if (!nb)
				return NULL;
			e->buf = nb;
			e->cap = need;
		}
	} else if (!rect_empty(&e->stale)) {
		scaled_span(e->stale.x, e->stale.w, c->cw, tw, &part.x, &part.w);
		scaled_span(e->stale.y, e->stale.h, c->ch, th, &part.y, &part.h);
		part.w -= part.x;
		part.h -= part.y;
	} else {
		return e->buf;
	}
	thumb(c, e->buf, (size_t)tw * 4u, tw, th, part, pic, bytes);
	e->kind = kind;
	e->w = tw;
	e->h = th;
	e->valid = 1;
	e->stale = (struct comp_rect){ 0, 0, 0, 0 };
	return e->buf;
}

/*
 * The label under a thumbnail: the title over the background, rendered into
 * the cache when the title, its colour or the size changed. NULL: no memory.
 */
static const uint32_t *label_cached(struct compositor *c, struct tab_cache *e, const char *title,
				    uint32_t color, int w, int h, uint64_t *bytes)
{
	size_t need = (size_t)w * (size_t)h;
	struct comp_rect all = { 0, 0, w, h };

	if (e->lw == w && e->lh == h && e->color == color && !strcmp(e->title, title))
		return e->label;
	if (need > e->label_cap) {
		uint32_t *nb = realloc(e->label, need * sizeof *nb);

		if (!nb)
			return NULL;
		e->label = nb;
		e->label_cap = need;
	}
	fill(e->label, (size_t)w * 4u, all, COL_OVERVIEW, bytes);
	text(c, e->label, (size_t)w * 4u, all, 0, baseline_for(c, 0, h), title, color, 0);
	/* Titles are shorter than COMP_TITLE_MAX (comp_set_scene ends them). */
	memcpy(e->title, title, strnlen(title, sizeof e->title - 1));
	e->title[strnlen(title, sizeof e->title - 1)] = '\0';
	e->color = color;
	e->lw = w;
	e->lh = h;
	return e->label;
}

/*
 * One grid cell, limited to `clip`. Every pixel of the cell is written once:
 * the background around a block made of the ring round the thumbnail (the
 * accent if the tab is active), the thumbnail, a gap and the label row.
 */
static void draw_cell(struct compositor *c, size_t i, uint32_t *dst, size_t stride,
		      struct comp_rect clip, uint64_t *bytes)
{
	const struct comp_tab *t = &c->tabs[i];
	const struct comp_frame *pic = picture(t);
	struct comp_rect cell, th, ring, label, block, in;
	struct tab_cache *e;
	const uint32_t *px = NULL;
	const char *title = t->title[0] ? t->title : "Untitled";
	uint32_t ring_col, label_col = t->kind == COMP_SAD ? 0xffff8a80u : COL_LABEL;

	grid(c, i, &cell, &th);
	clip = rect_clip(clip, cell);
	if (rect_empty(&clip))
		return;
	ring = (struct comp_rect){ th.x - 3, th.y - 3, th.w + 6, th.h + 6 };
	label = (struct comp_rect){ th.x, th.y + th.h + 4, th.w, LABEL_H - 4 };
	block = rect_clip((struct comp_rect){ ring.x, ring.y, ring.w, label.y + label.h - ring.y }, cell);
	ring_col = t->id == c->active ? COL_ACCENT : COL_OVERVIEW;

	fill_in(dst, stride, (struct comp_rect){ cell.x, cell.y, cell.w, block.y - cell.y }, clip, COL_OVERVIEW,
		bytes);
	fill_in(dst, stride,
		(struct comp_rect){ cell.x, block.y + block.h, cell.w, cell.y + cell.h - block.y - block.h },
		clip, COL_OVERVIEW, bytes);
	fill_in(dst, stride, (struct comp_rect){ cell.x, block.y, block.x - cell.x, block.h }, clip,
		COL_OVERVIEW, bytes);
	fill_in(dst, stride,
		(struct comp_rect){ block.x + block.w, block.y, cell.x + cell.w - block.x - block.w, block.h },
		clip, COL_OVERVIEW, bytes);

	in = rect_clip(block, clip);
	fill_in(dst, stride, (struct comp_rect){ ring.x, ring.y, ring.w, 3 }, in, ring_col, bytes);
	fill_in(dst, stride, (struct comp_rect){ ring.x, th.y, 3, th.h }, in, ring_col, bytes);
	fill_in(dst, stride, (struct comp_rect){ th.x + th.w, th.y, 3, th.h }, in, ring_col, bytes);
	fill_in(dst, stride, (struct comp_rect){ ring.x, th.y + th.h, ring.w, 3 }, in, ring_col, bytes);
	fill_in(dst, stride, (struct comp_rect){ ring.x, th.y + th.h + 3, ring.w, label.y - th.y - th.h - 3 },
		in, COL_OVERVIEW, bytes);
	fill_in(dst, stride, (struct comp_rect){ ring.x, label.y, 3, label.h }, in, COL_OVERVIEW, bytes);
	fill_in(dst, stride, (struct comp_rect){ label.x + label.w, label.y, 3, label.h }, in, COL_OVERVIEW,
		bytes);

	e = cache_entry(c, t->id);
	if (!pic)
		fill_in(dst, stride, th, in, COL_BLANK, bytes);
	else if (e && th.w > 0 && th.h > 0 && (px = thumb_cached(c, e, effective(t), th.w, th.h, pic, bytes)))
		copy_in(dst, stride, th, px, in, bytes);
	else if (!rect_empty(&th))
		/* No memory for the cache: scale straight into the window. */
		thumb(c, (uint32_t *)((uint8_t *)dst + (size_t)th.y * stride) + th.x, stride, th.w, th.h,
		      (struct comp_rect){ in.x - th.x, in.y - th.y, in.w, in.h }, pic, bytes);

	px = e && !rect_empty(&label) ? label_cached(c, e, title, label_col, label.w, label.h, bytes) : NULL;
	if (px) {
		copy_in(dst, stride, label, px, in, bytes);
	} else {
		struct comp_rect lc = rect_clip(label, in);

		fill(dst, stride, lc, COL_OVERVIEW, bytes);
		text(c, dst, stride, lc, label.x, baseline_for(c, label.y, label.h), title, label_col, 0);
	}
}

/* The overview grid, limited to `clip`: the cells, then what they leave at the right and bottom. */
static void draw_overview(struct compositor *c, uint32_t *dst, size_t stride, struct comp_rect clip,
			  uint64_t *bytes)
{
	struct comp_rect content = content_rect(c), cell, th;
	size_t cols = 1, cells;

	if (!c->n) {
		fill_in(dst, stride, content, clip, COL_OVERVIEW, bytes);
		return;
	}
	while (cols * cols < c->n)
		cols++;
	cells = ((c->n + cols - 1) / cols) * cols;
	for (size_t i = 0; i < cells; i++) {
		if (i < c->n) {
			draw_cell(c, i, dst, stride, clip, bytes);
			continue;
		}
		grid(c, i, &cell, &th);
		fill_in(dst, stride, cell, clip, COL_OVERVIEW, bytes);
	}
	grid(c, cells - 1, &cell, &th);
	fill_in(dst, stride,
		rect_clip((struct comp_rect){ cell.x + cell.w, content.y, content.x + content.w - cell.x - cell.w,
					      content.h }, content),
		clip, COL_OVERVIEW, bytes);
	fill_in(dst, stride,
		rect_clip((struct comp_rect){ content.x, cell.y + cell.h, content.w,
					      content.y + content.h - cell.y - cell.h }, content),
		clip, COL_OVERVIEW, bytes);
}

static void draw_content(struct compositor *c, uint32_t *dst, size_t stride, struct comp_rect r,
			 uint64_t *bytes)
{
	const struct comp_tab *t = find(c, c->active);
	const struct comp_frame *pic = t ? picture(t) : NULL;

	if (rect_empty(&r))
		return;
	if (c->overview) {
		draw_overview(c, dst, stride, r, bytes);
		return;
	}
	if (pic) {
		blit(c, dst, stride, r, pic, bytes);
		return;
	}
	fill(dst, stride, r, COL_BLANK, bytes);
	if (!t) {
		struct comp_rect cr = content_rect(c);

		text(c, dst, stride, cr, cr.x + 24, cr.y + 40, "No tabs are open.", COL_TEXT_DIM, 0);
	}
}

int comp_draw(struct compositor *c, unsigned slot, uint32_t *dst, size_t stride,
	      struct comp_rect *dmg, uint64_t *bytes)
{
	struct comp_rect r;
	uint64_t b = 0;

	if (slot >= c->slots || !dst || stride < (size_t)c->w * 4u)
		return -EINVAL;
	r = c->miss[slot];
	if (!rect_empty(&r)) {
		struct comp_rect sr = rect_clip(r, strip_rect(c));

		if (!rect_empty(&sr))
			draw_strip(c, dst, stride, &b);
		draw_content(c, dst, stride, rect_clip(r, content_rect(c)), &b);
	}
	c->miss[slot] = (struct comp_rect){ 0, 0, 0, 0 };
	if (dmg)
		*dmg = c->since_last;
	c->since_last = (struct comp_rect){ 0, 0, 0, 0 };
	if (bytes)
		*bytes = b;
	return 0;
}
