/*
 * Pixel work: rectangles, coverage masks, scaled images and the display
 * list walk. Everything is integer arithmetic so the same input gives the
 * same pixels on every machine, which the tests rely on.
 *
 * Every write is clipped against the surface; coordinates may be anywhere
 * in int range (a page can be far taller than the surface).
 */
#include <stdlib.h>
#include <string.h>

#include "page_internal.h"

bool page_surface_ok(const struct page_surface *s)
{
	return s && s->pixels && s->width > 0 && s->height > 0 && s->width <= PAGE_MAX_SURFACE_DIM &&
	       s->height <= PAGE_MAX_SURFACE_DIM && s->stride % 4 == 0 &&
	       s->stride >= (size_t)s->width * 4;
}

static uint32_t *row_of(const struct page_surface *s, int y)
{
	return (uint32_t *)((uint8_t *)s->pixels + (size_t)y * s->stride);
}

/* Clips [x, x+w) x [y, y+h) to the surface; false if nothing is left. */
static bool clip(const struct page_surface *s, int64_t *x, int64_t *y, int64_t *w, int64_t *h)
{
	if (*x < 0) {
		*w += *x;
		*x = 0;
	}
	if (*y < 0) {
		*h += *y;
		*y = 0;
	}
	if (*x + *w > s->width)
		*w = s->width - *x;
	if (*y + *h > s->height)
		*h = s->height - *y;
	return *w > 0 && *h > 0;
}

void page_fill_rect(const struct page_surface *s, int x, int y, int w, int h, uint32_t color)
{
	int64_t cx = x, cy = y, cw = w, ch = h;

	if (!clip(s, &cx, &cy, &cw, &ch))
		return;
	for (int64_t j = 0; j < ch; j++) {
		uint32_t *r = row_of(s, (int)(cy + j)) + cx;

		for (int64_t i = 0; i < cw; i++)
			r[i] = color;
	}
}

/* Exact round(v / 255) for v in [0, 255 * 255]. */
static uint32_t div255(uint32_t v)
{
	v += 128;
	return (v + (v >> 8)) >> 8;
}

/* Straight colour `c` at coverage a (0..255) over opaque `d`. */
static uint32_t blend(uint32_t d, uint32_t c, uint32_t a)
{
	uint32_t ia = 255 - a;
	uint32_t r = div255(((c >> 16) & 0xff) * a + ((d >> 16) & 0xff) * ia);
	uint32_t g = div255(((c >> 8) & 0xff) * a + ((d >> 8) & 0xff) * ia);
	uint32_t b = div255((c & 0xff) * a + (d & 0xff) * ia);

	return 0xff000000u | (r << 16) | (g << 8) | b;
}

void page_blend_mask(const struct page_surface *s, int x, int y, const uint8_t *mask, int w,
		     int h, int pitch, uint32_t color)
{
	int64_t cx = x, cy = y, cw = w, ch = h;

	if (!clip(s, &cx, &cy, &cw, &ch))
		return;
	for (int64_t j = 0; j < ch; j++) {
		const uint8_t *m = mask + (size_t)(cy + j - y) * (size_t)pitch + (size_t)(cx - x);
		uint32_t *r = row_of(s, (int)(cy + j)) + cx;

		for (int64_t i = 0; i < cw; i++) {
			if (m[i] == 255)
				r[i] = color;
			else if (m[i])
				r[i] = blend(r[i], color, m[i]);
		}
	}
}

/* Premultiplied `p` over opaque `d`. */
static uint32_t over(uint32_t d, uint32_t p)
{
	uint32_t a = p >> 24, ia = 255 - a, out = 0xff000000u;

	if (a == 255)
		return p;
	if (a == 0)
		return d;
	for (int sh = 0; sh < 24; sh += 8) {
		/* Filtering can leave a channel a step above alpha: clamp. */
		uint32_t v = ((p >> sh) & 0xff) + div255(((d >> sh) & 0xff) * ia);

		out |= (v > 255 ? 255 : v) << sh;
	}
	return out;
}

/*
 * Bilinear sample in 16.16 source coordinates. Premultiplied pixels make
 * the filter correct at transparent edges.
 */
