/*
 * Text through FreeType: the engine object (library handle, faces, glyph
 * cache), metrics, measuring and drawing.
 *
 * Measuring and drawing share one pen walk (glyph_walk) so a run drawn at x
 * covers exactly the width layout measured for it. Kerning is applied
 * between letters but never next to a space, which makes the width of
 * "a b" equal to width("a") + width(" ") + width("b"): layout can then join
 * words into one run without re-measuring.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ft2build.h>
#include FT_FREETYPE_H

#include "page_internal.h"

/*
 * The cache is bounded by entries and bitmap bytes; when either fills up it
 * is emptied whole, which is simple and keeps a renderer's memory flat. A
 * page uses a few hundred glyphs, so that almost never happens. Its table
 * starts small and doubles when three quarters full: a full-size table is
 * 128 KiB, and a few hundred glyphs hashed over it touch every page of it
 * in every renderer.
 */
#define GCACHE_MIN_SLOTS 256
#define GCACHE_SLOTS 4096
#define GCACHE_MAX_USED 3000
#define GCACHE_MAX_BYTES (1u << 20)
#define METRICS_SLOTS 16

/* Italic is a slant of the regular outlines: x' = x + 0.2 * y. */
#define ITALIC_SHEAR 0x3333

struct glyph {
	uint32_t key;   /* font key + 1; 0 = empty slot */
	uint32_t cp;
	uint32_t gi;
	int32_t adv;    /* 26.6 */
	int16_t left, top;
	uint16_t w, h;
	uint8_t *bm;    /* w * h coverage bytes, or NULL */
};

struct metrics_slot {
	uint32_t key;
	struct page_metrics m;
};

struct page_engine {
	FT_Library ft;
	FT_Face face[2];
	int nfaces;
	uint32_t cur_key[2];  /* size and transform currently set on each face */
	struct glyph *cache;
	size_t slots;         /* a power of two, GCACHE_MIN_SLOTS to GCACHE_SLOTS */
	size_t used, bytes;
	struct metrics_slot metrics[METRICS_SLOTS];
};

static uint32_t font_key(struct page_font f)
{
	return ((uint32_t)f.px << 8) | ((uint32_t)(f.italic != 0) << 1) | (f.face != 0);
}

static FT_Face face_for(struct page_engine *e, struct page_font f)
{
	FT_Face face = e->face[f.face && e->nfaces > 1 ? 1 : 0];
	int slot = face == e->face[0] ? 0 : 1;
	uint32_t key = font_key(f) + 1;

	if (e->cur_key[slot] != key) {
		FT_Matrix m = { 0x10000, f.italic ? ITALIC_SHEAR : 0, 0, 0x10000 };

		FT_Set_Pixel_Sizes(face, 0, f.px);
		FT_Set_Transform(face, &m, NULL);
		e->cur_key[slot] = key;
	}
	return face;
}

static void cache_clear(struct page_engine *e)
{
	size_t k;

	for (k = 0; k < e->slots; k++) {
		free(e->cache[k].bm);
		memset(&e->cache[k], 0, sizeof e->cache[k]);
	}
	e->used = 0;
	e->bytes = 0;
}

static size_t slot_of(uint32_t key, uint32_t cp, size_t slots)
{
	return ((cp * 2654435761u) ^ (key * 40503u)) & (slots - 1);
}

/* Doubles the table, moving every entry. Returns 0 or -ENOMEM (the table is unchanged). */
static int cache_grow(struct page_engine *e)
{
	size_t slots = e->slots * 2;
	struct glyph *t = calloc(slots, sizeof *t);

	if (!t)
		return -ENOMEM;
	for (size_t k = 0; k < e->slots; k++) {
		size_t s;

		if (!e->cache[k].key)
			continue;
		for (s = slot_of(e->cache[k].key, e->cache[k].cp, slots); t[s].key; s = (s + 1) & (slots - 1))
			;
		t[s] = e->cache[k];
	}
	free(e->cache);
	e->cache = t;
	e->slots = slots;
	return 0;
}

/*
 * The cached glyph for cp in font f. Never fails: a glyph FreeType cannot
 * load is cached as an empty one, so a bad glyph cannot fail a page. The
 * pointer is valid until the next call.
 */
