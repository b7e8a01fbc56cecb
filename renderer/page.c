/*
 * The engine's entry points: a document's life (parse, fetch and decode
 * images, lay out, paint) and the two frames shown instead of a page, the
 * error page and the sad tab.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "page_internal.h"

static const char *errname(int code)
{
	const char *s = strerrordesc_np(code < 0 ? -code : code);

	return s ? s : "unknown error";
}

static int add_image(struct page_doc *doc, struct page_image *img)
{
	struct page_image *ni = realloc(doc->images, (doc->nimages + 1) * sizeof *ni);

	if (!ni)
		return -ENOMEM;
	doc->images = ni;
	doc->images[doc->nimages++] = *img;
	return 0;
}

/* Fetches and decodes each distinct <img src> once; a bad image fails the page. */
static int load_images(struct page_tree *t, struct page_doc *doc, const struct page_loader *ld,
		       struct page_error *err)
{
	size_t total = 0, count = 0;
	char q[64];

	for (size_t k = 0; k < t->n; k++) {
		struct page_node *nd = &t->nodes[k];
		const char *src;
		const uint8_t *data = NULL;
		size_t len = 0, j;
		struct page_image img = { 0 };
		char msg[160];
		int r;

		if (nd->tag != PAGE_TAG_IMG)
			continue;
		if (++count > PAGE_MAX_IMAGES)
			return page_fail(err, -E2BIG, nd->line, "line %d: more than %d images", nd->line,
					 PAGE_MAX_IMAGES);
		src = t->text + nd->off;
		for (j = 0; j < doc->nimages; j++) {
			if (strcmp(doc->images[j].src, src) == 0)
				break;
		}
		if (j < doc->nimages) {
			nd->image = (int32_t)j;
			continue;
		}
		page_quote(q, sizeof q, src, strlen(src), 48);
		if (!ld || !ld->load)
			return page_fail(err, -ENOENT, nd->line,
					 "line %d: image \"%s\" could not be loaded: no image loader", nd->line, q);
		r = ld->load(ld->ud, src, &data, &len);
		if (r < 0 || !data) {
			r = r < 0 ? r : -EIO;
			return page_fail(err, r, nd->line, "line %d: image \"%s\" could not be loaded: %s",
					 nd->line, q, errname(r));
		}
		if (len > PAGE_MAX_IMAGE_FILE)
			r = page_fail(err, -EFBIG, nd->line,
				      "line %d: image \"%s\" is a %zu-byte file, the limit is %u bytes",
				      nd->line, q, len, PAGE_MAX_IMAGE_FILE);
		else if ((r = bh_png_decode(data, len, PAGE_MAX_IMAGE_DIM, PAGE_MAX_IMAGE_DECODED, &img,
					    msg, sizeof msg)) < 0)
			page_fail(err, r, nd->line, "line %d: image \"%s\": %s", nd->line, q, msg);
		if (ld->release)
			ld->release(ld->ud, src, data, len);
		if (r < 0)
			return r;
		total += (size_t)img.w * img.h * 4;
		if (total > PAGE_MAX_IMAGES_DECODED) {
			free(img.px);
			return page_fail(err, -EFBIG, nd->line,
					 "line %d: the page's images need more than %u bytes decoded",
					 nd->line, PAGE_MAX_IMAGES_DECODED);
		}
		img.src = strdup(src);
		if (!img.src || add_image(doc, &img) < 0) {
			free(img.src);
			free(img.px);
			return page_fail(err, -ENOMEM, 0, "out of memory");
		}
		nd->image = (int32_t)(doc->nimages - 1);
	}
	return 0;
}

void page_doc_destroy(struct page_doc *doc)
{
	if (!doc)
		return;
	for (size_t k = 0; k < doc->nimages; k++) {
		free(doc->images[k].px);
		free(doc->images[k].src);
	}
	for (size_t k = 0; k < doc->nlinks; k++) {
		free((char *)doc->links[k].href);
		free((char *)doc->links[k].text);
	}
	free(doc->images);
	free(doc->links);
	free(doc->frags);
	free(doc->ops);
	free(doc->text);
	free(doc->title);
	free(doc);
}