static uint32_t sample(const struct page_image *img, int64_t sx, int64_t sy)
{
	int x0, y0, x1, y1;
	uint32_t fx, fy, p00, p10, p01, p11, out = 0;

	if (sx < 0)
		sx = 0;
	if (sy < 0)
		sy = 0;
	x0 = (int)(sx >> 16);
	y0 = (int)(sy >> 16);
	if (x0 >= img->w - 1) {
		x0 = img->w - 1;
		sx = (int64_t)x0 << 16;
	}
	if (y0 >= img->h - 1) {
		y0 = img->h - 1;
		sy = (int64_t)y0 << 16;
	}
	x1 = x0 + 1 < img->w ? x0 + 1 : x0;
	y1 = y0 + 1 < img->h ? y0 + 1 : y0;
	fx = (uint32_t)((sx >> 8) & 0xff);
	fy = (uint32_t)((sy >> 8) & 0xff);
	p00 = img->px[(size_t)y0 * img->w + x0];
	p10 = img->px[(size_t)y0 * img->w + x1];
	p01 = img->px[(size_t)y1 * img->w + x0];
	p11 = img->px[(size_t)y1 * img->w + x1];
	if (fx == 0 && fy == 0)
		return p00;
	for (int sh = 0; sh < 32; sh += 8) {
		uint32_t c00 = (p00 >> sh) & 0xff, c10 = (p10 >> sh) & 0xff;
		uint32_t c01 = (p01 >> sh) & 0xff, c11 = (p11 >> sh) & 0xff;
		uint32_t top = c00 * (256 - fx) + c10 * fx;
		uint32_t bot = c01 * (256 - fx) + c11 * fx;
		uint32_t v = (top * (256 - fy) + bot * fy + 32768) >> 16;

		out |= (v > 255 ? 255 : v) << sh;
	}
	return out;
}

void page_draw_image(const struct page_surface *s, const struct page_image *img, int x, int y,
		     int w, int h)
{
	int64_t cx = x, cy = y, cw = w, ch = h;

	if (!img->px || img->w <= 0 || img->h <= 0 || w <= 0 || h <= 0 || !clip(s, &cx, &cy, &cw, &ch))
		return;
	for (int64_t j = 0; j < ch; j++) {
		int64_t dy = cy + j - y;
		uint32_t *r = row_of(s, (int)(cy + j)) + cx;

		if (w == img->w && h == img->h) {
			const uint32_t *src = img->px + (size_t)dy * img->w + (cx - x);

			for (int64_t i = 0; i < cw; i++)
				r[i] = over(r[i], src[i]);
			continue;
		}
		/* Pixel centres map to pixel centres: src = (dst + 0.5) * s/d - 0.5. */
		int64_t sy = (((2 * dy + 1) * img->h) << 16) / (2 * (int64_t)h) - 32768;

		for (int64_t i = 0; i < cw; i++) {
			int64_t dx = cx + i - x;
			int64_t sx = (((2 * dx + 1) * img->w) << 16) / (2 * (int64_t)w) - 32768;

			r[i] = over(r[i], sample(img, sx, sy));
		}
	}
}

void page_paint_ops(struct page_engine *e, const struct page_doc *doc,
		    const struct page_surface *s, int scroll_y)
{
	page_fill_rect(s, 0, 0, s->width, s->height, doc->bg);
	for (size_t k = 0; k < doc->nops; k++) {
		const struct page_op *op = &doc->ops[k];
		int64_t y = (int64_t)op->y - scroll_y;

		switch (op->kind) {
		case PAGE_OP_RECT:
			if (y >= s->height || y + op->h <= 0)
				break;
			page_fill_rect(s, op->x, (int)y, op->w, op->h, op->color);
			break;
		case PAGE_OP_TEXT:
			/* y is the baseline; glyphs reach at most a line above and below it. */
			if (y - 2 * op->h >= s->height || y + 2 * op->h <= 0)
				break;
			page_font_draw(e, op->font, doc->text + op->off, op->len, op->x, (int)y,
				       op->color, s);
			break;
		case PAGE_OP_IMAGE:
			if (y >= s->height || y + op->h <= 0 || op->off >= doc->nimages)
				break;
			page_draw_image(s, &doc->images[op->off], op->x, (int)y, op->w, op->h);
			break;
		}
	}
}