static const struct glyph *glyph_get(struct page_engine *e, struct page_font f, uint32_t cp)
{
	uint32_t key = font_key(f) + 1;
	size_t s = slot_of(key, cp, e->slots);
	struct glyph *g;
	FT_Face face;
	FT_GlyphSlot gs;
	size_t n;

	while (e->cache[s].key) {
		if (e->cache[s].key == key && e->cache[s].cp == cp)
			return &e->cache[s];
		s = (s + 1) & (e->slots - 1);
	}
	face = face_for(e, f);
	if (e->used >= GCACHE_MAX_USED || e->bytes >= GCACHE_MAX_BYTES) {
		cache_clear(e);
		s = slot_of(key, cp, e->slots);
	} else if ((e->used + 1) * 4 > e->slots * 3) {
		/* Linear probing needs free slots; without memory to grow, start afresh. */
		if (e->slots >= GCACHE_SLOTS || cache_grow(e) < 0)
			cache_clear(e);
		for (s = slot_of(key, cp, e->slots); e->cache[s].key; s = (s + 1) & (e->slots - 1))
			;
	}
	g = &e->cache[s];
	memset(g, 0, sizeof *g);
	g->key = key;
	g->cp = cp;
	e->used++;
	g->gi = FT_Get_Char_Index(face, cp);
	if (FT_Load_Glyph(face, g->gi, FT_LOAD_DEFAULT | FT_LOAD_TARGET_LIGHT) != 0)
		return g;
	gs = face->glyph;
	g->adv = (int32_t)gs->advance.x;
	if (gs->format != FT_GLYPH_FORMAT_BITMAP && FT_Render_Glyph(gs, FT_RENDER_MODE_NORMAL) != 0)
		return g;
	if (gs->bitmap.width == 0 || gs->bitmap.rows == 0 || gs->bitmap.width > 1024 ||
	    gs->bitmap.rows > 1024)
		return g;
	if ((gs->bitmap.pixel_mode != FT_PIXEL_MODE_GRAY && gs->bitmap.pixel_mode != FT_PIXEL_MODE_MONO) ||
	    gs->bitmap.pitch <= 0)
		return g;
	n = (size_t)gs->bitmap.width * gs->bitmap.rows;
	g->bm = malloc(n);
	if (!g->bm)
		return g;  /* drawn as blank, measured the same */
	g->w = (uint16_t)gs->bitmap.width;
	g->h = (uint16_t)gs->bitmap.rows;
	g->left = (int16_t)gs->bitmap_left;
	g->top = (int16_t)gs->bitmap_top;
	for (unsigned y = 0; y < gs->bitmap.rows; y++) {
		const uint8_t *row = gs->bitmap.buffer + (ptrdiff_t)y * gs->bitmap.pitch;

		if (gs->bitmap.pixel_mode == FT_PIXEL_MODE_GRAY) {
			memcpy(g->bm + (size_t)y * g->w, row, g->w);
		} else {
			for (unsigned x = 0; x < g->w; x++)
				g->bm[(size_t)y * g->w + x] = (row[x >> 3] & (0x80 >> (x & 7))) ? 255 : 0;
		}
	}
	e->bytes += n;
	return g;
}

static bool is_break_space(uint32_t cp)
{
	return cp == ' ';
}

/*
 * Walks the pen over s. For each glyph calls fn (if non-NULL) with the pen
 * position before it; stops before a glyph that would end beyond maxw.
 * Returns the bytes consumed; *w gets the pen advance.
 */
typedef void (*glyph_fn)(void *ud, const struct glyph *g, int64_t pen);

static size_t glyph_walk(struct page_engine *e, struct page_font f, const char *s, size_t len,
			 int64_t maxw, int64_t *w, glyph_fn fn, void *ud)
{
	FT_Face face = NULL;
	bool kern;
	int64_t pen = 0;
	uint32_t prev_gi = 0, prev_cp = ' ';
	size_t i = 0;

	face = e->face[f.face && e->nfaces > 1 ? 1 : 0];
	kern = FT_HAS_KERNING(face);
	while (i < len) {
		size_t at = i;
		uint32_t cp = page_utf8_next(s, len, &i);
		const struct glyph *g = glyph_get(e, f, cp);
		uint32_t gi = g->gi;
		int32_t adv = g->adv;
		int64_t k = 0;

		if (kern && prev_gi && gi && !is_break_space(cp) && !is_break_space(prev_cp)) {
			FT_Vector d;

			/* face_for() sets the size kerning is scaled to; it evicts nothing. */
			if (FT_Get_Kerning(face_for(e, f), prev_gi, gi, FT_KERNING_DEFAULT, &d) == 0)
				k = d.x;
		}
		if (maxw >= 0 && at > 0 && pen + k + adv > maxw) {
			i = at;
			break;
		}
		pen += k;
		if (fn)
			fn(ud, g, pen);
		pen += adv;
		prev_gi = gi;
		prev_cp = cp;
	}
	*w = pen;
	return i;
}

int64_t page_font_measure(struct page_engine *e, struct page_font f, const char *s, size_t len)
{
	int64_t w;

	glyph_walk(e, f, s, len, -1, &w, NULL, NULL);
	return w;
}

