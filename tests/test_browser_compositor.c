/*
 * The gpu's compositor core, without processes: the active tab's frame is
 * copied exactly, only damaged regions are drawn again, each output slot
 * catches up with what it missed, the strip shows titles, the overview
 * shows every tab, sad pictures replace dead tabs. The overview caches
 * thumbnails and labels and redraws only what changed: after any sequence of
 * changes its output must equal a fresh compositor's full drawing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/compositor.h"
#include "test_page_util.h"

#define W 320
#define H 240
#define STRIP 32
#define CH (H - STRIP)

static uint32_t *picture(uint32_t color)
{
	uint32_t *p = malloc((size_t)W * CH * 4);

	assert_non_null(p);
	for (size_t i = 0; i < (size_t)W * CH; i++)
		p[i] = color;
	return p;
}

static struct comp_tab tab(uint32_t id, const char *title, enum comp_kind kind)
{
	struct comp_tab t;

	memset(&t, 0, sizeof t);
	t.id = id;
	snprintf(t.title, sizeof t.title, "%s", title);
	t.kind = kind;
	return t;
}

static void test_copy_and_damage(void **state)
{
	struct compositor *c = comp_create(W, H, STRIP, 2, NULL);
	uint32_t *out[2], *a = picture(0xff112233u), *b = picture(0xff445566u);
	struct comp_tab tabs[2] = { tab(1, "one", COMP_CONTENT), tab(2, "two", COMP_CONTENT) };
	struct comp_frame fa = { a, W * 4 }, fb = { b, W * 4 };
	struct comp_rect d, small = { 10, 20, 30, 40 };
	uint64_t bytes;

	assert_non_null(c);
	assert_int_equal(comp_content_width(c), W);
	assert_int_equal(comp_content_height(c), CH);
	out[0] = calloc((size_t)W * H, 4);
	out[1] = calloc((size_t)W * H, 4);
	assert_int_equal(comp_set_scene(c, tabs, 2, 1, 0), 0);
	assert_int_equal(comp_set_frame(c, 1, &fa, NULL), 0);
	assert_int_equal(comp_set_frame(c, 2, &fb, NULL), 0);
	assert_true(comp_has_damage(c));
	assert_int_equal(comp_draw(c, 0, out[0], W * 4, &d, &bytes), 0);
	assert_int_equal(d.w, W);
	assert_int_equal(d.h, H);
	assert_int_equal(out[0][(size_t)(STRIP + 5) * W + 7], 0xff112233u);
	assert_int_equal(out[0][(size_t)(H - 1) * W + W - 1], 0xff112233u);
	assert_false(comp_has_damage(c));

	/* A background tab's new frame costs nothing. */
	assert_int_equal(comp_set_frame(c, 2, &fb, NULL), 0);
	assert_false(comp_has_damage(c));

	/* A small change of the active tab: only that rectangle, in window coordinates. */
	a[(size_t)25 * W + 15] = 0xffabcdefu;
	assert_int_equal(comp_set_frame(c, 1, &fa, &small), 0);
	assert_true(comp_has_damage(c));
	/* Slot 1 never got the first frame: it catches up in full. */
	assert_int_equal(comp_draw(c, 1, out[1], W * 4, &d, &bytes), 0);
	assert_int_equal(d.x, 10);
	assert_int_equal(d.y, STRIP + 20);
	assert_int_equal(d.w, 30);
	assert_int_equal(d.h, 40);
	assert_int_equal(out[1][(size_t)(STRIP + 25) * W + 15], 0xffabcdefu);
	assert_int_equal(out[1][(size_t)(H - 1) * W + W - 1], 0xff112233u);
	assert_true(bytes >= (uint64_t)W * H * 4);
	/* Slot 0 only misses the small rectangle. */
	assert_int_equal(comp_draw(c, 0, out[0], W * 4, &d, &bytes), 0);
	assert_int_equal(bytes, 30 * 40 * 4);
	assert_int_equal(out[0][(size_t)(STRIP + 25) * W + 15], 0xffabcdefu);

	/* Switching tabs redraws the content and the strip. */
	assert_int_equal(comp_set_scene(c, tabs, 2, 2, 0), 0);
	assert_int_equal(comp_draw(c, 1, out[1], W * 4, &d, &bytes), 0);
	assert_int_equal(out[1][(size_t)(STRIP + 5) * W + 7], 0xff445566u);
	assert_int_equal(d.h, H);

	/* The overview shows both pictures, scaled. */
	assert_int_equal(comp_set_scene(c, tabs, 2, 2, 1), 0);
	assert_int_equal(comp_draw(c, 0, out[0], W * 4, &d, &bytes), 0);
	{
		unsigned na = 0, nb = 0;

		for (size_t i = (size_t)STRIP * W; i < (size_t)W * H; i++) {
			na += out[0][i] == 0xff112233u;
			nb += out[0][i] == 0xff445566u;
		}
		assert_true(na > 1000 && nb > 1000);
	}
	/*
	 * Thumbnails are cached per tab: a tab's new picture, even in the same
	 * buffer, must replace its thumbnail, and the other tab's must stay.
	 */
	for (size_t i = 0; i < (size_t)W * CH; i++)
		a[i] = 0xff778899u;
	assert_int_equal(comp_set_frame(c, 1, &fa, NULL), 0);
	assert_true(comp_has_damage(c));
	assert_int_equal(comp_draw(c, 0, out[0], W * 4, &d, &bytes), 0);
	{
		unsigned na = 0, nb = 0, stale = 0;

		for (size_t i = (size_t)STRIP * W; i < (size_t)W * H; i++) {
			na += out[0][i] == 0xff778899u;
			nb += out[0][i] == 0xff445566u;
			stale += out[0][i] == 0xff112233u;
		}
		assert_true(na > 1000 && nb > 1000);
		assert_int_equal(stale, 0);
	}
	/* A tab that leaves the scene and comes back is scaled afresh. */
	assert_int_equal(comp_set_scene(c, &tabs[1], 1, 2, 1), 0);
	assert_int_equal(comp_draw(c, 0, out[0], W * 4, &d, &bytes), 0);
	assert_int_equal(comp_set_scene(c, tabs, 2, 2, 1), 0);
	assert_int_equal(comp_set_frame(c, 1, &fa, NULL), 0);
	assert_int_equal(comp_draw(c, 0, out[0], W * 4, &d, &bytes), 0);
	{
		unsigned na = 0;

		for (size_t i = (size_t)STRIP * W; i < (size_t)W * H; i++)
			na += out[0][i] == 0xff778899u;
		assert_true(na > 1000);
	}
	comp_destroy(c);
	free(a);
	free(b);
	free(out[0]);
	free(out[1]);
}

