/*
 * Page engine: the bundled sample pages render, and exact pixels land
 * where the page language says they should (boxes, images, text, links,
 * wrapping, scrolling), the same every time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"
#include "test_page_util.h"

#define WHITE 0xffffffffu
#define LINK_BLUE 0xff1a0dabu

static struct page_engine *engine(void **state)
{
	return ((struct pt_state *)*state)->engine;
}

/* Renders an in-memory page with images resolved in pages/. */
static int render_str(void **state, const char *html, const struct page_surface *s, int scroll,
		      struct page_doc **doc, struct page_error *err)
{
	struct pt_loader l;
	struct page_loader ld = pt_loader_for(&l, "pages");
	int r = page_render(engine(state), (const uint8_t *)html, strlen(html), &ld, s, scroll, doc, err);

	assert_int_equal(l.loads, l.releases);
	return r;
}

static void test_samples_render(void **state)
{
	static const struct {
		const char *file, *title;
		size_t links;
	} pages[] = {
		{ "index.html", "bulkhead sample pages", 11 },
		{ "text.html", "Text and word wrap", 0 },
		{ "lists.html", "Lists", 0 },
		{ "boxes.html", "Coloured boxes", 0 },
		{ "images.html", "Images", 0 },
		{ "links.html", "Links", 6 },
		{ "colors.html", "Colours", 0 },
		{ "unicode.html", "Unicode \xe2\x80\x94 \xc3\xbcn\xc3\xaf\x63\xc3\xb6\x64\xc3\xa9", 0 },
		{ "long.html", "A long page", 1 },
		{ "about.html", "About the demo", 7 },
	};
	struct page_surface s;

	pt_surface_init(&s, 1280, 800);
	for (size_t k = 0; k < sizeof pages / sizeof pages[0]; k++) {
		struct page_doc *doc = NULL;
		struct page_error err;
		int r = pt_render_file(engine(state), pages[k].file, &s, 0, &doc, &err);

		if (r != 0)
			fail_msg("%s: %s", pages[k].file, err.message);
		assert_string_equal(page_doc_title(doc), pages[k].title);
		assert_int_equal(page_doc_link_count(doc), pages[k].links);
		assert_int_equal(page_doc_width(doc), 1280);
		assert_true(page_doc_height(doc) > 100);
		/* Something was drawn in the first screenful. */
		assert_true(pt_count_not(&s, 0, 0, 1280, 800, pt_px(&s, 0, 0)) > 500);
		/* Every pixel is opaque. */
		for (int y = 0; y < 800; y += 7)
			for (int x = 0; x < 1280; x += 5)
				assert_int_equal(pt_px(&s, x, y) >> 24, 0xff);
		pt_save(&s, pages[k].file);
		page_doc_destroy(doc);
	}
	pt_surface_free(&s);
}

static void test_boxes_pixels(void **state)
{
	struct page_surface s;
	struct page_doc *doc;
	struct page_error err;

	pt_surface_init(&s, 1280, 800);
	assert_int_equal(pt_render_file(engine(state), "boxes.html", &s, 0, &doc, &err), 0);
	/* First box: page margin 16, box margin 8, 200x100 of #d32f2f. */
	assert_int_equal(pt_px(&s, 16, 24), 0xffd32f2f);
	assert_int_equal(pt_px(&s, 215, 123), 0xffd32f2f);
	assert_int_equal(pt_px(&s, 100, 70), 0xffd32f2f);
	assert_int_equal(pt_px(&s, 15, 24), WHITE);
	assert_int_equal(pt_px(&s, 216, 70), WHITE);
	assert_int_equal(pt_px(&s, 100, 124), WHITE);
	/* Second box (margins collapse to 8): 300x60 green, text at its top left. */
	assert_int_equal(pt_px(&s, 310, 185), 0xff388e3c);
	assert_true(pt_count_not(&s, 24, 140, 200, 160, 0xff388e3c) > 50);
	/* The fixed 120x120 purple div. */
	assert_int_equal(pt_px(&s, 76, 420), 0xff7b1fa2);
	/* Nothing right of the content area. */
	assert_int_equal(pt_count_not(&s, 1265, 0, 1280, 800, WHITE), 0);
	page_doc_destroy(doc);
	pt_surface_free(&s);
}