int page_doc_create(struct page_engine *engine, const uint8_t *src, size_t len,
		    const struct page_loader *loader, int width, struct page_doc **out,
		    struct page_error *err)
{
	struct page_tree t;
	struct page_doc *doc;
	int r;

	if (err)
		memset(err, 0, sizeof *err);
	if (!engine || !out || (!src && len) || width < 1 || width > PAGE_MAX_SURFACE_DIM)
		return page_fail(err, -EINVAL, 0, "invalid arguments");
	if ((r = page_parse(src, len, &t, err)) < 0)
		return r;
	doc = calloc(1, sizeof *doc);
	if (!doc || !(doc->title = strdup(t.title))) {
		r = page_fail(err, -ENOMEM, 0, "out of memory");
		goto fail;
	}
	if ((r = load_images(&t, doc, loader, err)) < 0)
		goto fail;
	if ((r = page_layout(engine, &t, doc, width, err)) < 0)
		goto fail;
	page_tree_finish(&t);
	*out = doc;
	return 0;
fail:
	page_tree_finish(&t);
	page_doc_destroy(doc);
	return r;
}

const char *page_doc_title(const struct page_doc *doc)
{
	return doc && doc->title ? doc->title : "";
}

int page_doc_height(const struct page_doc *doc)
{
	return doc ? doc->height : 0;
}

int page_doc_width(const struct page_doc *doc)
{
	return doc ? doc->width : 0;
}

size_t page_doc_link_count(const struct page_doc *doc)
{
	return doc ? doc->nlinks : 0;
}

const struct page_link *page_doc_link(const struct page_doc *doc, size_t i)
{
	return doc && i < doc->nlinks ? &doc->links[i] : NULL;
}

int page_doc_link_at(const struct page_doc *doc, int x, int y)
{
	if (!doc)
		return -1;
	/* Last drawn wins, as the topmost thing under the pointer. */
	for (size_t k = doc->nfrags; k-- > 0;) {
		const struct page_rect *r = &doc->frags[k].r;

		if (x >= r->x && x < r->x + r->w && y >= r->y && y < r->y + r->h)
			return doc->frags[k].link;
	}
	return -1;
}

int page_doc_paint(struct page_engine *engine, const struct page_doc *doc,
		   const struct page_surface *dst, int scroll_y)
{
	if (!engine || !doc || !page_surface_ok(dst))
		return -EINVAL;
	page_paint_ops(engine, doc, dst, scroll_y);
	return 0;
}

int page_render(struct page_engine *engine, const uint8_t *src, size_t len,
		const struct page_loader *loader, const struct page_surface *dst, int scroll_y,
		struct page_doc **out, struct page_error *err)
{
	struct page_doc *doc;
	int r;

	if (!page_surface_ok(dst)) {
		if (err)
			memset(err, 0, sizeof *err);
		return page_fail(err, -EINVAL, 0, "invalid surface");
	}
	if ((r = page_doc_create(engine, src, len, loader, dst->width, &doc, err)) < 0)
		return r;
	page_paint_ops(engine, doc, dst, scroll_y);
	if (out)
		*out = doc;
	else
		page_doc_destroy(doc);
	return 0;
}

/* ---- error page and sad tab ---- */

#define FRAME_TEXT_MAX 600

struct sbuf {
	char b[16384];  /* three escaped texts of FRAME_TEXT_MAX bytes fit */
	size_t n;
};

static void sb_put(struct sbuf *s, const char *str)
{
	size_t l = strlen(str);

	if (s->n + l < sizeof s->b) {
		memcpy(s->b + s->n, str, l);
		s->n += l;
		s->b[s->n] = '\0';
	}
}

