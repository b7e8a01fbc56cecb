/*
 * Page engine: hostile and malformed input. Every bad page bundled in
 * pages/bad/ fails with its own precise message; each limit of page.h is
 * enforced with the documented error; forgiving cases stay forgiving; and
 * random or mutated input never crashes (run under ASan to mean it).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"
#include "test_page_util.h"

/* The decoder is internal to the engine but reachable: tests use it directly. */
#include "renderer/page_internal.h"

static struct page_engine *engine(void **state)
{
	return ((struct pt_state *)*state)->engine;
}

static int create_str(void **state, const char *html, size_t len, int width, struct page_error *err)
{
	struct pt_loader l;
	struct page_loader ld = pt_loader_for(&l, "pages");
	struct page_doc *doc = NULL;
	int r = page_doc_create(engine(state), (const uint8_t *)html, len, &ld, width, &doc, err);

	assert_int_equal(l.loads, l.releases);
	if (r == 0) {
		assert_non_null(doc);
		assert_int_equal(err->code, 0);
	} else {
		assert_null(doc);
		assert_int_equal(err->code, r);
		assert_true(err->message[0] != '\0');
		assert_non_null(memchr(err->message, '\0', sizeof err->message));
		assert_null(strchr(err->message, '\n'));
	}
	page_doc_destroy(doc);
	return r;
}

static void expect_error(void **state, const char *html, size_t len, int code, const char *msg)
{
	struct page_error err;
	int r = create_str(state, html, len, 800, &err);

	if (r != code || !strstr(err.message, msg))
		fail_msg("expected %d \"%s\", got %d \"%s\"", code, msg, r, err.message);
}

static void test_bad_pages(void **state)
{
	static const struct {
		const char *file;
		int code;
		const char *msg;
	} bad[] = {
		{ "bad/empty.html", -ENODATA, "page is empty" },
		{ "bad/huge.html", -EFBIG, "bytes, the limit is 1048576 bytes" },
		{ "bad/binary.html", -EILSEQ, "invalid UTF-8 at offset 0 (line 1): byte 0xa5" },
		{ "bad/nul.html", -EILSEQ, "binary data: NUL byte at offset 48 (line 2)" },
		{ "bad/invalid-utf8.html", -EILSEQ, "invalid UTF-8 at offset 57 (line 2): byte 0xe9" },
		{ "bad/malformed.html", -EINVAL, "line 3: unterminated attribute value in <p>" },
		{ "bad/unclosed-comment.html", -EINVAL, "line 3: unterminated comment" },
		{ "bad/unsupported.html", -EINVAL, "line 3: unsupported tag <script>" },
		{ "bad/bad-entity.html", -EILSEQ, "line 2: invalid character reference &#0;" },
		{ "bad/bad-attribute.html", -EINVAL, "line 2: invalid color \"#12345z\" in <box>" },
		{ "bad/path-escape.html", -EINVAL, "line 3: invalid image path \"../../../etc/passwd\"" },
		{ "bad/missing-image.html", -ENOENT,
		  "line 2: image \"img/nowhere.png\" could not be loaded: No such file or directory" },
		{ "bad/many-nodes.html", -E2BIG, "more than 10000 elements and text runs" },
		{ "bad/deep.html", -E2BIG, "line 2: elements nested more than 32 deep" },
		{ "bad/tall.html", -EFBIG, "page is taller than 65536 pixels when laid out 1280 pixels wide" },
		{ "bad/hostile-image.html", -EFBIG,
		  "line 4: image \"img/huge-dims.png\": image is 100000x100000 pixels, the limit is 4096x4096" },
		{ "bad/image-bomb.html", -EFBIG,
		  "image is 4000x4000 pixels, 64000000 bytes decoded, the limit is 16777216 bytes" },
		{ "bad/image-truncated.html", -EBADMSG, "image \"img/truncated.png\": truncated PNG data" },
		{ "bad/image-bad-crc.html", -EBADMSG, "image \"img/bad-crc.png\": corrupt PNG: IDAT: CRC error" },
		{ "bad/image-bad-zlib.html", -EBADMSG, "image \"img/bad-zlib.png\": corrupt PNG: IDAT:" },
		{ "bad/image-not-png.html", -EBADMSG, "image \"img/not-png.png\": not a PNG file" },
	};
	struct page_surface s;

	pt_surface_init(&s, 1280, 800);
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		struct page_doc *doc = NULL;
		struct page_error err;
		int r;

		memset(s.pixels, 0x5a, s.stride * s.height);
		r = pt_render_file(engine(state), bad[k].file, &s, 0, &doc, &err);
		if (r != bad[k].code || !strstr(err.message, bad[k].msg))
			fail_msg("%s: expected %d \"%s\", got %d \"%s\"", bad[k].file, bad[k].code,
				 bad[k].msg, r, err.message);
		assert_null(doc);
		/* A failed render leaves the surface alone... */
		assert_int_equal(pt_px(&s, 640, 400), 0x5a5a5a5au);
		/* ...for the error page, which shows the reason. */
		assert_int_equal(page_render_error(engine(state), &s, bad[k].file, err.message), 0);
		assert_true(pt_count_not(&s, 0, 200, 1280, 400, 0xfff8f9fau) > 1000);
	}
	pt_save(&s, "bad-last");
	pt_surface_free(&s);
}