size_t page_font_fit(struct page_engine *e, struct page_font f, const char *s, size_t len,
		     int64_t maxw, int64_t *w)
{
	return glyph_walk(e, f, s, len, maxw < 0 ? 0 : maxw, w, NULL, NULL);
}

struct draw_ctx {
	const struct page_surface *dst;
	int64_t x;
	int y;
	uint32_t color;
};

static void draw_glyph(void *ud, const struct glyph *g, int64_t pen)
{
	struct draw_ctx *c = ud;
	int64_t gx;

	if (!g->bm)
		return;
	gx = ((c->x + pen + 32) >> 6) + g->left;
	if (gx > c->dst->width || gx + g->w < 0)
		return;
	page_blend_mask(c->dst, (int)gx, c->y - g->top, g->bm, g->w, g->h, g->w, c->color);
}

void page_font_draw(struct page_engine *e, struct page_font f, const char *s, size_t len,
		    int64_t x, int y, uint32_t color, const struct page_surface *dst)
{
	struct draw_ctx c = { dst, x, y, color };
	int64_t w;

	glyph_walk(e, f, s, len, -1, &w, draw_glyph, &c);
}

static int ceil26(FT_Pos v)
{
	return (int)((v + 63) >> 6);
}

void page_font_metrics(struct page_engine *e, struct page_font f, struct page_metrics *m)
{
	uint32_t key = font_key(f) + 1;
	size_t k;
	FT_Face face;
	int thick;

	for (k = 0; k < METRICS_SLOTS; k++) {
		if (e->metrics[k].key == key) {
			*m = e->metrics[k].m;
			return;
		}
	}
	face = face_for(e, f);
	m->ascent = ceil26(face->size->metrics.ascender);
	m->descent = ceil26(-face->size->metrics.descender);
	m->line_height = (int)((face->size->metrics.height + 32) >> 6);
	if (m->line_height < m->ascent + m->descent)
		m->line_height = m->ascent + m->descent;
	m->ul_pos = (int)(((int64_t)-face->underline_position * f.px + face->units_per_EM / 2) /
			  face->units_per_EM);
	thick = (int)(((int64_t)face->underline_thickness * f.px + face->units_per_EM / 2) /
		      face->units_per_EM);
	m->ul_pos = m->ul_pos < 1 ? 1 : m->ul_pos;
	m->ul_thick = thick < 1 ? 1 : thick;
	/* The table is tiny and the sizes few; replace round-robin by key. */
	k = key % METRICS_SLOTS;
	e->metrics[k].key = key;
	e->metrics[k].m = *m;
}

struct page_engine *page_engine_create(const struct page_fonts *fonts, struct page_error *err)
{
	struct page_engine *e;
	int r = -EINVAL;

	if (!fonts || !fonts->regular || fonts->regular_len == 0 ||
	    fonts->regular_len > (size_t)0x7fffffff || (fonts->bold && fonts->bold_len > 0x7fffffff)) {
		page_fail(err, -EINVAL, 0, "no font given");
		errno = EINVAL;
		return NULL;
	}
	e = calloc(1, sizeof *e);
	if (!e || !(e->cache = calloc(GCACHE_MIN_SLOTS, sizeof *e->cache))) {
		free(e);
		page_fail(err, -ENOMEM, 0, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	e->slots = GCACHE_MIN_SLOTS;
	if (FT_Init_FreeType(&e->ft) != 0) {
		e->ft = NULL;
		r = page_fail(err, -ENOMEM, 0, "FreeType could not be initialised");
		goto fail;
	}
	if (FT_New_Memory_Face(e->ft, fonts->regular, (FT_Long)fonts->regular_len, 0, &e->face[0]) != 0 ||
	    !FT_IS_SCALABLE(e->face[0])) {
		r = page_fail(err, -EINVAL, 0, "the regular font is not a scalable font FreeType can read");
		goto fail;
	}
	e->nfaces = 1;
	if (fonts->bold && fonts->bold_len) {
		if (FT_New_Memory_Face(e->ft, fonts->bold, (FT_Long)fonts->bold_len, 0, &e->face[1]) != 0 ||
		    !FT_IS_SCALABLE(e->face[1])) {
			r = page_fail(err, -EINVAL, 0, "the bold font is not a scalable font FreeType can read");
			goto fail;
		}
		e->nfaces = 2;
	}
	return e;
fail:
	page_engine_destroy(e);
	errno = -r;
	return NULL;
}

void page_engine_destroy(struct page_engine *e)
{
	if (!e)
		return;
	if (e->cache) {
		cache_clear(e);
		free(e->cache);
	}
	/* FT_Done_FreeType frees the faces it still holds. */
	if (e->ft)
		FT_Done_FreeType(e->ft);
	free(e);
}
