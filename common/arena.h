/*
 * A bump allocator for decoding messages: reset before each message, so a
 * steady stream of messages allocates nothing. It grows (keeping the larger
 * block) up to a cap; a message needing more is refused, which bounds what a
 * hostile peer can make the receiver allocate.
 */
#ifndef BH_ARENA_H
#define BH_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bh_arena {
	uint8_t *block;
	size_t size, used;
	size_t cap;
	size_t want;     /* largest total a message asked for, to size the next block */
	uint64_t grows;
	ProtobufCAllocator allocator;
} bh_arena;

/* Initialises an empty arena that may grow to `cap` bytes. */
void bh__arena_init(bh_arena *a, size_t cap);
/* Frees the block. */
void bh__arena_fini(bh_arena *a);
/*
 * Forgets every allocation. If the last message overflowed the block,
 * allocates a block big enough for it (up to the cap). 0 or -ENOMEM.
 */
int bh__arena_reset(bh_arena *a);

/* True if the last decode failed only because the block was too small but the cap allows more. */
int bh__arena_can_grow(const bh_arena *a);

#endif