/* Untrusted text into markup: escaped, valid UTF-8, one line, bounded. */
static void sb_text(struct sbuf *s, const char *str)
{
	size_t len = strnlen(str, FRAME_TEXT_MAX + 1), i = 0;

	while (i < len && i < FRAME_TEXT_MAX) {
		size_t at = i;
		uint32_t cp = page_utf8_next(str, len, &i);
		char tmp[8];

		if (cp == 0xfffd && !(i - at == 3 && memcmp(str + at, "\xef\xbf\xbd", 3) == 0))
			cp = '?';
		if (cp == '&')
			sb_put(s, "&amp;");
		else if (cp == '<')
			sb_put(s, "&lt;");
		else if (cp == '>')
			sb_put(s, "&gt;");
		else if (cp == '"')
			sb_put(s, "&quot;");
		else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0))
			sb_put(s, cp == '\n' || cp == '\t' ? " " : "?");
		else {
			memcpy(tmp, str + at, i - at);
			tmp[i - at] = '\0';
			sb_put(s, tmp);
		}
	}
	if (len > FRAME_TEXT_MAX)
		sb_put(s, "...");
}

/* Anti-aliased shapes for the frames' icons, in 1/8 pixel units. */
enum shape_kind { SHAPE_DISC, SHAPE_ARC_TOP };

struct shape {
	enum shape_kind kind;
	int64_t cx, cy, r0, r1;
};

static bool shape_hit(const struct shape *sh, int64_t x, int64_t y)
{
	int64_t dx = x - sh->cx, dy = y - sh->cy, d = dx * dx + dy * dy;

	if (sh->kind == SHAPE_DISC)
		return d <= sh->r1 * sh->r1;
	return y <= sh->cy && d >= sh->r0 * sh->r0 && d <= sh->r1 * sh->r1;
}

static void fill_shape(const struct page_surface *s, const struct shape *sh, uint32_t color)
{
	int x0 = (int)((sh->cx - sh->r1) / 8) - 1, x1 = (int)((sh->cx + sh->r1) / 8) + 1;
	int y0 = (int)((sh->cy - sh->r1) / 8) - 1, y1 = (int)((sh->cy + sh->r1) / 8) + 1;

	for (int y = y0 < 0 ? 0 : y0; y <= y1 && y < s->height; y++) {
		for (int x = x0 < 0 ? 0 : x0; x <= x1 && x < s->width; x++) {
			uint8_t cov;
			int hits = 0;

			/* 4x4 samples at the centres of the sub-pixels. */
			for (int j = 0; j < 4; j++)
				for (int i = 0; i < 4; i++)
					hits += shape_hit(sh, 8 * (int64_t)x + 2 * i + 1, 8 * (int64_t)y + 2 * j + 1);
			if (hits == 0)
				continue;
			cov = (uint8_t)(hits == 16 ? 255 : hits * 16);
			page_blend_mask(s, x, y, &cov, 1, 1, 1, color);
		}
	}
}

static void disc(const struct page_surface *s, int64_t cx8, int64_t cy8, int64_t r8, uint32_t c)
{
	struct shape sh = { SHAPE_DISC, cx8, cy8, 0, r8 };

	fill_shape(s, &sh, c);
}

enum frame_kind { FRAME_ERROR, FRAME_SAD_TAB };

