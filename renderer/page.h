/*
 * The page engine: parses an untrusted page (a small HTML subset described
 * in docs/PAGES.md), lays it out and rasterizes it into a pixel buffer the
 * caller owns.
 *
 * The engine is pure computation: it opens no file, makes no IPC, keeps no
 * global mutable state and never prints. Everything it needs comes in
 * through its arguments: the page bytes, the font bytes and a loader
 * callback for images. That keeps it usable unchanged inside the
 * renderer's seccomp sandbox, in tests and in fuzzers.
 *
 * Errors: functions return 0 or a negative errno. Functions that take a
 * `struct page_error *` also fill it with a one-line, human-readable reason
 * (it may be NULL). Output parameters are written only on success.
 *
 * Threads: an engine and the documents created with it must be used by one
 * thread at a time. Separate engines are independent.
 */
#ifndef BH_RENDERER_PAGE_H
#define BH_RENDERER_PAGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Hard limits on what a page may ask for. A page that exceeds one is
 * refused with an error naming the limit; nothing is truncated silently.
 */
#define PAGE_MAX_INPUT_BYTES (1u << 20)  /* page source */
#define PAGE_MAX_NODES 10000             /* elements plus text runs */
#define PAGE_MAX_DEPTH 32                /* open elements at once */
#define PAGE_MAX_ATTRS 16                /* attributes on one tag */
#define PAGE_MAX_ATTR_BYTES 1024         /* one attribute value, decoded */
#define PAGE_MAX_TEXT_BYTES 65536        /* one run of text, decoded */
#define PAGE_MAX_TITLE_BYTES 256         /* <title> text, decoded */
#define PAGE_MAX_PATH_BYTES 255          /* <img src> and <a href> */
#define PAGE_MAX_LINKS 1024              /* <a href> elements */
#define PAGE_MAX_IMAGES 64               /* <img> elements */
#define PAGE_MAX_IMAGE_DIM 4096          /* image width or height, pixels */
#define PAGE_MAX_IMAGE_DECODED (16u << 20) /* one decoded image, bytes */
#define PAGE_MAX_IMAGE_FILE (8u << 20)     /* one encoded image file, bytes */
#define PAGE_MAX_IMAGES_DECODED (32u << 20) /* all decoded images, bytes */
#define PAGE_MAX_BOX_DIM 4096            /* width/height of a box */
#define PAGE_MAX_HEIGHT 65536            /* laid-out page height, pixels */
#define PAGE_MAX_SURFACE_DIM 16384       /* surface width or height */

/*
 * A pixel buffer owned by the caller: `height` rows of `width` pixels,
 * rows `stride` bytes apart (stride >= width * 4, a multiple of 4).
 * Pixels are uint32_t 0xAARRGGBB in native byte order; the engine always
 * writes opaque pixels (A = 0xff).
 */
struct page_surface {
	uint32_t *pixels;
	int width;
	int height;
	size_t stride;
};

/* A rectangle in page coordinates (0,0 = top left of the page, unscrolled). */
struct page_rect {
	int x, y, w, h;
};

/* One <a href> of a laid-out page. Strings are owned by the document. */
struct page_link {
	const char *href;       /* the target exactly as written, decoded */
	const char *text;       /* visible text, whitespace collapsed */
	struct page_rect rect;  /* bounding box of everything the link drew */
};

/* Why something failed. `line` is the 1-based source line, or 0. */
struct page_error {
	int code;           /* negative errno, same as the return value */
	int line;
	char message[256];  /* one line, NUL-terminated */
};

/*
 * Fetches the bytes of an image named by a page (a relative path such as
 * "img/cat.png", already checked to contain no "..", no leading '/', no
 * scheme). Returns 0 and sets *data and *len, or a negative errno. The bytes
 * must stay valid and unchanged until release() is called for them (or, if
 * release is NULL, until page_doc_create() returns). In the renderer this
 * asks the broker for a read-only fd and maps it.
 */
struct page_loader {
	int (*load)(void *ud, const char *path, const uint8_t **data, size_t *len);
	void (*release)(void *ud, const char *path, const uint8_t *data, size_t len);
	void *ud;
};

