/* The gpu (compositor) process of bulkhead-browser (runs inside the "gpu" sandbox). */
#ifndef BH_GPU_GPU_H
#define BH_GPU_GPU_H

#include <bulkhead/supervisor.h>

/* Output slots: the broker holds the latest frame while the gpu draws the next. */
#define GPU_OUTPUT_SLOTS 2u
/* Frame pacing: at most one composited frame per this many ms. */
#define GPU_FRAME_MS 16u

/* The spec's entry point: composites until the broker says stop. */
int gpu_main(bh_worker_ctx *ctx, void *arg);

#endif
