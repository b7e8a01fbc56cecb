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
	 * Scaled thumbnails for the overview, one per tab id: rescaling is a
	 * gather per pixel, so a tab's thumbnail is rebuilt only when its picture
	 * changed (comp_set_frame/comp_set_sad) or the grid moved, and copied
	 * row by row otherwise.
	 */
	struct thumb_cache {
		uint32_t id;       /* 0: unused */
		const void *pixels; /* the picture it was scaled from */
		int w, h;
		int valid;
		uint32_t *buf;
		size_t cap;        /* pixels */
	} thumbs[COMP_MAX_TABS];
};

/* The cache entry of tab `id`, or a free one for it; NULL when full. */
static struct thumb_cache *thumb_entry(struct compositor *c, uint32_t id)
{
	struct thumb_cache *free_one = NULL;

	for (size_t i = 0; i < COMP_MAX_TABS; i++) {
		if (c->thumbs[i].id == id)
			return &c->thumbs[i];
		if (!c->thumbs[i].id && !free_one)
			free_one = &c->thumbs[i];
	}
	if (free_one) {
		free_one->id = id;
		free_one->valid = 0;
	}
	return free_one;
}

static void thumb_invalidate(struct compositor *c, uint32_t id)
{
	for (size_t i = 0; i < COMP_MAX_TABS; i++)
		if (c->thumbs[i].id == id)
			c->thumbs[i].valid = 0;
}

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
	for (size_t i = 0; i < COMP_MAX_TABS; i++)
		free(c->thumbs[i].buf);
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

	if (n > COMP_MAX_TABS || (n && !tabs))
		return -EINVAL;
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

		if (!c->thumbs[e].id)
			continue;
		for (i = 0; i < n && c->tabs[i].id != c->thumbs[e].id; i++)
			;
		if (i == n) {
			c->thumbs[e].id = 0;
			c->thumbs[e].valid = 0;
		}
	}
	if (strip_changed)
		damage(c, strip_rect(c));
	if (content_changed)
		damage(c, content_rect(c));
	return 0;
}

int comp_set_frame(struct compositor *c, uint32_t tab_id, const struct comp_frame *frame,
		   const struct comp_rect *dmg)
{
	struct comp_tab *t = find(c, tab_id);
	struct comp_rect r;
	enum comp_kind before;

	if (!t)
		return -ENOENT;
	before = effective(t);
	t->frame = frame ? *frame : (struct comp_frame){ NULL, 0 };
	thumb_invalidate(c, tab_id);
	r = tab_rect_of(c, t);
	if (rect_empty(&r))
		return 0;
	if (dmg && !c->overview && before == effective(t)) {
		/* Only the part the renderer says it changed. */
		struct comp_rect d = { dmg->x + r.x, dmg->y + r.y, dmg->w, dmg->h };

		r = rect_clip(d, r);
	}
	damage(c, r);
	return 0;
}

int comp_set_sad(struct compositor *c, uint32_t tab_id, const struct comp_frame *sad)
{
	struct comp_tab *t = find(c, tab_id);

	if (!t)
		return -ENOENT;
	t->sad = sad ? *sad : (struct comp_frame){ NULL, 0 };
	thumb_invalidate(c, tab_id);
	damage(c, tab_rect_of(c, t));
	return 0;
}

/* ---- drawing ------------------------------------------------------------------ */

