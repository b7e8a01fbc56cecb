/*
 * fuzz_page: the renderer's page parser and image path (renderer/page.h),
 * the code that reads the most hostile bytes of all: a web page and its
 * images, inside the renderer's sandbox.
 *
 * One engine (DejaVu Sans and Sans Bold, read once) renders every input
 * with page_render(), 320 pixels wide (320x240 for inputs whose length is a
 * multiple of 4, 320x80 for the others), then paints the document once
 * more scrolled to its middle if it is taller. The loader serves fuzzer-controlled PNG
 * bytes for any image path. Input:
 *
 *   HTML [SEP IMAGE]...     SEP is "\n--bh-image--\n" (the image's chunk
 *                           CRCs are recomputed before it is served, so
 *                           that mutations reach the decoder behind the
 *                           checksums) or "\n--bh-raw-image--\n" (served as is)
 *
 * The k-th image the page asks for gets part k (cycling); a page without
 * image parts gets a valid 6x4 PNG made at start, and a path containing
 * "missing" gets -ENOENT. Every sample page (pages/ and pages/bad/) is
 * a valid input as it stands.
 *
 * Checked: page_render() returns 0 or a documented error, with the same
 * code and a one-line message in the page_error, and leaves the surface
 * untouched on failure (the error frame is then drawn, as the renderer
 * does); on success the title, height, width and links are within their
 * limits, every pixel painted is opaque, and hit-testing the links works;
 * every image the loader handed out was released.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/internal.h"
#include "fuzz/fuzz.h"
#include "renderer/page.h"
#include "renderer/png_write.h"

#define FONT_DIR "/usr/share/fonts/truetype/dejavu"
#define SURF_W 320
#define SURF_H 240
/*
 * Most inputs paint into a strip of the same width (so the layout is the
 * same) but a third of the height: painting, and checking every pixel, is
 * most of an input's cost, and the full height adds little the scrolled
 * second paint does not reach. Inputs whose length is a multiple of 4 get
 * the full surface.
 */
#define SURF_H_SHORT 80
#define MAX_PARTS 8
/* Every byte of the surface before rendering: a failed render must leave them all. */
#define SENTINEL 0xa5

static const char sep_fixed[] = "\n--bh-image--\n";
static const char sep_raw[] = "\n--bh-raw-image--\n";

static struct page_engine *engine;
static uint8_t *font_regular, *font_bold;
static uint32_t *pixels;
static uint8_t *untouched; /* SURF_W * SURF_H * 4 bytes of SENTINEL */
static uint8_t *default_png;
static size_t default_png_len;
static unsigned long inputs, rendered, failed_by_code[8], images_served;

struct part {
	const uint8_t *data;
	size_t len;
	int fix_crc;
};

struct loader_state {
	struct part parts[MAX_PARTS];
	unsigned nparts;
	unsigned loads, releases;
	uint8_t *copies[PAGE_MAX_IMAGES + 1];
};

/* ---- inputs ---------------------------------------------------------------------- */

static const uint8_t *find(const uint8_t *h, size_t hl, const char *needle, size_t nl)
{
	return nl <= hl ? memmem(h, hl, needle, nl) : NULL;
}

/* Splits the input at the separators; returns the HTML's length. */
static size_t split(const uint8_t *data, size_t size, struct loader_state *ls)
{
	size_t html_len = size, pos = 0;

	for (;;) {
		const uint8_t *a = find(data + pos, size - pos, sep_fixed, sizeof sep_fixed - 1);
		const uint8_t *b = find(data + pos, size - pos, sep_raw, sizeof sep_raw - 1);
		const uint8_t *sep = a && (!b || a < b) ? a : b;
		struct part *last = ls->nparts ? &ls->parts[ls->nparts - 1] : NULL;
		size_t at;

		if (!sep || ls->nparts == MAX_PARTS) {
			/* The rest belongs to the last part (separators and all, once there are enough). */
			if (last)
				last->len = size - (size_t)(last->data - data);
			return html_len;
		}
		at = (size_t)(sep - data);
		if (last)
			last->len = at - (size_t)(last->data - data);
		else
			html_len = at;
		pos = at + (sep == a ? sizeof sep_fixed - 1 : sizeof sep_raw - 1);
		ls->parts[ls->nparts++] = (struct part){ data + pos, 0, sep == a };
	}
}

/* What page.h promises of an image path: relative, no ".." component, no scheme. */
static int path_ok(const char *p)
{
	size_t n = strlen(p);

	if (n == 0 || p[0] == '/' || strcmp(p, "..") == 0 || strncmp(p, "../", 3) == 0 ||
	    strstr(p, "/../") || (n >= 3 && strcmp(p + n - 3, "/..") == 0))
		return 0;
	return strstr(p, "://") == NULL;
}

