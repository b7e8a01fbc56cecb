/* Private to the page engine: the parsed tree, the display list, fonts and images. */
#ifndef BH_RENDERER_PAGE_INTERNAL_H
#define BH_RENDERER_PAGE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "page.h"

#define PAGE_BLACK 0xff000000u
#define PAGE_WHITE 0xffffffffu

/* ---- errors ---- */

/* Fills *err (if non-NULL) and returns `code`. */
int page_fail(struct page_error *err, int code, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Copies at most `max` bytes of untrusted `s` into `out` (size outsz) so it
 * can be quoted in a one-line message: printable ASCII kept, the rest '?'.
 */
void page_quote(char *out, size_t outsz, const char *s, size_t len, size_t max);

/* ---- the parsed tree ---- */

enum page_tag {
	PAGE_TAG_TEXT = 0,
	PAGE_TAG_ROOT,
	PAGE_TAG_HTML,
	PAGE_TAG_HEAD,
	PAGE_TAG_BODY,
	PAGE_TAG_TITLE,
	PAGE_TAG_META,
	PAGE_TAG_H1,
	PAGE_TAG_H2,
	PAGE_TAG_H3,
	PAGE_TAG_P,
	PAGE_TAG_UL,
	PAGE_TAG_OL,
	PAGE_TAG_LI,
	PAGE_TAG_DIV,
	PAGE_TAG_BOX,
	PAGE_TAG_HR,
	PAGE_TAG_BR,
	PAGE_TAG_IMG,
	PAGE_TAG_A,
	PAGE_TAG_B,
	PAGE_TAG_STRONG,
	PAGE_TAG_I,
	PAGE_TAG_EM,
	PAGE_TAG_U,
	PAGE_TAG_SPAN,
	PAGE_TAG_COUNT
};

/* Which optional fields of a node were given. */
enum {
	PAGE_HAS_COLOR = 1 << 0,
	PAGE_HAS_BG = 1 << 1,
	PAGE_HAS_WIDTH = 1 << 2,
	PAGE_HAS_HEIGHT = 1 << 3,
	PAGE_HAS_PADDING = 1 << 4,
	PAGE_HAS_STR = 1 << 5, /* href for <a>, src for <img> */
};

/* Tree links are indices into page_tree.nodes so the array can grow. */
struct page_node {
	uint8_t tag;
	uint8_t flags;
	int32_t parent, first_child, last_child, next;
	int32_t line;
	uint32_t off, len;  /* text: the text; <a>/<img>: href/src (NUL-terminated) */
	uint32_t color, bg;
	int32_t width, height, padding;
	int32_t image;      /* <img>: index into page_doc.images once loaded */
};

struct page_tree {
	struct page_node *nodes;
	size_t n, cap;
	char *text;         /* decoded text runs and attribute strings */
	size_t text_len, text_cap;
	char title[PAGE_MAX_TITLE_BYTES + 1];
	bool have_title;
	int32_t body;       /* the <body> node, or the root */
};

/* Parses and validates src. On failure the tree is already finished. */
int page_parse(const uint8_t *src, size_t len, struct page_tree *t, struct page_error *err);
void page_tree_finish(struct page_tree *t);

/* Strict UTF-8: next code point of s[*i..len), U+FFFD for a bad sequence. */
uint32_t page_utf8_next(const char *s, size_t len, size_t *i);

/* ---- images ---- */

/* Decoded image: premultiplied 0xAARRGGBB, rows of exactly w pixels. */
struct page_image {
	uint32_t *px;
	int w, h;
	char *src;
};

/*
 * Decodes a PNG held in memory. Refuses images wider or taller than
 * max_dim or needing more than max_bytes once decoded. On failure writes a
 * reason into msg and returns -EBADMSG (corrupt or not a PNG), -EFBIG (over
 * a limit) or -ENOMEM.
 */
int bh_png_decode(const uint8_t *data, size_t len, int max_dim, size_t max_bytes,
		  struct page_image *out, char *msg, size_t msgsz);

/* ---- fonts ---- */

struct page_font {
	uint8_t face;    /* 0 regular, 1 bold */
	uint8_t italic;  /* slanted by a transform: there is no italic face */
	uint16_t px;     /* pixel size */
};

struct page_metrics {
	int ascent, descent;  /* pixels above / below the baseline */
	int line_height;
	int ul_pos, ul_thick; /* underline: offset below baseline, thickness */
};

void page_font_metrics(struct page_engine *e, struct page_font f, struct page_metrics *m);

/* Width in 26.6 pixels of UTF-8 text s[0..len) drawn as one run. */
int64_t page_font_measure(struct page_engine *e, struct page_font f, const char *s, size_t len);

/*
 * Bytes of the longest prefix of s whose width is at most maxw (26.6), but
 * at least one character; its width goes to *w.
 */
size_t page_font_fit(struct page_engine *e, struct page_font f, const char *s, size_t len,
		     int64_t maxw, int64_t *w);

/* Draws text with its pen starting at x (26.6) and baseline y (pixels). */
void page_font_draw(struct page_engine *e, struct page_font f, const char *s, size_t len,
		    int64_t x, int y, uint32_t color, const struct page_surface *dst);

/* ---- display list and document ---- */

enum { PAGE_OP_RECT, PAGE_OP_TEXT, PAGE_OP_IMAGE };

struct page_op {
	uint8_t kind;
	struct page_font font;  /* text */
	int32_t x, y, w, h;     /* rect/image: pixels; text: x in 26.6, y = baseline, h = line height */
	uint32_t color;
	uint32_t off, len;      /* text: bytes in doc->text; image: off = index */
};

struct page_frag {
	struct page_rect r;
	int32_t link;
};

struct page_doc {
	char *title;
	int width, height;
	uint32_t bg;
	struct page_op *ops;
	size_t nops, ops_cap;
	char *text;
	size_t text_len, text_cap;
	struct page_image *images;
	size_t nimages;
	struct page_link *links;
	size_t nlinks;
	struct page_frag *frags;
	size_t nfrags, frags_cap;
};

/* Lays out the tree (images already decoded) into doc's display list. */
int page_layout(struct page_engine *e, const struct page_tree *t, struct page_doc *doc,
		int width, struct page_error *err);

/* ---- raster ---- */

bool page_surface_ok(const struct page_surface *s);
void page_fill_rect(const struct page_surface *s, int x, int y, int w, int h, uint32_t color);
/* Blends an 8-bit coverage mask (rows `pitch` bytes apart) in `color` at (x, y). */
void page_blend_mask(const struct page_surface *s, int x, int y, const uint8_t *mask, int w,
		     int h, int pitch, uint32_t color);
/* Draws img scaled to w x h at (x, y), bilinear, blended over what is there. */
void page_draw_image(const struct page_surface *s, const struct page_image *img, int x, int y,
		     int w, int h);
void page_paint_ops(struct page_engine *e, const struct page_doc *doc,
		    const struct page_surface *s, int scroll_y);

#endif