static void fill(uint32_t *dst, size_t stride, struct comp_rect r, uint32_t color, uint64_t *bytes)
{
	if (r.w <= 0 || r.h <= 0)
		return;
	for (int y = r.y; y < r.y + r.h; y++) {
		uint32_t *row = (uint32_t *)((uint8_t *)dst + (size_t)y * stride) + r.x;

		for (int x = 0; x < r.w; x++)
			row[x] = color;
	}
	*bytes += (uint64_t)r.w * (uint64_t)r.h * 4u;
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

/* Nearest-neighbour downscale of a content-sized picture into `to`. */
static void thumb(struct compositor *c, uint32_t *dst, size_t stride, struct comp_rect to,
		  const struct comp_frame *pic, uint64_t *bytes)
{
	for (int x = 0; x < to.w; x++)
		c->xmap[x] = (int)((int64_t)x * c->cw / to.w);
	for (int y = 0; y < to.h; y++) {
		int sy = (int)((int64_t)y * c->ch / to.h);
		const uint32_t *src = (const uint32_t *)((const uint8_t *)pic->pixels + (size_t)sy * pic->stride);
		uint32_t *row = (uint32_t *)((uint8_t *)dst + (size_t)(to.y + y) * stride) + to.x;

		for (int x = 0; x < to.w; x++)
			row[x] = src[c->xmap[x]];
	}
	*bytes += (uint64_t)to.w * (uint64_t)to.h * 4u;
}

/*
 * Paints the background of the grid everywhere but under the thumbnails,
 * which are drawn next: filling the whole area first would write most of the
 * window twice.
 */
/* Draws a tab's thumbnail from its cache, rebuilding the cache if it is stale. */
static void cached_thumb(struct compositor *c, uint32_t id, uint32_t *dst, size_t stride,
			 struct comp_rect to, const struct comp_frame *pic, uint64_t *bytes)
{
	struct thumb_cache *e = thumb_entry(c, id);
	size_t need = (size_t)to.w * (size_t)to.h;

	if (!e || to.w <= 0 || to.h <= 0) {
		thumb(c, dst, stride, to, pic, bytes);
		return;
	}
	if (!e->valid || e->pixels != pic->pixels || e->w != to.w || e->h != to.h) {
		if (need > e->cap) {
			uint32_t *nb = realloc(e->buf, need * sizeof *nb);

			if (!nb) {
				thumb(c, dst, stride, to, pic, bytes);
				return;
			}
			e->buf = nb;
			e->cap = need;
		}
		/* Scale into the cache (a stride of one thumbnail row), then copy as below. */
		thumb(c, e->buf, (size_t)to.w * 4u, (struct comp_rect){ 0, 0, to.w, to.h }, pic, bytes);
		*bytes -= (uint64_t)need * 4u; /* counted once, when copied out */
		e->pixels = pic->pixels;
		e->w = to.w;
		e->h = to.h;
		e->valid = 1;
	}
	for (int y = 0; y < to.h; y++)
		memcpy((uint8_t *)dst + (size_t)(to.y + y) * stride + (size_t)to.x * 4u,
		       e->buf + (size_t)y * (size_t)to.w, (size_t)to.w * 4u);
	*bytes += (uint64_t)need * 4u;
}

static void fill_background(struct compositor *c, uint32_t *dst, size_t stride, uint64_t *bytes)
{
	struct comp_rect content = content_rect(c), cell, th, last;
	size_t cols = 1, cells;

	while (cols * cols < c->n)
		cols++;
	cells = c->n ? ((c->n + cols - 1) / cols) * cols : 0;
	for (size_t i = 0; i < cells; i++) {
		grid(c, i, &cell, &th);
		if (i >= c->n) {
			fill(dst, stride, cell, COL_OVERVIEW, bytes);
			continue;
		}
		fill(dst, stride, (struct comp_rect){ cell.x, cell.y, cell.w, th.y - cell.y }, COL_OVERVIEW, bytes);
		fill(dst, stride, (struct comp_rect){ cell.x, th.y + th.h, cell.w, cell.y + cell.h - th.y - th.h },
		     COL_OVERVIEW, bytes);
		fill(dst, stride, (struct comp_rect){ cell.x, th.y, th.x - cell.x, th.h }, COL_OVERVIEW, bytes);
		fill(dst, stride, (struct comp_rect){ th.x + th.w, th.y, cell.x + cell.w - th.x - th.w, th.h },
		     COL_OVERVIEW, bytes);
	}
	if (!cells) {
		fill(dst, stride, content, COL_OVERVIEW, bytes);
		return;
	}
	/* What the whole cells leave at the right and bottom edges. */
	grid(c, cells - 1, &last, &th);
	fill(dst, stride,
	     rect_clip((struct comp_rect){ last.x + last.w, content.y, content.x + content.w - last.x - last.w,
					   content.h }, content),
	     COL_OVERVIEW, bytes);
	fill(dst, stride,
	     rect_clip((struct comp_rect){ content.x, last.y + last.h, content.w,
					   content.y + content.h - last.y - last.h }, content),
	     COL_OVERVIEW, bytes);
}

static void draw_overview(struct compositor *c, uint32_t *dst, size_t stride, uint64_t *bytes)
{
	fill_background(c, dst, stride, bytes);
	for (size_t i = 0; i < c->n; i++) {
		const struct comp_tab *t = &c->tabs[i];
		const struct comp_frame *pic = picture(t);
		struct comp_rect cell, th, frame, label;

		grid(c, i, &cell, &th);
		if (t->id == c->active) {
			frame = (struct comp_rect){ th.x - 3, th.y - 3, th.w + 6, th.h + 6 };
			fill(dst, stride, rect_clip(frame, content_rect(c)), COL_ACCENT, bytes);
		}
		if (pic)
			cached_thumb(c, t->id, dst, stride, th, pic, bytes);
		else
			fill(dst, stride, th, COL_BLANK, bytes);
		label = (struct comp_rect){ th.x, th.y + th.h + 4, th.w, LABEL_H - 4 };
		label = rect_clip(label, cell);
		text(c, dst, stride, label, label.x, baseline_for(c, label.y, label.h),
		     t->title[0] ? t->title : "Untitled", t->kind == COMP_SAD ? 0xffff8a80u : COL_LABEL, 0);
	}
}

static void draw_content(struct compositor *c, uint32_t *dst, size_t stride, struct comp_rect r,
			 uint64_t *bytes)
{
	const struct comp_tab *t = find(c, c->active);
	const struct comp_frame *pic = t ? picture(t) : NULL;

	if (rect_empty(&r))
		return;
	if (c->overview) {
		draw_overview(c, dst, stride, bytes);
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