static void test_image_pixels(void **state)
{
	struct page_surface s;
	struct page_doc *doc;
	struct page_error err;

	pt_surface_init(&s, 1280, 800);
	/* index.html starts its first paragraph with the logo, natural size, at (16, 96). */
	assert_int_equal(pt_render_file(engine(state), "index.html", &s, 0, &doc, &err), 0);
	assert_int_equal(pt_px(&s, 16, 96), 0xffe53935);
	assert_int_equal(pt_px(&s, 16 + 40, 96 + 8), 0xff43a047);
	assert_int_equal(pt_px(&s, 16 + 8, 96 + 40), 0xff1e88e5);
	assert_int_equal(pt_px(&s, 16 + 63, 96 + 63), 0xfffdd835);
	assert_int_equal(pt_px(&s, 16 + 64, 96 + 10), WHITE);
	page_doc_destroy(doc);

	/* Alpha over a background, palette, grayscale and interlaced images, one per line. */
	assert_int_equal(render_str(state,
				    "<body bgcolor=#000080><img src=img/alpha.png><br>"
				    "<img src=img/checker.png><br><img src=img/gray.png><br>"
				    "<img src=img/stripes.png>",
				    &s, 0, &doc, &err), 0);
	assert_int_equal(pt_px(&s, 16 + 24, 16 + 24), 0xff8e24aa);  /* opaque disc */
	assert_int_equal(pt_px(&s, 16 + 1, 16 + 1), 0xff000080);    /* transparent corner */
	assert_int_equal(pt_px(&s, 16 + 2, 64 + 2), 0xff000080);    /* checker cell 0: navy */
	assert_int_equal(pt_px(&s, 16 + 10, 64 + 2), 0xffffa500);   /* checker cell 1: orange */
	assert_int_equal(pt_px(&s, 16 + 10, 96 + 2), 0xff282828);   /* gray ramp: 4 * 10 */
	assert_int_equal(pt_px(&s, 16 + 5, 112 + 20), 0xffff0000);  /* stripes */
	assert_int_equal(pt_px(&s, 16 + 15, 112 + 20), 0xff00ff00);
	assert_int_equal(pt_px(&s, 16 + 25, 112 + 20), 0xff0000ff);
	assert_int_equal(pt_px(&s, 16 + 35, 112 + 39), 0xffffffff);
	pt_save(&s, "image-kinds");
	page_doc_destroy(doc);

	/* Scaling: 64x64 to 128x128 (width only keeps the aspect), and squashed. */
	assert_int_equal(render_str(state, "<img src=img/logo.png width=128><br>"
				    "<img src=img/logo.png width=32 height=8>", &s, 0, &doc, &err), 0);
	assert_int_equal(pt_px(&s, 16 + 10, 16 + 10), 0xffe53935);
	assert_int_equal(pt_px(&s, 16 + 120, 16 + 10), 0xff43a047);
	assert_int_equal(pt_px(&s, 16 + 120, 16 + 120), 0xfffdd835);
	assert_int_equal(pt_px(&s, 16 + 128, 16 + 64), WHITE);
	assert_int_equal(pt_px(&s, 16 + 2, 144 + 1), 0xffe53935);
	assert_int_equal(pt_px(&s, 16 + 30, 144 + 6), 0xfffdd835);
	assert_int_equal(pt_px(&s, 16 + 32, 144 + 4), WHITE);
	page_doc_destroy(doc);
	pt_surface_free(&s);
}

static void test_text_pixels(void **state)
{
	struct page_surface s;
	struct page_doc *doc;
	struct page_error err;
	int dark = 0;

	pt_surface_init(&s, 1280, 800);
	assert_int_equal(pt_render_file(engine(state), "text.html", &s, 0, &doc, &err), 0);
	/* "Heading one" in 32px bold: a dense block of ink near the top left... */
	assert_true(pt_count_not(&s, 16, 37, 250, 75, WHITE) > 800);
	for (int y = 37; y < 75; y++)
		for (int x = 16; x < 250; x++)
			dark += pt_px(&s, x, y) == 0xff000000u;
	assert_true(dark > 300);
	/* ...and none past its end or above it. */
	assert_int_equal(pt_count_not(&s, 300, 30, 1280, 80, WHITE), 0);
	assert_int_equal(pt_count_not(&s, 0, 0, 1280, 30, WHITE), 0);
	/* Anti-aliased edges: some grays that are neither ink nor paper. */
	assert_true(pt_count_not(&s, 16, 37, 250, 75, WHITE) - dark > 100);
	page_doc_destroy(doc);

	/* The red span is drawn in red. */
	assert_int_equal(render_str(state, "<p><span color=#ff0000>RED</span></p>", &s, 0, &doc, &err), 0);
	assert_true(pt_count_not(&s, 16, 32, 60, 51, WHITE) > 50);
	for (int y = 32; y < 51; y++)
		for (int x = 16; x < 60; x++) {
			uint32_t p = pt_px(&s, x, y);

			/* Blends of red over white only: red stays 0xff, green equals blue. */
			assert_int_equal((p >> 16) & 0xff, 0xff);
			assert_int_equal((p >> 8) & 0xff, p & 0xff);
		}
	page_doc_destroy(doc);
	pt_surface_free(&s);
}

