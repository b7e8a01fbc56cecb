/* The browser's message registry. */
#include <errno.h>

#include "broker/browser_proto.h"

int browser_registry_create(bh_registry **out)
{
	static const struct {
		uint32_t type;
		const ProtobufCMessageDescriptor *desc;
		unsigned fds;
	} types[] = {
		{ MSG_NAVIGATE, &browser__navigate__descriptor, 0 },
		{ MSG_GPU_CHANNEL, &browser__gpu_channel__descriptor, 1 },
		{ MSG_PAGE_STATE, &browser__page_state__descriptor, 0 },
		{ MSG_GPU_CONFIG, &browser__gpu_config__descriptor, 0 },
		{ MSG_SCENE, &browser__scene__descriptor, 0 },
		{ MSG_BAD_RENDERER, &browser__bad_renderer__descriptor, 0 },
		{ MSG_COMPOSITED, &browser__composited__descriptor, 0 },
		{ MSG_DEBUG_CRASH, &browser__debug_crash__descriptor, 0 },
		{ MSG_BENCH_REQUEST, &browser__bench_request__descriptor, 0 },
		{ MSG_BENCH_RESULT, &browser__bench_result__descriptor, 0 },
		{ MSG_PING, &browser__ping__descriptor, 0 },
		{ MSG_PONG, &browser__pong__descriptor, 0 },
		{ MSG_DEBUG_NOTE, &browser__debug_note__descriptor, 0 },
		{ MSG_SCROLL, &browser__scroll__descriptor, 0 },
	};
	bh_registry *reg;
	int r;

	r = bh_registry_create(&reg);
	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof types / sizeof types[0] && r == 0; i++)
		r = bh_registry_add_fds(reg, types[i].type, types[i].desc, types[i].fds, types[i].fds);
	if (r < 0) {
		bh_registry_destroy(reg);
		return r;
	}
	*out = reg;
	return 0;
}