static void test_sad_and_blank(void **state)
{
	struct compositor *c = comp_create(W, H, STRIP, 1, NULL);
	uint32_t *out = calloc((size_t)W * H, 4), *sad = picture(0xff35363au), *a = picture(0xff010203u);
	struct comp_tab t = tab(7, "dead", COMP_SAD);
	struct comp_frame fs = { sad, W * 4 }, fa = { a, W * 4 };
	enum comp_kind k;

	assert_int_equal(comp_set_scene(c, &t, 1, 7, 0), 0);
	assert_int_equal(comp_tab_kind(c, 7, &k), 0);
	assert_int_equal(k, COMP_BLANK); /* no sad picture yet */
	assert_int_equal(comp_set_sad(c, 7, &fs), 0);
	assert_int_equal(comp_set_frame(c, 7, &fa, NULL), 0);
	assert_int_equal(comp_tab_kind(c, 7, &k), 0);
	assert_int_equal(k, COMP_SAD);
	assert_int_equal(comp_draw(c, 0, out, W * 4, NULL, NULL), 0);
	assert_int_equal(out[(size_t)(STRIP + 50) * W + 50], 0xff35363au);
	/* Recovered: the frame shows. */
	t.kind = COMP_CONTENT;
	assert_int_equal(comp_set_scene(c, &t, 1, 7, 0), 0);
	assert_int_equal(comp_draw(c, 0, out, W * 4, NULL, NULL), 0);
	assert_int_equal(out[(size_t)(STRIP + 50) * W + 50], 0xff010203u);
	assert_int_equal(comp_tab_kind(c, 99, &k), -ENOENT);
	assert_int_equal(comp_set_frame(c, 99, &fa, NULL), -ENOENT);
	/* Bad geometry is refused. */
	assert_null(comp_create(10, 10, 32, 2, NULL));
	assert_null(comp_create(W, H, STRIP, 0, NULL));
	assert_int_equal(comp_draw(c, 3, out, W * 4, NULL, NULL), -EINVAL);
	comp_destroy(c);
	comp_destroy(NULL);
	free(out);
	free(sad);
	free(a);
}