/* Lowest row with ink in columns [x0, x1). */
static int last_ink_row(const struct page_surface *s, int x0, int x1)
{
	for (int y = s->height - 1; y >= 0; y--)
		if (pt_count_not(s, x0, y, x1, y + 1, WHITE))
			return y;
	return -1;
}

static void test_word_wrap(void **state)
{
	const char *para = "<p>The quick brown fox jumps over the lazy dog and keeps running "
			   "until the end of the line, and then a little further.</p>";
	struct page_surface wide, narrow;
	struct page_doc *doc;
	struct page_error err;
	int h_wide, h_narrow;

	pt_surface_init(&wide, 1280, 200);
	pt_surface_init(&narrow, 200, 400);
	assert_int_equal(render_str(state, para, &wide, 0, &doc, &err), 0);
	h_wide = page_doc_height(doc);
	page_doc_destroy(doc);
	assert_int_equal(render_str(state, para, &narrow, 0, &doc, &err), 0);
	h_narrow = page_doc_height(doc);
	page_doc_destroy(doc);
	pt_save(&narrow, "wrap-narrow");
	/* One 19-pixel line at 1280; at least five at 200. */
	assert_int_equal(h_wide, 16 + 16 + 19 + 16 + 16);
	assert_true(h_narrow >= h_wide + 4 * 19);
	assert_true(last_ink_row(&narrow, 0, 200) > 32 + 4 * 19);
	/* Lines stay inside the content box (16 px margins). */
	assert_int_equal(pt_count_not(&narrow, 186, 0, 200, 400, WHITE), 0);

	/* A word wider than the line is broken between letters. */
	assert_int_equal(render_str(state, "<p>Pneumonoultramicroscopicsilicovolcanoconiosis</p>",
				    &narrow, 0, &doc, &err), 0);
	assert_true(page_doc_height(doc) >= 16 + 16 + 2 * 19 + 16 + 16);
	assert_int_equal(pt_count_not(&narrow, 186, 0, 200, 400, WHITE), 0);
	page_doc_destroy(doc);

	/* A 1-pixel-wide viewport still terminates, a character per line. */
	{
		struct page_surface tiny;

		pt_surface_init(&tiny, 1, 50);
		assert_int_equal(render_str(state, "<p>abc def</p>", &tiny, 0, &doc, &err), 0);
		assert_true(page_doc_height(doc) >= 16 + 16 + 6 * 19);
		page_doc_destroy(doc);
		pt_surface_free(&tiny);
	}
	pt_surface_free(&wide);
	pt_surface_free(&narrow);
}