static void draw_icon(const struct page_surface *s, enum frame_kind kind, int x, int y, int size,
		      uint32_t fg, uint32_t bg)
{
	int64_t cx = 8 * (int64_t)x + 4 * (int64_t)size, cy = 8 * (int64_t)y + 4 * (int64_t)size;
	int64_t u = size;  /* one unit = 1/8 of the icon, in 1/8 pixels */

	disc(s, cx, cy, 4 * u, fg);
	if (kind == FRAME_ERROR) {
		/* An exclamation mark cut out of the disc. */
		struct shape bar_top = { SHAPE_DISC, cx, cy - 2 * u, 0, u * 5 / 8 };
		int bw = size / 8 > 1 ? size / 8 : 1;

		disc(s, bar_top.cx, bar_top.cy, bar_top.r1, bg);
		page_fill_rect(s, x + size / 2 - bw / 2, y + size / 4, bw, size * 3 / 8, bg);
		disc(s, cx, cy + 2 * u, u * 5 / 8, bg);
	} else {
		struct shape frown = { SHAPE_ARC_TOP, cx, cy + 2 * u, u * 3 / 2, u * 2 };

		disc(s, cx - 3 * u / 2, cy - u, u / 2, bg);
		disc(s, cx + 3 * u / 2, cy - u, u / 2, bg);
		fill_shape(s, &frown, bg);
	}
}

static void frame(struct page_engine *e, const struct page_surface *dst, enum frame_kind kind,
		  const char *heading, const char *strong, const char *text)
{
	uint32_t bg = kind == FRAME_ERROR ? 0xfff8f9fau : 0xff35363au;
	uint32_t fg = kind == FRAME_ERROR ? 0xff202124u : 0xffe8eaedu;
	uint32_t accent = kind == FRAME_ERROR ? 0xffd93025u : 0xff9aa0a6u;
	int x0 = dst->width / 10 > 24 ? dst->width / 10 : 24;
	int y0 = dst->height / 6 > 16 ? dst->height / 6 : 16;
	int size = dst->height / 8;
	struct page_surface sub;
	struct page_doc *doc;
	struct sbuf *sb;
	char colours[96];

	size = size < 24 ? 24 : size > 72 ? 72 : size;
	page_fill_rect(dst, 0, 0, dst->width, dst->height, bg);
	draw_icon(dst, kind, x0, y0, size, accent, bg);
	if (!e)
		return;
	sb = calloc(1, sizeof *sb);
	if (!sb)
		return;
	snprintf(colours, sizeof colours, "<body bgcolor=\"#%06x\" text=\"#%06x\"><h2>",
		 bg & 0xffffff, fg & 0xffffff);
	sb_put(sb, colours);
	sb_text(sb, heading);
	sb_put(sb, "</h2>");
	if (strong && *strong) {
		sb_put(sb, "<p><b>");
		sb_text(sb, strong);
		sb_put(sb, "</b></p>");
	}
	if (text && *text) {
		sb_put(sb, "<p>");
		sb_text(sb, text);
		sb_put(sb, "</p>");
	}
	/*
	 * The text goes below the icon, into a view of the surface, laid out
	 * with equal margins left and right (the page margin included).
	 */
	sub.width = dst->width - (x0 - 16);
	sub.height = dst->height - (y0 + size);
	sub.stride = dst->stride;
	if (sub.width > 0 && sub.height > 0) {
		int w = dst->width - 2 * x0 + 32;

		sub.pixels = (uint32_t *)((uint8_t *)dst->pixels + (size_t)(y0 + size) * dst->stride) +
			     (x0 - 16);
		if (page_doc_create(e, (const uint8_t *)sb->b, sb->n, NULL, w > 64 ? w : sub.width,
				    &doc, NULL) == 0) {
			page_paint_ops(e, doc, &sub, 0);
			page_doc_destroy(doc);
		}
	}
	free(sb);
}

int page_render_error(struct page_engine *engine, const struct page_surface *dst,
		      const char *title, const char *message)
{
	if (!page_surface_ok(dst))
		return -EINVAL;
	frame(engine, dst, FRAME_ERROR, "This page could not be shown", title,
	      message ? message : "");
	return 0;
}

int page_render_sad_tab(struct page_engine *engine, const struct page_surface *dst,
			const char *reason)
{
	if (!page_surface_ok(dst))
		return -EINVAL;
	frame(engine, dst, FRAME_SAD_TAB, "This tab has crashed",
	      "Its renderer process stopped unexpectedly.", reason);
	return 0;
}
