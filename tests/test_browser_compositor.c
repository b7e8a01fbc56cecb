/*
 * The gpu's compositor core, without processes: the active tab's frame is
 * copied exactly, only damaged regions are drawn again, each output slot
 * catches up with what it missed, the strip shows titles, the overview
 * shows every tab, sad pictures replace dead tabs.
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_and_damage),
		cmocka_unit_test(test_sad_and_blank),
	};

	return cmocka_run_group_tests_name("compositor", tests, NULL, NULL);
}