static void test_links(void **state)
{
	static const char *const hrefs[] = { "index.html", "text.html",   "images.html",
					     "lists.html", "boxes.html", "about:crash" };
	struct page_surface s, narrow;
	struct page_doc *doc;
	struct page_error err;
	const struct page_link *l;
	int blue = 0;

	pt_surface_init(&s, 1280, 800);
	assert_int_equal(pt_render_file(engine(state), "links.html", &s, 0, &doc, &err), 0);
	assert_int_equal(page_doc_link_count(doc), 6);
	for (size_t k = 0; k < 6; k++)
		assert_string_equal(page_doc_link(doc, k)->href, hrefs[k]);
	assert_null(page_doc_link(doc, 6));
	l = page_doc_link(doc, 0);
	assert_string_equal(l->text, "back to the start");
	assert_int_equal(l->rect.h, 19);
	assert_true(l->rect.w > 80 && l->rect.w < 200);
	/* The link's text is blue and underlined inside its rectangle. */
	for (int y = l->rect.y; y < l->rect.y + l->rect.h; y++)
		for (int x = l->rect.x; x < l->rect.x + l->rect.w; x++)
			blue += pt_px(&s, x, y) == LINK_BLUE;
	assert_true(blue >= l->rect.w);  /* at least the underline */
	assert_int_equal(page_doc_link_at(doc, l->rect.x + l->rect.w / 2, l->rect.y + l->rect.h / 2), 0);
	assert_int_equal(page_doc_link_at(doc, l->rect.x - 5, l->rect.y + 5), -1);
	assert_string_equal(page_doc_link(doc, 1)->text,
			    "this link about text and word wrap is long enough to be broken over "
			    "more than one line in a narrow window");
	/* The image link: empty text, the image's width. */
	assert_string_equal(page_doc_link(doc, 2)->text, "");
	assert_int_equal(page_doc_link(doc, 2)->rect.w, 32);
	assert_string_equal(page_doc_link(doc, 5)->text, "about:crash");
	page_doc_destroy(doc);

	/* Narrow: the long link spans lines; hit-testing follows each line, not the box. */
	pt_surface_init(&narrow, 300, 800);
	assert_int_equal(pt_render_file(engine(state), "links.html", &narrow, 0, &doc, &err), 0);
	l = page_doc_link(doc, 1);
	assert_true(l->rect.h >= 3 * 19);
	assert_int_equal(l->rect.x, 16);
	assert_int_equal(page_doc_link_at(doc, 20, l->rect.y + l->rect.h - 5), 1);
	assert_int_equal(page_doc_link_at(doc, 280, l->rect.y + l->rect.h - 5), -1);
	page_doc_destroy(doc);
	pt_surface_free(&narrow);
	pt_surface_free(&s);
}

static void test_scroll_and_clip(void **state)
{
	struct page_surface tall, view;
	struct page_doc *doc;
	struct page_error err;

	pt_surface_init(&tall, 640, 2400);
	pt_surface_init(&view, 640, 600);
	assert_int_equal(pt_render_file(engine(state), "long.html", &tall, 0, &doc, &err), 0);
	assert_true(page_doc_height(doc) > 3000);
	/* Painting at scroll 1000 shows exactly rows 1000.. of the unscrolled page. */
	assert_int_equal(page_doc_paint(engine(state), doc, &view, 1000), 0);
	for (int y = 0; y < 600; y++)
		assert_memory_equal((uint8_t *)view.pixels + (size_t)y * view.stride,
				    (uint8_t *)tall.pixels + (size_t)(y + 1000) * tall.stride, 640 * 4);
	/* Past the end: only background. */
	assert_int_equal(page_doc_paint(engine(state), doc, &view, page_doc_height(doc)), 0);
	assert_int_equal(pt_count_not(&view, 0, 0, 640, 600, WHITE), 0);
	/* A negative scroll leaves the top blank and does not crash. */
	assert_int_equal(page_doc_paint(engine(state), doc, &view, -300), 0);
	assert_int_equal(pt_count_not(&view, 0, 0, 640, 300, WHITE), 0);
	page_doc_destroy(doc);
	pt_surface_free(&tall);
	pt_surface_free(&view);
}

static void test_stride_padding_untouched(void **state)
{
	struct page_surface s;
	struct page_doc *doc;
	struct page_error err;
	const int w = 300, h = 200, pad = 13;

	s.width = w;
	s.height = h;
	s.stride = (size_t)(w + pad) * 4;
	s.pixels = malloc(s.stride * h);
	assert_non_null(s.pixels);
	memset(s.pixels, 0xa5, s.stride * h);
	assert_int_equal(pt_render_file(engine(state), "boxes.html", &s, 0, &doc, &err), 0);
	for (int y = 0; y < h; y++)
		for (int x = w; x < w + pad; x++)
			assert_int_equal(((uint32_t *)((uint8_t *)s.pixels + (size_t)y * s.stride))[x],
					 0xa5a5a5a5u);
	assert_int_equal(pt_px(&s, 100, 70), 0xffd32f2f);
	page_doc_destroy(doc);
	free(s.pixels);
}

