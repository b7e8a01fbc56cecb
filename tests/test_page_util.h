/*
 * Helpers shared by the page engine tests (tests/test_page*.c). Include
 * after cmocka.h. Everything is static inline so a test file may use any
 * subset without unused-function warnings.
 *
 * The engine opens no files: these helpers read the fonts, pages and
 * images and hand it bytes, as the renderer process does after asking the
 * broker.
 */
#ifndef BH_TEST_PAGE_UTIL_H
#define BH_TEST_PAGE_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "renderer/page.h"
#include "renderer/png_write.h"

#define PT_FONT_DIR "/usr/share/fonts/truetype/dejavu"

static inline uint8_t *pt_read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *buf;
	size_t got = 0;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !(buf = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return NULL;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return buf;
}

/* Path of `rel` inside the source tree (BH_SOURCE_DIR, else the cwd's parent). */
static inline void pt_src_path(char *out, size_t outsz, const char *rel)
{
	const char *root = getenv("BH_SOURCE_DIR");

	if ((size_t)snprintf(out, outsz, "%s/%s", root && *root ? root : "..", rel) >= outsz)
		fail_msg("path too long: %s", rel);
}

/* Fonts and an engine, made once per test group. */
struct pt_state {
	uint8_t *regular, *bold;
	size_t regular_len, bold_len;
	struct page_engine *engine;
};

static inline int pt_setup(void **state)
{
	struct pt_state *s = calloc(1, sizeof *s);
	struct page_fonts f;
	struct page_error err;

	if (!s)
		return -1;
	s->regular = pt_read_file(PT_FONT_DIR "/DejaVuSans.ttf", &s->regular_len);
	s->bold = pt_read_file(PT_FONT_DIR "/DejaVuSans-Bold.ttf", &s->bold_len);
	if (!s->regular || !s->bold) {
		fprintf(stderr, "DejaVu fonts not found in " PT_FONT_DIR
			": apt-get install -y fonts-dejavu-core\n");
		return -1;
	}
	f.regular = s->regular;
	f.regular_len = s->regular_len;
	f.bold = s->bold;
	f.bold_len = s->bold_len;
	s->engine = page_engine_create(&f, &err);
	if (!s->engine) {
		fprintf(stderr, "page_engine_create: %s\n", err.message);
		return -1;
	}
	*state = s;
	return 0;
}

static inline int pt_teardown(void **state)
{
	struct pt_state *s = *state;

	if (s) {
		page_engine_destroy(s->engine);
		free(s->regular);
		free(s->bold);
		free(s);
	}
	return 0;
}

/*
 * A loader reading files beneath `dir`, counting loads and releases so
 * tests can check that every image handed out was given back.
 */
struct pt_loader {
	char dir[1024];
	int loads, releases;
};

static inline int pt_load(void *ud, const char *path, const uint8_t **data, size_t *len)
{
	struct pt_loader *l = ud;
	char full[2048];
	uint8_t *b;

	if ((size_t)snprintf(full, sizeof full, "%s/%s", l->dir, path) >= sizeof full)
		return -ENAMETOOLONG;
	b = pt_read_file(full, len);
	if (!b)
		return -errno;
	l->loads++;
	*data = b;
	return 0;
}

static inline void pt_release(void *ud, const char *path, const uint8_t *data, size_t len)
{
	struct pt_loader *l = ud;

	(void)path;
	(void)len;
	l->releases++;
	free((void *)data);
}

static inline struct page_loader pt_loader_for(struct pt_loader *l, const char *rel_dir)
{
	struct page_loader ld = { pt_load, pt_release, l };

	memset(l, 0, sizeof *l);
	pt_src_path(l->dir, sizeof l->dir, rel_dir);
	return ld;
}

static inline void pt_surface_init(struct page_surface *s, int w, int h)
{
	s->width = w;
	s->height = h;
	s->stride = (size_t)w * 4;
	s->pixels = calloc((size_t)w * h, 4);
	assert_non_null(s->pixels);
}

static inline void pt_surface_free(struct page_surface *s)
{
	free(s->pixels);
	s->pixels = NULL;
}

static inline uint32_t pt_px(const struct page_surface *s, int x, int y)
{
	return ((const uint32_t *)((const uint8_t *)s->pixels + (size_t)y * s->stride))[x];
}

/* Pixels in [x0,x1) x [y0,y1) that differ from `bg`. */
static inline int pt_count_not(const struct page_surface *s, int x0, int y0, int x1, int y1,
			       uint32_t bg)
{
	int n = 0;

	for (int y = y0; y < y1; y++)
		for (int x = x0; x < x1; x++)
			n += pt_px(s, x, y) != bg;
	return n;
}

/* With BH_PAGE_TEST_PNG set to a directory, saves the surface there for a look. */
static inline void pt_save(const struct page_surface *s, const char *name)
{
	const char *dir = getenv("BH_PAGE_TEST_PNG");
	char path[1024];
	int fd;

	if (!dir || !*dir)
		return;
	if ((size_t)snprintf(path, sizeof path, "%s/%s.png", dir, name) >= sizeof path)
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	assert_int_equal(bh_png_write_argb(fd, s->pixels, s->width, s->height, s->stride), 0);
	close(fd);
}

/*
 * Reads pages/<rel> and renders it into s; the loader resolves images
 * beside the page. Returns page_render()'s result; every loaded image must
 * have been released.
 */
static inline int pt_render_file(struct page_engine *e, const char *rel, const struct page_surface *s,
				 int scroll, struct page_doc **doc, struct page_error *err)
{
	char path[1024], dir[1024];
	struct pt_loader l;
	struct page_loader ld;
	const char *slash = strrchr(rel, '/');
	uint8_t *src;
	size_t len = 0;
	int r;

	if ((size_t)snprintf(dir, sizeof dir, "pages/%.*s", slash ? (int)(slash - rel) : 0, rel) >= sizeof dir ||
	    (size_t)snprintf(path, sizeof path, "pages/%s", rel) >= sizeof path)
		fail_msg("path too long: %s", rel);
	ld = pt_loader_for(&l, dir);
	{
		char full[1024];

		pt_src_path(full, sizeof full, path);
		src = pt_read_file(full, &len);
		if (!src)
			fail_msg("cannot read %s: %s", full, strerror(errno));
	}
	r = page_render(e, src, len, &ld, s, scroll, doc, err);
	assert_int_equal(l.loads, l.releases);
	free(src);
	return r;
}

#endif