static char *repeat(const char *head, const char *unit, size_t times, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *b = malloc(hl + ul * times + tl + 1), *p = b;

	assert_non_null(b);
	memcpy(p, head, hl);
	p += hl;
	for (size_t k = 0; k < times; k++, p += ul)
		memcpy(p, unit, ul);
	memcpy(p, tail, tl + 1);
	return b;
}

static void test_limits(void **state)
{
	char *s;

	/* Exactly at the input limit is fine; one byte more is not. */
	s = repeat("", " ", PAGE_MAX_INPUT_BYTES, "");
	memcpy(s, "<p>x<!--", 8);
	memcpy(s + PAGE_MAX_INPUT_BYTES - 3, "-->", 3);
	expect_error(state, s, PAGE_MAX_INPUT_BYTES, 0, "");
	expect_error(state, s, PAGE_MAX_INPUT_BYTES + 1, -EFBIG, "page is 1048577 bytes");
	free(s);

	s = repeat("<p>", "x", PAGE_MAX_TEXT_BYTES + 1, "</p>");
	expect_error(state, s, strlen(s), -EFBIG, "line 1: text run longer than 65536 bytes");
	free(s);
	/* The same text split by a comment is still one run. */
	s = repeat("<p>", "xxxxxxxx<!---->", PAGE_MAX_TEXT_BYTES / 8 + 1, "</p>");
	expect_error(state, s, strlen(s), -EFBIG, "text run longer than 65536 bytes");
	free(s);

	s = repeat("<title>", "t", PAGE_MAX_TITLE_BYTES + 1, "</title>");
	expect_error(state, s, strlen(s), -EFBIG, "line 1: title longer than 256 bytes");
	free(s);
	s = repeat("<title>", "t", PAGE_MAX_TITLE_BYTES, "</title>");
	expect_error(state, s, strlen(s), 0, "");
	free(s);

	s = repeat("<p style=\"", "a", PAGE_MAX_ATTR_BYTES + 1, "\">x");
	expect_error(state, s, strlen(s), -EFBIG, "line 1: value of style= in <p> longer than 1024 bytes");
	free(s);
	s = repeat("<p", " a=1", PAGE_MAX_ATTRS + 1, ">");
	expect_error(state, s, strlen(s), -E2BIG, "line 1: more than 16 attributes in <p>");
	free(s);

	s = repeat("", "<b>", PAGE_MAX_DEPTH, "x");
	expect_error(state, s, strlen(s), 0, "");
	free(s);
	s = repeat("", "<b>", PAGE_MAX_DEPTH + 1, "x");
	expect_error(state, s, strlen(s), -E2BIG, "elements nested more than 32 deep");
	free(s);
	/* Closed siblings do not nest, however many there are; they only count. */
	s = repeat("", "<b></b>", PAGE_MAX_NODES, "");
	expect_error(state, s, strlen(s), 0, "");
	free(s);
	s = repeat("", "<b></b>", PAGE_MAX_NODES + 1, "");
	expect_error(state, s, strlen(s), -E2BIG, "line 1: more than 10000 elements and text runs");
	free(s);

	s = repeat("", "<a href=x.html>x</a> ", PAGE_MAX_LINKS + 1, "");
	expect_error(state, s, strlen(s), -E2BIG, "more than 1024 links");
	free(s);
	/* Many references to one image decode it once, but each counts. */
	s = repeat("", "<img src=img/checker.png width=1>", PAGE_MAX_IMAGES, "");
	expect_error(state, s, strlen(s), 0, "");
	free(s);
	s = repeat("", "<img src=img/checker.png width=1>", PAGE_MAX_IMAGES + 1, "");
	expect_error(state, s, strlen(s), -E2BIG, "line 1: more than 64 images");
	free(s);

	expect_error(state, "<box width=4097>", 16, -EINVAL, "invalid width \"4097\" in <box> (0 to 4096 pixels)");
	expect_error(state, "<img src=img/gray.png height=4096>", 34, -EFBIG,
		     "image \"img/gray.png\" would be drawn 16384x4096 pixels, the limit is 4096x4096");
	expect_error(state, "<img src=img/logo.png width=0>", 30, -EINVAL, "width and height must be at least 1");
	expect_error(state, "<img>", 5, -EINVAL, "line 1: <img> without src");
	expect_error(state, "<img src=/etc/passwd>", 21, -EINVAL, "invalid image path \"/etc/passwd\"");
	expect_error(state, "<img src=\"file:x.png\">", 22, -EINVAL, "invalid image path");
	expect_error(state, "<img src=\"a/./b.png\">", 21, -EINVAL, "invalid image path");
	expect_error(state, "<a href=\"two words\">x</a>", 25, -EINVAL, "invalid link target \"two words\"");
	expect_error(state, "<p>\x01</p>", 8, -EILSEQ, "control character 0x01 at offset 3");
	expect_error(state, "<p>\xc0\x80</p>", 9, -EILSEQ, "invalid UTF-8 at offset 3");   /* overlong NUL */
	expect_error(state, "<p>\xed\xa0\x80</p>", 10, -EILSEQ, "invalid UTF-8 at offset 3"); /* surrogate */
	expect_error(state, "<p>\xf4\x90\x80\x80</p>", 11, -EILSEQ, "invalid UTF-8"); /* > U+10FFFF */
	expect_error(state, "<p>\xe2\x82</p>", 9, -EILSEQ, "invalid UTF-8");        /* truncated */
	expect_error(state, "x &#xD800; y", 12, -EILSEQ, "invalid character reference &#xD800;");
	expect_error(state, "x &#1114112; y", 14, -EILSEQ, "invalid character reference");
	expect_error(state, "x &#99999999999; y", 18, -EILSEQ, "invalid character reference");
	expect_error(state, "<p", 2, -EINVAL, "line 1: unterminated tag <p>");
	expect_error(state, "<p a=", 5, -EINVAL, "unterminated tag <p>");
	expect_error(state, "</p", 3, -EINVAL, "unterminated tag </p>");
	expect_error(state, "</p x>", 6, -EINVAL, "malformed end tag </p> (unexpected 'x')");
	expect_error(state, "<p \"x\">", 7, -EINVAL, "malformed attribute in <p> (unexpected '\"')");
	expect_error(state, "<title>x", 8, -EINVAL, "unterminated <title>");
	expect_error(state, "<!DOCTYPE html", 14, -EINVAL, "unterminated <!");
	expect_error(state, "<verylongtagnamethatgoesonandon>", 32, -EINVAL, "unsupported tag <verylongtagnamet...>");
	expect_error(state, "<table>", 7, -EINVAL, "line 1: unsupported tag <table>");
	expect_error(state, "\n\n</blink>", 10, -EINVAL, "line 3: unsupported tag </blink>");
	expect_error(state, "<p color=\"#ff\">x", 16, -EINVAL, "invalid color \"#ff\" in <p>");
	expect_error(state, "<div style=\"width: 10em\">", 25, -EINVAL, "invalid width \" 10em\" in <div>");
	expect_error(state, "<div style=\"nonsense\">", 22, -EINVAL, "invalid style \"nonsense\"");
}

