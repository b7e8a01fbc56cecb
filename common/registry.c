/* Message type registry: type id -> protobuf-c descriptor and fd allowance. */
#include <stdlib.h>
#include <string.h>

#include <bulkhead/protocol.h>

#include "bulkhead.pb-c.h"
#include "common/flat.h"
#include "common/internal.h"

/* What the registry keeps per type: the public rules, and the channel's fast-path plan. */
struct entry {
	bh_msg_type_info info;
	bh_flat *flat; /* NULL unless the type is flat */
};

struct bh_registry {
	struct entry *types; /* sorted by type */
	size_t len, cap;
};

static const bh_msg_type_info framework_types[] = {
	{ BH_MSG_HELLO, &bh__hello__descriptor, 0, 0 },
	{ BH_MSG_WELCOME, &bh__welcome__descriptor, 0, 0 },
	{ BH_MSG_ERROR, &bh__error__descriptor, 0, 0 },
	{ BH_MSG_HEARTBEAT, &bh__heartbeat__descriptor, 0, 0 },
	{ BH_MSG_SHUTDOWN, &bh__shutdown__descriptor, 0, 0 },
	{ BH_MSG_CRASH_REPORT, &bh__crash_report__descriptor, 0, 0 },
	{ BH_MSG_SETUP_FAILED, &bh__setup_failed__descriptor, 0, 0 },
	{ BH_MSG_SANDBOX_STATUS, &bh__sandbox_status__descriptor, 0, 0 },
	{ BH_MSG_FILE_OPEN, &bh__file_open__descriptor, 0, 0 },
	{ BH_MSG_FILE_OPENED, &bh__file_opened__descriptor, 1, 1 },
	{ BH_MSG_SHM_ALLOC, &bh__shm_alloc__descriptor, 0, 0 },
	{ BH_MSG_SHM_ALLOCATED, &bh__shm_allocated__descriptor, 1, 1 },
	{ BH_MSG_SURFACE_ATTACH, &bh__surface_attach__descriptor, 1, 1 },
	{ BH_MSG_SURFACE_DETACH, &bh__surface_detach__descriptor, 0, 0 },
	{ BH_MSG_FRAME_READY, &bh__frame_ready__descriptor, 0, 0 },
	{ BH_MSG_FRAME_RELEASE, &bh__frame_release__descriptor, 0, 0 },
	{ BH_MSG_ZYGOTE_SPAWN, &bh__zygote_spawn__descriptor, 2, 2 },
	{ BH_MSG_ZYGOTE_SPAWNED, &bh__zygote_spawned__descriptor, 1, 1 },
};

static int insert(bh_registry *reg, const bh_msg_type_info *info)
{
	size_t lo = 0, hi = reg->len;
	bh_flat *flat = NULL, plan;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (reg->types[mid].info.type < info->type)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < reg->len && reg->types[lo].info.type == info->type)
		return -EEXIST;
	if (reg->len == reg->cap) {
		size_t cap = reg->cap ? reg->cap * 2 : 32;
		struct entry *t = realloc(reg->types, cap * sizeof *t);

		if (!t)
			return -ENOMEM;
		reg->types = t;
		reg->cap = cap;
	}
	if (bh__flat_plan(info->desc, &plan)) {
		flat = malloc(sizeof *flat);
		if (!flat)
			return -ENOMEM;
		*flat = plan;
	}
	memmove(reg->types + lo + 1, reg->types + lo, (reg->len - lo) * sizeof *reg->types);
	reg->types[lo] = (struct entry){ .info = *info, .flat = flat };
	reg->len++;
	return 0;
}

int bh_registry_create(bh_registry **out)
{
	bh_registry *reg = calloc(1, sizeof *reg);
	int r = 0;

	if (!reg)
		return -ENOMEM;
	for (size_t i = 0; i < BH_ARRAY_SIZE(framework_types) && r == 0; i++)
		r = insert(reg, &framework_types[i]);
	if (r < 0) {
		bh_registry_destroy(reg);
		return r;
	}
	*out = reg;
	return 0;
}

void bh_registry_destroy(bh_registry *reg)
{
	if (!reg)
		return;
	for (size_t i = 0; i < reg->len; i++)
		free(reg->types[i].flat);
	free(reg->types);
	free(reg);
}

int bh_registry_add_fds(bh_registry *reg, uint32_t type, const ProtobufCMessageDescriptor *desc,
			unsigned min_fds, unsigned max_fds)
{
	bh_msg_type_info info = { type, desc, max_fds, min_fds };

	if (type < BH_MSG_APP_BASE || !desc || max_fds > BH_MAX_FDS || min_fds > max_fds ||
	    desc->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC)
		return -EINVAL;
	return insert(reg, &info);
}

int bh_registry_add(bh_registry *reg, uint32_t type, const ProtobufCMessageDescriptor *desc,
		    unsigned max_fds)
{
	return bh_registry_add_fds(reg, type, desc, 0, max_fds);
}

const bh_msg_type_info *bh_registry_lookup(const bh_registry *reg, uint32_t type)
{
	size_t lo = 0, hi = reg->len, guess;

	/*
	 * Framework ids run from 1 without gaps and applications usually number
	 * theirs from BH_MSG_APP_BASE on: then the slot follows from the id,
	 * which saves the search on every message sent and received.
	 */
	guess = type < BH_MSG_APP_BASE ? (size_t)type - 1
				       : BH_ARRAY_SIZE(framework_types) + (type - BH_MSG_APP_BASE);
	if (guess < reg->len && reg->types[guess].info.type == type)
		return &reg->types[guess].info;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (reg->types[mid].info.type == type)
			return &reg->types[mid].info;
		if (reg->types[mid].info.type < type)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

size_t bh_registry_count(const bh_registry *reg)
{
	return reg->len;
}

const bh_msg_type_info *bh_registry_at(const bh_registry *reg, size_t i)
{
	return i < reg->len ? &reg->types[i].info : NULL;
}

const bh_flat *bh__registry_flat(const bh_msg_type_info *info)
{
	/* Every info the registry hands out is the first member of an entry. */
	return ((const struct entry *)(const void *)info)->flat;
}