/*
 * Font files (TrueType bytes, e.g. DejaVuSans.ttf and DejaVuSans-Bold.ttf).
 * `bold` may be NULL: bold text then uses the regular face. The bytes are
 * not copied; they must outlive the engine.
 */
struct page_fonts {
	const uint8_t *regular;
	size_t regular_len;
	const uint8_t *bold;
	size_t bold_len;
};

struct page_engine;
struct page_doc;

/*
 * Creates an engine: a FreeType library, the faces and a bounded glyph
 * cache. Returns NULL with errno set (EINVAL: missing or unreadable font,
 * ENOMEM). If `err` is non-NULL it receives the reason.
 */
struct page_engine *page_engine_create(const struct page_fonts *fonts, struct page_error *err);

/* Frees the engine. Documents made with it must be destroyed first. NULL is fine. */
void page_engine_destroy(struct page_engine *engine);

/*
 * Parses `src` (len bytes, untrusted), fetches and decodes its images
 * through `loader` (may be NULL if the page has no images) and lays it out
 * for a viewport `width` pixels wide. On success *out owns the result;
 * destroy it with page_doc_destroy(). Every image the loader returned has
 * been released by the time this returns, success or not.
 *
 * Errors: -EFBIG (something too large: page, text, title, image, layout
 * height), -E2BIG (too many nodes, links, images, attributes, too deep),
 * -EILSEQ (binary data: NUL, control characters, invalid UTF-8, bad
 * character reference), -EINVAL (malformed or unsupported markup, bad
 * attribute value, bad width), -ENODATA (empty page), -EBADMSG (corrupt
 * image), -ENOMEM, or whatever the loader returned.
 */
int page_doc_create(struct page_engine *engine, const uint8_t *src, size_t len,
		    const struct page_loader *loader, int width,
		    struct page_doc **out, struct page_error *err);

/* Frees a document. NULL is fine. */
void page_doc_destroy(struct page_doc *doc);

/* The page's <title> ("" if none). Owned by the document. */
const char *page_doc_title(const struct page_doc *doc);

/* Laid-out height in pixels (the scroll range is [0, height - viewport]). */
int page_doc_height(const struct page_doc *doc);

/* The width the document was laid out for. */
int page_doc_width(const struct page_doc *doc);

/* Number of links, and link i (NULL if out of range), in document order. */
size_t page_doc_link_count(const struct page_doc *doc);
const struct page_link *page_doc_link(const struct page_doc *doc, size_t i);

/*
 * Index of the link drawn at page point (x, y), or -1. Unlike the bounding
 * rectangles of page_doc_link(), this tests each line a link was broken
 * across, so the gaps between them do not count.
 */
int page_doc_link_at(const struct page_doc *doc, int x, int y);

/*
 * Paints the document into `dst`, page row `scroll_y` at the surface's
 * top row. Every pixel of the surface is written. Returns 0 or -EINVAL.
 */
int page_doc_paint(struct page_engine *engine, const struct page_doc *doc,
		   const struct page_surface *dst, int scroll_y);

/*
 * One-shot: page_doc_create() at the surface's width, then
 * page_doc_paint(). On success, if `out` is non-NULL *out receives the
 * document (for its title and links), else it is freed. On failure the
 * surface is left untouched: draw page_render_error() with err->message.
 */
int page_render(struct page_engine *engine, const uint8_t *src, size_t len,
		const struct page_loader *loader, const struct page_surface *dst,
		int scroll_y, struct page_doc **out, struct page_error *err);

/*
 * Draws the "This page could not be shown" frame: `title` names the page
 * (its path or URL, may be NULL) and `message` gives the reason. Any bytes
 * are accepted; unprintable ones are shown as '?'. With a NULL engine the
 * frame is drawn without text. Returns 0 or -EINVAL (bad surface).
 */
int page_render_error(struct page_engine *engine, const struct page_surface *dst,
		      const char *title, const char *message);

/*
 * Draws the sad-tab frame shown when a renderer died; `reason` (may be
 * NULL) says how, e.g. "killed by signal 11 (SIGSEGV)". Same rules as
 * page_render_error().
 */
int page_render_sad_tab(struct page_engine *engine, const struct page_surface *dst,
			const char *reason);

#ifdef __cplusplus
}
#endif
#endif