static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[n] = c;
	}
}

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++)
		c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Rewrites the CRC of every whole chunk after the signature, in a private copy. */
static void fix_crcs(uint8_t *p, size_t n)
{
	size_t pos = 8;

	while (pos + 12 <= n) {
		uint32_t len = get_be32(p + pos), crc;

		if (len > n - pos - 12)
			break;
		crc = crc32_of(p + pos + 4, (size_t)len + 4);
		p[pos + 8 + len] = (uint8_t)(crc >> 24);
		p[pos + 9 + len] = (uint8_t)(crc >> 16);
		p[pos + 10 + len] = (uint8_t)(crc >> 8);
		p[pos + 11 + len] = (uint8_t)crc;
		pos += (size_t)len + 12;
	}
}

static int load(void *ud, const char *path, const uint8_t **data, size_t *len)
{
	struct loader_state *ls = ud;
	const struct part *pt;
	uint8_t *copy;

	BH_FUZZ_CHECK(path && path_ok(path), "the engine asked for image path \"%s\"",
		      path ? path : "(null)");
	BH_FUZZ_CHECK(ls->loads - ls->releases == 0, "an image was loaded before the last was released");
	if (strstr(path, "missing"))
		return -ENOENT;
	if (ls->loads >= PAGE_MAX_IMAGES + 1)
		bh_fuzz_fail("more than %d images loaded for one page", PAGE_MAX_IMAGES);
	if (ls->nparts == 0) {
		*data = default_png;
		*len = default_png_len;
		ls->copies[ls->loads++] = NULL;
		images_served++;
		return 0;
	}
	pt = &ls->parts[ls->loads % ls->nparts];
	/* A private copy of exactly the part's size: ASan sees any overread, and CRCs can be fixed. */
	copy = malloc(pt->len ? pt->len : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, pt->data, pt->len);
	if (pt->fix_crc)
		fix_crcs(copy, pt->len);
	ls->copies[ls->loads++] = copy;
	*data = copy;
	*len = pt->len;
	images_served++;
	return 0;
}

static void release(void *ud, const char *path, const uint8_t *data, size_t len)
{
	struct loader_state *ls = ud;

	BH_FUZZ_CHECK(ls->releases < ls->loads, "an image was released twice");
	BH_FUZZ_CHECK(ls->copies[ls->releases] ? data == ls->copies[ls->releases] : data == default_png,
		      "release of bytes the loader did not hand out");
	free(ls->copies[ls->releases]);
	ls->copies[ls->releases++] = NULL;
}

/* ---- checks ------------------------------------------------------------------------ */

/*
 * The harness's own loops over every pixel are left out of coverage: their
 * comparisons say nothing about the engine, and tracing them would cost
 * more than rendering the page.
 */
#if defined(__clang__)
/* noinline: inlined into an instrumented caller, the loop would be instrumented after all. */
#define NO_COVERAGE __attribute__((no_sanitize("coverage"), noinline))
#else
#define NO_COVERAGE
#endif

/* Index of the first pixel that is not opaque, or n. */
NO_COVERAGE static size_t find_transparent(const uint32_t *px, size_t n)
{
	size_t i = 0;

	while (i < n && (px[i] >> 24) == 0xff)
		i++;
	return i;
}

static unsigned code_slot(int r)
{
	switch (r) {
	case -EFBIG: return 0;
	case -E2BIG: return 1;
	case -EILSEQ: return 2;
	case -EINVAL: return 3;
	case -ENODATA: return 4;
	case -EBADMSG: return 5;
	case -ENOENT: return 6;
	default: return 7;
	}
}

static void check_doc(const struct page_doc *doc, const struct page_surface *surf)
{
	const char *title = page_doc_title(doc);
	size_t nlinks = page_doc_link_count(doc), n;
	int h = page_doc_height(doc);

	BH_FUZZ_CHECK(title != NULL && strlen(title) <= PAGE_MAX_TITLE_BYTES, "title of %zu bytes",
		      title ? strlen(title) : 0);
	BH_FUZZ_CHECK(h >= 0 && h <= PAGE_MAX_HEIGHT, "page height %d", h);
	BH_FUZZ_CHECK(page_doc_width(doc) == SURF_W, "width %d", page_doc_width(doc));
	BH_FUZZ_CHECK(nlinks <= PAGE_MAX_LINKS, "%zu links", nlinks);
	BH_FUZZ_CHECK(page_doc_link(doc, nlinks) == NULL, "a link past the end");
	for (size_t i = 0; i < nlinks; i++) {
		const struct page_link *l = page_doc_link(doc, i);
		int at;

		BH_FUZZ_CHECK(l && l->href && l->text, "link %zu incomplete", i);
		BH_FUZZ_CHECK(strlen(l->href) <= PAGE_MAX_PATH_BYTES, "link %zu href of %zu bytes", i,
			      strlen(l->href));
		at = page_doc_link_at(doc, l->rect.x + l->rect.w / 2, l->rect.y + l->rect.h / 2);
		BH_FUZZ_CHECK(at >= -1 && at < (int)nlinks, "hit test gave %d of %zu", at, nlinks);
	}
	BH_FUZZ_CHECK(page_doc_link_at(doc, -1, -1) == -1, "a link outside the page");
	/* The surface is tightly packed: stride == width * 4. */
	n = find_transparent(surf->pixels, (size_t)surf->width * surf->height);
	BH_FUZZ_CHECK(n == (size_t)surf->width * surf->height, "pixel %zu is not opaque (%08x)", n,
		      surf->pixels[n]);
}