static void test_deterministic(void **state)
{
	struct pt_state *st = *state;
	struct page_fonts f = { st->regular, st->regular_len, st->bold, st->bold_len };
	struct page_engine *other = page_engine_create(&f, NULL);
	struct page_surface a, b;
	struct page_error err;
	static const char *const files[] = { "index.html", "images.html", "unicode.html", "lists.html" };

	assert_non_null(other);
	pt_surface_init(&a, 800, 600);
	pt_surface_init(&b, 800, 600);
	for (size_t k = 0; k < 4; k++) {
		assert_int_equal(pt_render_file(st->engine, files[k], &a, 0, NULL, &err), 0);
		/* A fresh engine (cold glyph cache) and a warm one agree to the bit. */
		assert_int_equal(pt_render_file(other, files[k], &b, 0, NULL, &err), 0);
		assert_memory_equal(a.pixels, b.pixels, a.stride * a.height);
		assert_int_equal(pt_render_file(st->engine, files[k], &b, 0, NULL, &err), 0);
		assert_memory_equal(a.pixels, b.pixels, a.stride * a.height);
	}
	page_engine_destroy(other);
	pt_surface_free(&a);
	pt_surface_free(&b);
}

/* More distinct glyphs than the cache holds: it empties and refills, and pixels do not change. */
static void test_glyph_cache_bound(void **state)
{
	size_t cap = 64 * 1024, n = 0;
	char *html = malloc(cap);
	struct page_surface a, b;
	struct page_doc *doc;
	struct page_error err;

	assert_non_null(html);
	n += (size_t)snprintf(html, cap, "<p>");
	/* Latin, Greek, Cyrillic, Hebrew, Arabic, ... then three-byte scripts. */
	for (uint32_t cp = 0x100; cp < 0x100 + 3600; cp++) {
		if (cp < 0x800) {
			html[n++] = (char)(0xc0 | (cp >> 6));
		} else {
			html[n++] = (char)(0xe0 | (cp >> 12));
			html[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		}
		html[n++] = (char)(0x80 | (cp & 0x3f));
		if (cp % 8 == 0)
			html[n++] = ' ';
	}
	memcpy(html + n, "</p>", 5);
	pt_surface_init(&a, 1024, 768);
	pt_surface_init(&b, 1024, 768);
	assert_int_equal(render_str(state, html, &a, 0, &doc, &err), 0);
	page_doc_destroy(doc);
	assert_int_equal(render_str(state, html, &b, 0, &doc, &err), 0);
	page_doc_destroy(doc);
	assert_memory_equal(a.pixels, b.pixels, a.stride * a.height);
	pt_surface_free(&a);
	pt_surface_free(&b);
	free(html);
}

/* Without a bold face, bold text uses the regular one: the same pixels as plain text. */
static void test_engine_without_bold(void **state)
{
	struct pt_state *st = *state;
	struct page_fonts f = { st->regular, st->regular_len, NULL, 0 };
	struct page_engine *e = page_engine_create(&f, NULL);
	struct page_surface a, b;
	const char *bold = "<p><b>Same</b> words</p>", *plain = "<p>Same words</p>";

	assert_non_null(e);
	pt_surface_init(&a, 300, 80);
	pt_surface_init(&b, 300, 80);
	assert_int_equal(page_render(e, (const uint8_t *)bold, strlen(bold), NULL, &a, 0, NULL, NULL), 0);
	assert_int_equal(page_render(e, (const uint8_t *)plain, strlen(plain), NULL, &b, 0, NULL, NULL), 0);
	assert_memory_equal(a.pixels, b.pixels, a.stride * a.height);
	/* With the bold face they differ. */
	assert_int_equal(render_str(state, bold, &a, 0, NULL, NULL), 0);
	assert_memory_not_equal(a.pixels, b.pixels, a.stride * a.height);
	page_engine_destroy(e);
	pt_surface_free(&a);
	pt_surface_free(&b);
}

static void test_error_and_sad_tab_frames(void **state)
{
	struct page_surface s;

	pt_surface_init(&s, 1280, 800);
	assert_int_equal(page_render_error(engine(state), &s, "bad/huge.html",
					   "page is 1052909 bytes, the limit is 1048576 bytes"), 0);
	pt_save(&s, "error-page");
	assert_int_equal(pt_px(&s, 0, 0), 0xfff8f9fau);
	/* The red icon: a disc at (128, 133), 72 px wide. */
	assert_int_equal(pt_px(&s, 128 + 36, 133 + 5), 0xffd93025u);
	/* Heading and message text below it. */
	assert_true(pt_count_not(&s, 128, 230, 700, 350, 0xfff8f9fau) > 2000);

	/* Hostile strings are shown, not interpreted. */
	assert_int_equal(page_render_error(engine(state), &s, "<b>\xff\xfe\x01",
					   "&#0; <script> \xc3\x28 \n\t end"), 0);
	assert_int_equal(page_render_error(engine(state), &s, NULL, NULL), 0);

	assert_int_equal(page_render_sad_tab(engine(state), &s, "killed by signal 11 (SIGSEGV)"), 0);
	pt_save(&s, "sad-tab");
	assert_int_equal(pt_px(&s, 0, 0), 0xff35363au);
	assert_int_equal(pt_px(&s, 128 + 36, 133 + 5), 0xff9aa0a6u);
	assert_true(pt_count_not(&s, 128, 230, 700, 350, 0xff35363au) > 2000);

	/* Without an engine (no fonts) the frame is still drawn. */
	assert_int_equal(page_render_sad_tab(NULL, &s, "x"), 0);
	assert_int_equal(pt_px(&s, 128 + 36, 133 + 5), 0xff9aa0a6u);
	assert_int_equal(pt_count_not(&s, 128, 230, 700, 350, 0xff35363au), 0);

	/* Tiny and invalid surfaces. */
	{
		struct page_surface t;

		pt_surface_init(&t, 3, 2);
		assert_int_equal(page_render_error(engine(state), &t, "t", "m"), 0);
		assert_int_equal(page_render_sad_tab(engine(state), &t, "r"), 0);
		t.stride = 4;
		assert_int_equal(page_render_sad_tab(engine(state), &t, "r"), -EINVAL);
		pt_surface_free(&t);
	}
	pt_surface_free(&s);
}

static void test_png_roundtrip(void **state)
{
	struct page_surface s;
	uint8_t *png = NULL;
	size_t len = 0;
	struct pt_loader l;
	struct page_doc *doc;
	struct page_error err;
	char path[] = "/tmp/bh-page-png-XXXXXX";
	int fd;

	(void)state;
	pt_surface_init(&s, 97, 45);
	for (int y = 0; y < 45; y++)
		for (int x = 0; x < 97; x++)
			((uint32_t *)s.pixels)[y * 97 + x] = 0xff000000u | (uint32_t)(x * 2 << 16) |
							     (uint32_t)(y * 5 << 8) | (uint32_t)((x ^ y) & 0xff);
	assert_int_equal(bh_png_encode_argb(s.pixels, 97, 45, s.stride, &png, &len), 0);
	assert_true(len > 8 && memcmp(png, "\x89PNG", 4) == 0);

	/* Written to a file and decoded by the engine as a page's image: the same pixels. */
	{
		struct page_loader ld = pt_loader_for(&l, "pages");
		struct page_surface out;
		char page[128];

		fd = mkstemp(path);
		assert_true(fd >= 0);
		assert_int_equal(bh_png_write_argb(fd, s.pixels, 97, 45, s.stride), 0);
		close(fd);
		snprintf(l.dir, sizeof l.dir, "/tmp");
		snprintf(page, sizeof page, "<body bgcolor=#000000><img src=%s>", path + 5);
		pt_surface_init(&out, 200, 100);
		assert_int_equal(page_render(engine(state), (const uint8_t *)page, strlen(page), &ld,
					     &out, 0, &doc, &err), 0);
		assert_int_equal(l.loads, 1);
		assert_int_equal(l.releases, 1);
		for (int y = 0; y < 45; y++)
			for (int x = 0; x < 97; x++)
				assert_int_equal(pt_px(&out, 16 + x, 16 + y), ((uint32_t *)s.pixels)[y * 97 + x]);
		assert_int_equal(pt_px(&out, 16 + 97, 16), 0xff000000u);
		page_doc_destroy(doc);
		pt_surface_free(&out);
		unlink(path);
	}
	assert_int_equal(bh_png_encode_argb(s.pixels, 0, 45, s.stride, &png, &len), -EINVAL);
	assert_int_equal(bh_png_write_argb(-1, s.pixels, 97, 45, s.stride), -EBADF);
	free(png);
	pt_surface_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_samples_render),
		cmocka_unit_test(test_boxes_pixels),
		cmocka_unit_test(test_image_pixels),
		cmocka_unit_test(test_text_pixels),
		cmocka_unit_test(test_word_wrap),
		cmocka_unit_test(test_links),
		cmocka_unit_test(test_scroll_and_clip),
		cmocka_unit_test(test_stride_padding_untouched),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_glyph_cache_bound),
		cmocka_unit_test(test_engine_without_bold),
		cmocka_unit_test(test_error_and_sad_tab_frames),
		cmocka_unit_test(test_png_roundtrip),
	};

	bh_test_deadline(240);
	return cmocka_run_group_tests_name("page_render", tests, pt_setup, pt_teardown);
}