static void test_forgiving(void **state)
{
	static const char *const ok[] = {
		"just text, no tags at all",
		"<p>unclosed paragraph<p>another one<li>stray item",
		"<P>UPPER <B>CASE</B> <A HREF=x.html>tags</A></P>",
		"a < b and c > d, 1 <2, <3 and <= too; < at the end <",
		"&unknown; &amp &#; &#x; & alone &#65 no semicolon",
		"<!DOCTYPE html><!-- comment --><?xml version=1.0?><html><head><meta charset=utf-8>"
		"<title>t</title></head><body><p>x</p></body></html>",
		"</p></div></ul></b> stray end tags are ignored",
		"<ul><li>one<li>two<ol><li>nested</ol><li>three</ul>",
		"<b><i>mis</b>nested</i> and <a href=a.html><a href=b.html>inner</a></a>",
		"<p>block <div>inside</div> paragraph</p><b>bold <h1>heading</h1> still bold</b>",
		"<box color=red width=50 height=50 /><box/><div style=\"background:teal;padding:4px;\">x</div>",
		"<img src=img/logo.png alt=\"an image\" width=\"10px\" title='single quotes'>",
		"<title>first</title><title>second is ignored</title>",
		"\xef\xbb\xbf<p>byte order mark</p>",
		"<p>\xef\xbf\xbd replacement character is valid text</p>",
		"<body bgcolor=#abc text=black><p>short colours</p></body><body>second body ignored",
		"<br><br/><br /><hr><hr color=#f00>",
		"<li>item outside a list</li><ol><li></li><li></li></ol>",
		"<p>\t\r\n\f whitespace \t of every kind</p>",
		"<p a b c=d e='f' g=\"h\">attributes without values</p>",
	};
	struct page_error err;

	for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++) {
		if (create_str(state, ok[k], strlen(ok[k]), 640, &err) != 0)
			fail_msg("\"%s\": %s", ok[k], err.message);
	}
}