/* ---- the harness -------------------------------------------------------------------- */

static uint8_t *read_font(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0)
		bh_fuzz_fail("%s: %s (apt-get install fonts-dejavu-core)", path, strerror(errno));
	buf = malloc((size_t)st.st_size);
	if (!buf || bh__read_full(fd, buf, (size_t)st.st_size) < 0)
		bh_fuzz_fail("cannot read %s", path);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

static unsigned message_hash(const char *m)
{
	unsigned h = 0;

	while (*m)
		h = h * 31 + (unsigned char)*m++;
	return h;
}

static void print_stats(void)
{
	fprintf(stderr, "fuzz_page: %lu inputs, %lu rendered, %lu images served; failed: EFBIG %lu, "
			"E2BIG %lu, EILSEQ %lu, EINVAL %lu, ENODATA %lu, EBADMSG %lu, ENOENT %lu, other %lu\n",
		inputs, rendered, images_served, failed_by_code[0], failed_by_code[1],
		failed_by_code[2], failed_by_code[3], failed_by_code[4], failed_by_code[5],
		failed_by_code[6], failed_by_code[7]);
}

int bh_fuzz_replay_done(void)
{
	if (getenv("BH_FUZZ_STATS"))
		print_stats();
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct page_fonts fonts = { 0 };
	struct page_error err;
	uint32_t img[6 * 4];

	font_regular = read_font(FONT_DIR "/DejaVuSans.ttf", &fonts.regular_len);
	font_bold = read_font(FONT_DIR "/DejaVuSans-Bold.ttf", &fonts.bold_len);
	fonts.regular = font_regular;
	fonts.bold = font_bold;
	engine = page_engine_create(&fonts, &err);
	if (!engine)
		bh_fuzz_fail("page_engine_create: %s", err.message);
	pixels = malloc((size_t)SURF_W * SURF_H * 4);
	untouched = malloc((size_t)SURF_W * SURF_H * 4);
	if (!pixels || !untouched)
		bh_fuzz_fail("out of memory");
	memset(untouched, SENTINEL, (size_t)SURF_W * SURF_H * 4);
	for (unsigned i = 0; i < BH_ARRAY_SIZE(img); i++)
		img[i] = 0xff000000u | (i * 0x0a1b2cu);
	if (bh_png_encode_argb(img, 6, 4, 6 * 4, &default_png, &default_png_len) < 0)
		bh_fuzz_fail("cannot make the default image");
	crc_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct page_surface surf = { pixels, SURF_W, size % 4 == 0 ? SURF_H : SURF_H_SHORT,
				     (size_t)SURF_W * 4 };
	size_t bytes = (size_t)surf.stride * (size_t)surf.height;
	struct page_surface small = { pixels, 128, 96, 128 * 4 };
	struct page_loader loader;
	struct loader_state ls;
	struct page_error err;
	struct page_doc *doc = NULL;
	size_t html_len;
	int r;

	inputs++;
	memset(&ls, 0, sizeof ls);
	html_len = split(data, size, &ls);
	loader = (struct page_loader){ load, release, &ls };
	memset(pixels, SENTINEL, bytes);
	memset(&err, 0x55, sizeof err);
	r = page_render(engine, data, html_len, &loader, &surf, 0, &doc, &err);
	BH_FUZZ_CHECK(ls.loads == ls.releases, "%u images loaded, %u released", ls.loads, ls.releases);
	if (r < 0) {
		BH_FUZZ_CHECK(r == -EFBIG || r == -E2BIG || r == -EILSEQ || r == -EINVAL ||
				      r == -ENODATA || r == -EBADMSG || r == -ENOMEM || r == -ENOENT,
			      "page_render: undocumented error %d", r);
		BH_FUZZ_CHECK(err.code == r, "page_error code %d, returned %d", err.code, r);
		BH_FUZZ_CHECK(memchr(err.message, '\0', sizeof err.message) && err.message[0] &&
				      !strchr(err.message, '\n'),
			      "page_error message is not one line");
		BH_FUZZ_CHECK(doc == NULL, "document returned with an error");
		BH_FUZZ_CHECK(memcmp(pixels, untouched, bytes) == 0,
			      "a failed render wrote pixels");
		failed_by_code[code_slot(r)]++;
		/*
		 * What the renderer shows instead: a page of its own, laid out
		 * and painted. Most inputs end here, so only one in eight draws
		 * it (chosen by the message, so that a run replays the same way).
		 */
		if (message_hash(err.message) % 8 == 0)
			BH_FUZZ_CHECK(page_render_error(engine, &small, "fuzz.html", err.message) == 0,
				      "page_render_error failed");
		return 0;
	}
	BH_FUZZ_CHECK(r == 0 && doc != NULL, "page_render returned %d without a document", r);
	rendered++;
	check_doc(doc, &surf);
	if (page_doc_height(doc) > surf.height) {
		r = page_doc_paint(engine, doc, &surf, (page_doc_height(doc) - surf.height) / 2);
		BH_FUZZ_CHECK(r == 0, "page_doc_paint failed: %d", r);
	}
	page_doc_destroy(doc);
	return 0;
}