/* ---- the overview, with text ------------------------------------------------ */

#define OW 640
#define OH 400
#define OCH (OH - STRIP)
#define SENTINEL 0x00000000u /* every colour the compositor draws is opaque */
#define COL_ACCENT 0xff1a73e8u
#define COL_OVERVIEW 0xff3c4043u

/* A picture where neighbouring pixels differ, so that a wrong sample shows. */
static uint32_t *pattern(uint32_t seed)
{
	uint32_t *p = malloc((size_t)OW * OCH * 4);

	assert_non_null(p);
	for (size_t y = 0; y < OCH; y++)
		for (size_t x = 0; x < OW; x++)
			p[y * OW + x] = 0xff000000u | ((seed * 0x9e3779b1u + (uint32_t)(x * 7 + y * 131)) & 0xffffffu);
	return p;
}

struct scene {
	struct comp_tab tabs[8];
	uint32_t *pics[8];
	size_t n;
	uint32_t active;
};

static void scene_init(struct scene *sc, size_t n)
{
	memset(sc, 0, sizeof *sc);
	sc->n = n;
	sc->active = 1;
	for (size_t i = 0; i < n; i++) {
		char title[64];

		snprintf(title, sizeof title, "Page %zu of the overview", i + 1);
		sc->tabs[i] = tab((uint32_t)i + 1, title, COMP_CONTENT);
		sc->pics[i] = pattern((uint32_t)i + 1);
	}
}

static void scene_free(struct scene *sc)
{
	for (size_t i = 0; i < sc->n; i++)
		free(sc->pics[i]);
}

static void scene_apply(struct compositor *c, const struct scene *sc)
{
	assert_int_equal(comp_set_scene(c, sc->tabs, sc->n, sc->active, 1), 0);
	for (size_t i = 0; i < sc->n; i++) {
		struct comp_frame f = { sc->pics[i], OW * 4 };

		assert_int_equal(comp_set_frame(c, sc->tabs[i].id, &f, NULL), 0);
	}
}

/* What a compositor that never drew before shows for the scene. */
static uint32_t *fresh(struct page_engine *e, const struct scene *sc)
{
	struct compositor *c = comp_create(OW, OH, STRIP, 1, e);
	uint32_t *out = malloc((size_t)OW * OH * 4);

	assert_non_null(c);
	assert_non_null(out);
	scene_apply(c, sc);
	assert_int_equal(comp_draw(c, 0, out, OW * 4, NULL, NULL), 0);
	comp_destroy(c);
	return out;
}

static void assert_same_at(const uint32_t *a, const uint32_t *b, int line)
{
	for (size_t i = 0; i < (size_t)OW * OH; i++)
		if (a[i] != b[i])
			fail_msg("line %d: pixel (%zu, %zu) is %08x, expected %08x", line, i % OW, i / OW, a[i], b[i]);
}

#define assert_same(a, b) assert_same_at(a, b, __LINE__)