static void test_title_whitespace(void **state)
{
	struct page_doc *doc;
	struct page_error err;
	const char *html = "<title>\n  Several   words\tand &amp; an\n entity  </title>";

	assert_int_equal(page_doc_create(engine(state), (const uint8_t *)html, strlen(html), NULL,
					 640, &doc, &err), 0);
	assert_string_equal(page_doc_title(doc), "Several words and & an entity");
	page_doc_destroy(doc);
	html = "<p>no title";
	assert_int_equal(page_doc_create(engine(state), (const uint8_t *)html, strlen(html), NULL,
					 640, &doc, &err), 0);
	assert_string_equal(page_doc_title(doc), "");
	page_doc_destroy(doc);
}

static void test_bad_arguments(void **state)
{
	struct page_doc *doc = (struct page_doc *)&doc;
	struct page_error err;
	struct page_fonts f = { (const uint8_t *)"not a font", 10, NULL, 0 };
	const uint8_t src[] = "<p>x";

	assert_int_equal(page_doc_create(NULL, src, 4, NULL, 100, &doc, &err), -EINVAL);
	assert_int_equal(page_doc_create(engine(state), src, 4, NULL, 0, &doc, &err), -EINVAL);
	assert_int_equal(page_doc_create(engine(state), src, 4, NULL, PAGE_MAX_SURFACE_DIM + 1, &doc,
					 &err), -EINVAL);
	assert_int_equal(page_doc_create(engine(state), NULL, 4, NULL, 100, &doc, &err), -EINVAL);
	assert_ptr_equal(doc, (struct page_doc *)&doc);  /* untouched on failure */
	/* A NULL error pointer is allowed. */
	assert_int_equal(page_doc_create(engine(state), src, 0, NULL, 100, &doc, NULL), -ENODATA);
	/* An image without a loader. */
	assert_int_equal(page_doc_create(engine(state), (const uint8_t *)"<img src=a.png>", 15, NULL,
					 100, &doc, &err), -ENOENT);
	assert_non_null(strstr(err.message, "no image loader"));

	assert_null(page_engine_create(&f, &err));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err.message, "regular font"));
	assert_null(page_engine_create(NULL, NULL));
	assert_int_equal(errno, EINVAL);
	page_engine_destroy(NULL);
	page_doc_destroy(NULL);
	assert_string_equal(page_doc_title(NULL), "");
	assert_int_equal(page_doc_link_at(NULL, 0, 0), -1);
	assert_int_equal(page_render_error(NULL, NULL, "t", "m"), -EINVAL);
}

