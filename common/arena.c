#include <stdlib.h>

#include "common/arena.h"
#include "common/internal.h"

#define ARENA_INITIAL 16384u
#define ARENA_ALIGN 16u

static void *arena_alloc(void *ud, size_t size)
{
	bh_arena *a = ud;
	size_t need = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);

	if (need < size || need > a->cap - BH_MIN(a->cap, a->used)) {
		a->want = a->cap + 1;
		return NULL;
	}
	if (a->used + need > a->size) {
		/* Remember the demand so the next reset can size the block for it. */
		if (a->used + need > a->want)
			a->want = a->used + need;
		a->used += need;
		return NULL;
	}
	void *p = a->block + a->used;
	a->used += need;
	return p;
}

static void arena_free(void *ud, void *p)
{
	(void)ud;
	(void)p;
}

void bh__arena_init(bh_arena *a, size_t cap)
{
	*a = (bh_arena){ .cap = cap };
	a->allocator.alloc = arena_alloc;
	a->allocator.free = arena_free;
	a->allocator.allocator_data = a;
}

void bh__arena_fini(bh_arena *a)
{
	free(a->block);
	a->block = NULL;
	a->size = a->used = 0;
}

int bh__arena_reset(bh_arena *a)
{
	size_t size;
	uint8_t *b;

	a->used = 0;
	if (a->want <= a->size || a->want > a->cap) {
		/* Big enough already, or the message wanted more than the cap allows. */
		a->want = 0;
		if (a->block)
			return 0;
		size = BH_MIN(ARENA_INITIAL, a->cap);
	} else {
		size = a->size ? a->size : ARENA_INITIAL;
		while (size < a->want)
			size *= 2;
		size = BH_MIN(size, a->cap);
	}
	b = malloc(size);
	if (!b)
		return -ENOMEM;
	free(a->block);
	a->block = b;
	a->size = size;
	a->want = 0;
	a->grows++;
	return 0;
}

int bh__arena_can_grow(const bh_arena *a)
{
	return a->want > a->size && a->want <= a->cap;
}