static uint32_t px(const uint32_t *out, int x, int y)
{
	return out[(size_t)y * OW + (size_t)x];
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The thumbnail in `cell`: down the cell's middle column, the rows showing
 * pixels of the tab's picture.
 */
static void find_thumb(const uint32_t *out, struct comp_rect cell, const uint32_t *pic, int *top, int *bottom)
{
	uint32_t *sorted = malloc((size_t)OW * OCH * 4);
	int x = cell.x + cell.w / 2;

	assert_non_null(sorted);
	memcpy(sorted, pic, (size_t)OW * OCH * 4);
	qsort(sorted, (size_t)OW * OCH, 4, cmp_u32);
	*top = *bottom = -1;
	for (int y = cell.y; y < cell.y + cell.h; y++) {
		uint32_t v = px(out, x, y);

		if (!bsearch(&v, sorted, (size_t)OW * OCH, 4, cmp_u32))
			continue;
		if (*top < 0)
			*top = y;
		*bottom = y;
	}
	free(sorted);
	assert_true(*top > cell.y && *bottom > *top);
}

static void test_overview_layout(void **state)
{
	struct pt_state *pt = *state;

	for (size_t n = 1; n <= 8; n++) {
		struct compositor *c = comp_create(OW, OH, STRIP, 1, pt->engine);
		uint32_t *out = malloc((size_t)OW * OH * 4);
		struct scene sc;
		uint64_t bytes;

		assert_non_null(c);
		assert_non_null(out);
		for (size_t i = 0; i < (size_t)OW * OH; i++)
			out[i] = SENTINEL;
		scene_init(&sc, n);
		scene_apply(c, &sc);
		assert_int_equal(comp_draw(c, 0, out, OW * 4, NULL, &bytes), 0);
		/* Every pixel of the window is drawn... */
		for (size_t i = 0; i < (size_t)OW * OH; i++)
			if (out[i] == SENTINEL)
				fail_msg("%zu tabs: pixel (%zu, %zu) not drawn", n, i % OW, i / OW);
		/* ...and, with thumbnails and labels cached, the content area exactly once. */
		comp_damage_all(c);
		assert_int_equal(comp_draw(c, 0, out, OW * 4, NULL, &bytes), 0);
		assert_true(bytes >= (uint64_t)OW * OH * 4);
		assert_true(bytes < (uint64_t)OW * OH * 4 + (uint64_t)OW * STRIP * 4);
		for (size_t i = 0; i < n; i++) {
			struct comp_rect cell = comp_tab_rect(c, sc.tabs[i].id);
			int top, bottom, x = cell.x + cell.w / 2, text = 0;

			assert_true(cell.w > 0 && cell.h > 0);
			assert_int_equal(px(out, cell.x + 1, cell.y + 1), COL_OVERVIEW);
			find_thumb(out, cell, sc.pics[i], &top, &bottom);
			/* A three-pixel ring: the accent around the active tab only. */
			for (int k = 1; k <= 3; k++) {
				assert_int_equal(px(out, x, top - k), i == 0 ? COL_ACCENT : COL_OVERVIEW);
				assert_int_equal(px(out, x, bottom + k), i == 0 ? COL_ACCENT : COL_OVERVIEW);
			}
			assert_int_equal(px(out, x, top - 4), COL_OVERVIEW);
			/* The title under it. */
			for (int y = bottom + 4; y < bottom + 22 && y < cell.y + cell.h; y++)
				for (int xx = cell.x; xx < cell.x + cell.w; xx++)
					text += px(out, xx, y) != COL_OVERVIEW;
			assert_true(text > 20);
		}
		scene_free(&sc);
		free(out);
		comp_destroy(c);
	}
}

static void test_overview_updates(void **state)
{
	struct pt_state *pt = *state;
	struct compositor *c = comp_create(OW, OH, STRIP, 2, pt->engine);
	uint32_t *out[2], *before = malloc((size_t)OW * OH * 4), *want;
	struct scene sc;
	struct comp_rect d, cell, small = { 200, 100, 20, 10 };
	uint64_t bytes;

	assert_non_null(c);
	assert_non_null(before);
	out[0] = calloc((size_t)OW * OH, 4);
	out[1] = calloc((size_t)OW * OH, 4);
	scene_init(&sc, 4);
	scene_apply(c, &sc);
	assert_int_equal(comp_draw(c, 0, out[0], OW * 4, NULL, NULL), 0);
	assert_int_equal(comp_draw(c, 1, out[1], OW * 4, NULL, NULL), 0);
	want = fresh(pt->engine, &sc);
	assert_same(out[0], want);
	assert_same(out[1], want);
	free(want);

	/* A small change of tab 2: only the part of its thumbnail that samples it is drawn. */
	memcpy(before, out[0], (size_t)OW * OH * 4);
	for (int y = small.y; y < small.y + small.h; y++)
		for (int x = small.x; x < small.x + small.w; x++)
			sc.pics[1][(size_t)y * OW + (size_t)x] ^= 0x00ffffffu;
	{
		struct comp_frame f = { sc.pics[1], OW * 4 };

		assert_int_equal(comp_set_frame(c, 2, &f, &small), 0);
	}
	cell = comp_tab_rect(c, 2);
	assert_int_equal(comp_draw(c, 0, out[0], OW * 4, &d, &bytes), 0);
	assert_true(d.w > 0 && d.h > 0);
	assert_true(d.x >= cell.x && d.y >= cell.y && d.x + d.w <= cell.x + cell.w &&
		    d.y + d.h <= cell.y + cell.h);
	assert_true(d.w < 20 && d.h < 10);
	assert_true(bytes <= (uint64_t)d.w * d.h * 4 * 2);
	for (int y = 0; y < OH; y++)
		for (int x = 0; x < OW; x++)
			if (x < d.x || x >= d.x + d.w || y < d.y || y >= d.y + d.h)
				assert_int_equal(px(out[0], x, y), px(before, x, y));
	want = fresh(pt->engine, &sc);
	assert_same(out[0], want);

	/* A new title: the strip and that tab's label are drawn again; slot 1 catches up too. */
	snprintf(sc.tabs[2].title, sizeof sc.tabs[2].title, "Renamed");
	memcpy(before, out[0], (size_t)OW * OH * 4);
	assert_int_equal(comp_set_scene(c, sc.tabs, sc.n, sc.active, 1), 0);
	assert_int_equal(comp_draw(c, 0, out[0], OW * 4, &d, &bytes), 0);
	free(want);
	want = fresh(pt->engine, &sc);
	assert_same(out[0], want);
	assert_true(memcmp(before, out[0], (size_t)OW * OH * 4) != 0);
	assert_int_equal(comp_draw(c, 1, out[1], OW * 4, &d, &bytes), 0);
	assert_same(out[1], want);

	/* Another tab becomes active: the ring moves. */
	sc.active = 3;
	assert_int_equal(comp_set_scene(c, sc.tabs, sc.n, sc.active, 1), 0);
	assert_int_equal(comp_draw(c, 0, out[0], OW * 4, NULL, NULL), 0);
	free(want);
	want = fresh(pt->engine, &sc);
	assert_same(out[0], want);

	/* Changes while the overview is hidden still reach its cached thumbnails. */
	assert_int_equal(comp_set_scene(c, sc.tabs, sc.n, sc.active, 0), 0);
	assert_int_equal(comp_draw(c, 0, out[0], OW * 4, NULL, NULL), 0);
	for (int y = 0; y < 50; y++)
		for (int x = 300; x < 640; x++)
			sc.pics[0][(size_t)y * OW + (size_t)x] = 0xff00ff00u;
	{
		struct comp_frame f = { sc.pics[0], OW * 4 };
		struct comp_rect part = { 300, 0, 340, 50 };

		assert_int_equal(comp_set_frame(c, 1, &f, &part), 0);
	}
	assert_int_equal(comp_set_scene(c, sc.tabs, sc.n, sc.active, 1), 0);
	assert_int_equal(comp_draw(c, 0, out[0], OW * 4, NULL, NULL), 0);
	free(want);
	want = fresh(pt->engine, &sc);
	assert_same(out[0], want);

	/* Damage from a hostile renderer is clipped, never trusted. */
	{
		struct comp_frame f = { sc.pics[0], OW * 4 };
		struct comp_rect huge = { 0x7ffffff0, 0x7ffffff0, 0x7fffffff, 0x7fffffff };
		struct comp_rect neg = { -5, -5, -10, 30 };

		assert_int_equal(comp_set_frame(c, 1, &f, &huge), 0);
		assert_int_equal(comp_set_frame(c, 1, &f, &neg), 0);
		assert_false(comp_has_damage(c));
	}
	free(want);
	scene_free(&sc);
	free(before);
	free(out[0]);
	free(out[1]);
	comp_destroy(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_and_damage),
		cmocka_unit_test(test_sad_and_blank),
		cmocka_unit_test(test_overview_layout),
		cmocka_unit_test(test_overview_updates),
	};

	return cmocka_run_group_tests_name("compositor", tests, pt_setup, pt_teardown);
}