/* ---- images against their limits, straight through the decoder ---- */

static uint8_t *encode(int w, int h, size_t *len)
{
	uint32_t *px = calloc((size_t)w * h, 4);
	uint8_t *png = NULL;

	assert_non_null(px);
	for (size_t k = 0; k < (size_t)w * h; k++)
		px[k] = 0xff00ff00u;
	assert_int_equal(bh_png_encode_argb(px, w, h, (size_t)w * 4, &png, len), 0);
	free(px);
	return png;
}

static void test_image_limits(void **state)
{
	struct page_image img;
	char msg[160];
	uint8_t *png;
	size_t len;

	(void)state;
	png = encode(4096, 1, &len);
	assert_int_equal(bh_png_decode(png, len, PAGE_MAX_IMAGE_DIM, PAGE_MAX_IMAGE_DECODED, &img, msg,
				       sizeof msg), 0);
	assert_int_equal(img.w, 4096);
	assert_int_equal(img.h, 1);
	assert_int_equal(img.px[4095], 0xff00ff00u);
	free(img.px);
	free(png);

	png = encode(4097, 1, &len);
	assert_int_equal(bh_png_decode(png, len, PAGE_MAX_IMAGE_DIM, PAGE_MAX_IMAGE_DECODED, &img, msg,
				       sizeof msg), -EFBIG);
	assert_string_equal(msg, "image is 4097x1 pixels, the limit is 4096x4096");
	free(png);

	/* 2048x2049x4 is just over 16 MiB. */
	png = encode(2048, 2049, &len);
	assert_int_equal(bh_png_decode(png, len, PAGE_MAX_IMAGE_DIM, PAGE_MAX_IMAGE_DECODED, &img, msg,
				       sizeof msg), -EFBIG);
	assert_non_null(strstr(msg, "16785408 bytes decoded, the limit is 16777216 bytes"));
	free(png);

	/* Every prefix of a valid PNG fails cleanly. */
	png = encode(40, 30, &len);
	for (size_t cut = 0; cut < len; cut++) {
		int r = bh_png_decode(png, cut, PAGE_MAX_IMAGE_DIM, PAGE_MAX_IMAGE_DECODED, &img, msg,
				      sizeof msg);

		if (r == 0) {
			/* Only a cut inside the trailing IEND chunk may still decode. */
			assert_true(cut >= len - 12);
			free(img.px);
		} else {
			assert_int_equal(r, -EBADMSG);
		}
	}
	free(png);
}

struct big_file {
	uint8_t *buf;
	int released;
};

