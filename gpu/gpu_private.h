/*
 * For fuzz harnesses only (fuzz/fuzz_gpu.c): the gpu process's real state
 * and its real handlers of renderer and broker messages, driven without a
 * worker context, a sandbox or a timer.
 *
 * The fixture is the process-wide state of gpu_main.c: one at a time, in a
 * process that never runs gpu_main(). Messages reach it as in the gpu
 * process, through channels: the broker's (GpuConfig, Scene, GpuChannel
 * with a renderer's socket, FrameRelease; a ShmAlloc request comes back on
 * it for the output surface) and the renderers' ones that GpuChannel hands
 * over. There is no frame pacing: nothing is composited until
 * bh__gpu_fuzz_compose() says so, which keeps a run repeatable.
 */
#ifndef BH_GPU_GPU_PRIVATE_H
#define BH_GPU_GPU_PRIVATE_H

#include <stdint.h>

#include <bulkhead/channel.h>

#include "renderer/page.h"

/*
 * Resets the fixture and makes the gpu's broker channel on `broker_fd` (a
 * SOCK_SEQPACKET end; owned by the fixture from now on, closed on failure
 * too) with `reg` (the browser's registry) on `loop`; both must outlive the
 * fixture. `fonts` (may be NULL: no text is drawn) take the place of the
 * fonts the gpu asks the broker for; they must outlive the fixture. The
 * peer then sends GpuConfig as the broker does and answers the ShmAlloc
 * request that follows. Returns 0 or -errno.
 */
int bh__gpu_fuzz_setup(bh_loop *loop, const bh_registry *reg, int broker_fd,
		       const struct page_fonts *fonts);

/* Composites one frame now if anything changed, as the pacing timer would. */
void bh__gpu_fuzz_compose(void);

/* What the gpu holds for one tab, for a harness's checks. */
struct bh__gpu_fuzz_tab {
	int has_channel;     /* a renderer channel is open */
	int has_surface;     /* a surface is attached */
	uint32_t surface_id; /* when has_surface */
	int held;            /* slot the compositor shows, or -1 */
	uint64_t seq;        /* of the frame in `held` */
	uint32_t generation; /* of the latest GpuChannel */
};

/* Fills *out for tab `tab_id`. Returns 0, or -ENOENT if the gpu has no such tab. */
int bh__gpu_fuzz_tab(uint32_t tab_id, struct bh__gpu_fuzz_tab *out);

/*
 * Drops every renderer channel and surface still there and damages the
 * whole window, so that the next input starts from the same picture.
 * Returns how many tabs still had a channel or a surface.
 */
int bh__gpu_fuzz_reset(void);

/* True once the gpu refused or lost its broker channel (a harness bug or a gpu bug). */
int bh__gpu_fuzz_broker_lost(void);

/* Frees everything the fixture holds (not the loop, registry or fonts). */
void bh__gpu_fuzz_teardown(void);

#endif
