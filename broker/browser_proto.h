/*
 * The demo browser's own message types (proto/browser.proto) and who may
 * send which. Shared by the three process types of bulkhead-browser.
 */
#ifndef BH_BROWSER_PROTO_H
#define BH_BROWSER_PROTO_H

#include <bulkhead/protocol.h>

#include "browser.pb-c.h"

enum {
	MSG_NAVIGATE = BH_MSG_APP_BASE + 1, /* broker -> renderer: Navigate */
	MSG_GPU_CHANNEL,                    /* broker -> renderer, gpu: GpuChannel + 1 fd */
	MSG_PAGE_STATE,                     /* renderer -> broker: PageState */
	MSG_GPU_CONFIG,                     /* broker -> gpu: GpuConfig */
	MSG_SCENE,                          /* broker -> gpu: Scene */
	MSG_BAD_RENDERER,                   /* gpu -> broker: BadRenderer */
	MSG_COMPOSITED,                     /* gpu -> broker: Composited */
	MSG_DEBUG_CRASH,                    /* broker -> renderer, gpu: DebugCrash */
	MSG_BENCH_REQUEST,                  /* broker -> gpu: BenchRequest */
	MSG_BENCH_RESULT,                   /* gpu -> broker: BenchResult */
	MSG_PING,                           /* broker -> renderer, gpu: Ping */
	MSG_PONG,                           /* renderer, gpu -> broker: Pong */
	MSG_DEBUG_NOTE,                     /* renderer -> broker: DebugNote */
	MSG_SCROLL,                         /* broker -> renderer: Scroll */
};

/*
 * Creates a registry with the framework's types and the browser's. Returns 0
 * and the registry in *out, or -errno.
 */
int browser_registry_create(bh_registry **out);

#endif