static int big_load(void *ud, const char *path, const uint8_t **data, size_t *len)
{
	(void)path;
	*data = ((struct big_file *)ud)->buf;
	*len = PAGE_MAX_IMAGE_FILE + 1;
	return 0;
}

static void big_release(void *ud, const char *path, const uint8_t *data, size_t len)
{
	(void)path;
	(void)data;
	(void)len;
	((struct big_file *)ud)->released++;
}

/* A loader that hands out a file over the size limit: refused before decoding, still released. */
static void test_image_file_limit(void **state)
{
	struct big_file b = { calloc(PAGE_MAX_IMAGE_FILE + 1, 1), 0 };
	struct page_loader ld = { big_load, big_release, &b };
	struct page_doc *doc;
	struct page_error err;
	const char *html = "<img src=big.png>";

	assert_non_null(b.buf);
	assert_int_equal(page_doc_create(engine(state), (const uint8_t *)html, strlen(html), &ld, 640,
					 &doc, &err), -EFBIG);
	assert_string_equal(err.message,
			    "line 1: image \"big.png\" is a 8388609-byte file, the limit is 8388608 bytes");
	assert_int_equal(b.released, 1);
	free(b.buf);
}

/* ---- fuzz-ish: bounded, deterministic ---- */

static uint32_t rnd_next(uint64_t *s)
{
	/* xorshift64*: reproducible across libcs, unlike rand(). */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (uint32_t)((*s * 2685821657736338717ull) >> 32);
}

/* Returns 1 if the input was accepted (and painted), 0 if refused cleanly. */
static int run_one(void **state, const uint8_t *buf, size_t len, struct page_surface *s)
{
	struct pt_loader l;
	struct page_loader ld = pt_loader_for(&l, "pages");
	struct page_doc *doc = NULL;
	struct page_error err;
	int r = page_doc_create(engine(state), buf, len, &ld, s->width, &doc, &err);

	assert_int_equal(l.loads, l.releases);
	if (r == 0) {
		assert_int_equal(page_doc_paint(engine(state), doc, s, 0), 0);
		assert_int_equal(page_doc_paint(engine(state), doc, s, page_doc_height(doc) / 2), 0);
		for (size_t k = 0; k < page_doc_link_count(doc); k++)
			assert_non_null(page_doc_link(doc, k)->text);
		page_doc_destroy(doc);
		return 1;
	} else {
		assert_true(r < 0);
		assert_int_equal(err.code, r);
		assert_true(err.message[0] != '\0');
		assert_int_equal(page_render_error(engine(state), s, "fuzz", err.message), 0);
		return 0;
	}
}

static void test_fuzz_random_bytes(void **state)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	uint8_t buf[600];
	struct page_surface s;

	int accepted = 0;

	pt_surface_init(&s, 160, 120);
	for (int iter = 0; iter < 3000; iter++) {
		size_t len = rnd_next(&seed) % sizeof buf;
		/* Mostly printable, so the parser gets past the binary check. */
		bool text = iter % 4 != 0;

		for (size_t k = 0; k < len; k++) {
			uint32_t v = rnd_next(&seed);

			buf[k] = text ? (uint8_t)("<>/=\"' &#;abpbrliu1x\n"[v % 21]) : (uint8_t)v;
		}
		accepted += run_one(state, buf, len, &s);
	}
	/* Both paths are exercised: some inputs get as far as layout and paint. */
	assert_true(accepted > 100 && accepted < 2900);
	pt_surface_free(&s);
}