/* ---- a page-aware mutator ------------------------------------------------------------ */

#define PIECE(s) { s, sizeof(s) - 1 }
static const struct {
	const char *s;
	size_t n;
} pieces[] = {
	PIECE("<p>"), PIECE("</p>"), PIECE("<h1>"), PIECE("</h1>"), PIECE("<h2>"), PIECE("<b>"),
	PIECE("</b>"), PIECE("<i>"), PIECE("</i>"), PIECE("<br>"), PIECE("<hr>"), PIECE("<ul><li>"),
	PIECE("<ol><li>"), PIECE("</li>"), PIECE("<div>"), PIECE("</div>"), PIECE("<pre>"),
	PIECE("<title>"), PIECE("</title>"), PIECE("<a href=\"page.html\">"), PIECE("</a>"),
	PIECE("<img src=\"img/a.png\">"), PIECE("<img src=\"img/b.png\" width=\"300\" height=\"2\">"),
	PIECE("<img src=\"missing.png\">"), PIECE(" style=\"color:#ff0000;background:#00f\""),
	PIECE(" width=\"4096\""), PIECE(" align=\"center\""), PIECE("&amp;"), PIECE("&#x1F600;"),
	PIECE("&#0;"), PIECE("&lt;"), PIECE("<!-- "), PIECE(" -->"), PIECE("<!DOCTYPE html>"),
	PIECE("\xc3\xa9"), PIECE("\xe2\x80\x8b"), PIECE("\xff"), PIECE("\t"), PIECE("\n"),
	PIECE("\n--bh-image--\n\x89PNG\r\n\x1a\n"), PIECE("\n--bh-raw-image--\n"),
	PIECE("\x00\x00\x00\x0dIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00\x00\x00\x00\x00"),
	PIECE("\x00\x00\x00\x00IEND\xae\x42\x60\x82"),
};

static uint64_t next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, unsigned seed);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, unsigned seed)
{
	uint64_t s = seed * 0x2545f4914f6cdd1dull + 19;
	unsigned op = (unsigned)(next(&s) % 100);
	size_t pos = size ? (size_t)(next(&s) % (size + 1)) : 0;

	if (op < 40 && LLVMFuzzerMutate)
		return LLVMFuzzerMutate(data, size, max);
	if (op < 70) {
		unsigned k = (unsigned)(next(&s) % BH_ARRAY_SIZE(pieces));
		size_t n = pieces[k].n;

		if (size + n > max)
			return size;
		memmove(data + pos + n, data + pos, size - pos);
		memcpy(data + pos, pieces[k].s, n);
		return size + n;
	}
	if (op < 80 && size) {
		/* Repeat a run: deep nesting, many nodes, long text. */
		size_t from = (size_t)(next(&s) % size), n = (size_t)(next(&s) % 64) + 1;
		unsigned times = (unsigned)(next(&s) % 16) + 1;

		if (n > size - from)
			n = size - from;
		while (times-- && size + n <= max) {
			memmove(data + pos + n, data + pos, size - pos);
			memmove(data + pos, data + from + (from >= pos ? n : 0), n);
			size += n;
		}
		return size;
	}
	if (op < 90 && size) {
		size_t n;

		if (pos >= size)
			pos = size - 1;
		n = (size_t)(next(&s) % (size - pos)) + 1;
		if (n > 64)
			n = 64;
		memmove(data + pos, data + pos + n, size - pos - n);
		return size - n;
	}
	if (size)
		data[pos < size ? pos : size - 1] ^= (uint8_t)(1u << (next(&s) % 8));
	return size;
}
