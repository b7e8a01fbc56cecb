/* The renderer process of bulkhead-browser (runs inside the "renderer" sandbox). */
#ifndef BH_RENDERER_RENDERER_H
#define BH_RENDERER_RENDERER_H

#include <bulkhead/supervisor.h>

/* Font file names, relative to the font directory the broker serves. */
#define RENDERER_FONT_REGULAR "DejaVuSans.ttf"
#define RENDERER_FONT_BOLD "DejaVuSans-Bold.ttf"

/* Frame slots of a tab's surface: one the gpu shows, one being drawn. */
#define RENDERER_SLOTS 2u

/* The spec's entry point: serves Navigate requests until the broker says stop. */
int renderer_main(bh_worker_ctx *ctx, void *arg);

#endif