static void test_fuzz_tag_soup(void **state)
{
	static const char *const tokens[] = {
		"<p>", "</p>", "<b>", "</b>", "<i>", "</i>", "<u>", "<a href=links.html>", "</a>",
		"<h1>", "</h1>", "<h2>", "<h3>", "<ul>", "</ul>", "<ol>", "</ol>", "<li>", "</li>",
		"<br>", "<hr>", "<div style=\"background:#123456;width:50px;padding:3px\">", "</div>",
		"<box color=#ff0000 width=20 height=5>", "</box>", "<img src=img/checker.png>",
		"<img src=img/alpha.png width=7>", "<img src=img/logo.png height=3>", "<span color=red>",
		"</span>", "word ", "longerwordwithoutspaces", " ", "\n", "&amp;", "&#233;", "\xc3\xa9",
		"<title>soup</title>", "<body bgcolor=#eeeeee>", "<!-- c -->", "<", "&", "\xe2\x80\xa2",
	};
	uint64_t seed = 12345;
	char buf[4096];
	struct page_surface s;
	const int ntok = (int)(sizeof tokens / sizeof tokens[0]);
	int accepted = 0;

	pt_surface_init(&s, 240, 160);
	for (int iter = 0; iter < 3000; iter++) {
		size_t len = 0, n = rnd_next(&seed) % 120;

		for (size_t k = 0; k < n; k++) {
			const char *t = tokens[rnd_next(&seed) % (uint32_t)ntok];
			size_t tl = strlen(t);

			if (len + tl >= sizeof buf)
				break;
			memcpy(buf + len, t, tl);
			len += tl;
		}
		/* Widths from 1 pixel up shake out the wrapping corner cases. */
		s.width = 1 + (int)(rnd_next(&seed) % 240);
		accepted += run_one(state, (const uint8_t *)buf, len, &s);
	}
	assert_true(accepted > 1000);
	pt_surface_free(&s);
}

static void test_fuzz_mutated_samples(void **state)
{
	static const char *const files[] = { "index.html", "text.html",   "lists.html",
					     "boxes.html", "images.html", "links.html",
					     "colors.html", "unicode.html", "about.html" };
	uint64_t seed = 777;
	struct page_surface s;
	int accepted = 0;

	pt_surface_init(&s, 320, 200);
	for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
		char path[512];
		size_t len = 0;
		uint8_t *orig, *buf;

		pt_src_path(path, sizeof path, "pages");
		strcat(path, "/");
		strcat(path, files[f]);
		orig = pt_read_file(path, &len);
		assert_non_null(orig);
		buf = malloc(len * 2 + 64);
		assert_non_null(buf);
		for (int iter = 0; iter < 300; iter++) {
			size_t n = len, muts = 1 + rnd_next(&seed) % 8;

			memcpy(buf, orig, len);
			for (size_t m = 0; m < muts && n > 0; m++) {
				size_t at = rnd_next(&seed) % n, span = 1 + rnd_next(&seed) % 16;
				uint32_t kind = rnd_next(&seed) % 5;

				if (span > n - at)
					span = n - at;
				switch (kind) {
				case 0:  /* flip a byte */
					buf[at] ^= (uint8_t)(1u << (rnd_next(&seed) % 8));
					break;
				case 1:  /* delete a span */
					memmove(buf + at, buf + at + span, n - at - span);
					n -= span;
					break;
				case 2:  /* duplicate a span */
					if (n + span <= len * 2 + 64) {
						memmove(buf + at + span, buf + at, n - at);
						n += span;
					}
					break;
				case 3:  /* a markup character */
					buf[at] = (uint8_t)"<>\"'=&;/"[rnd_next(&seed) % 8];
					break;
				default: /* cut short */
					n = at;
					break;
				}
			}
			accepted += run_one(state, buf, n, &s);
		}
		free(buf);
		free(orig);
	}
	assert_true(accepted > 200);
	pt_surface_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_pages),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_forgiving),
		cmocka_unit_test(test_title_whitespace),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_image_limits),
		cmocka_unit_test(test_image_file_limit),
		cmocka_unit_test(test_fuzz_random_bytes),
		cmocka_unit_test(test_fuzz_tag_soup),
		cmocka_unit_test(test_fuzz_mutated_samples),
	};

	bh_test_deadline(280);
	return cmocka_run_group_tests_name("page_parse", tests, pt_setup, pt_teardown);
}
