/* The checksum example: what the broker (main.c) and the worker (worker.c) share. */
#ifndef CHECKSUM_H
#define CHECKSUM_H

#include <bulkhead/bulkhead.h>

#include "checksum.pb-c.h"

/* Application message ids start at BH_MSG_APP_BASE; below is the framework's. */
enum {
	CHECKSUM_MSG_JOB = BH_MSG_APP_BASE + 1,    /* Checksum__Job, 1 fd: the region */
	CHECKSUM_MSG_RESULT = BH_MSG_APP_BASE + 2, /* Checksum__Result */
};

/*
 * Registers both message types. The broker and the worker must agree, and
 * they do: the worker is forked from the broker's process image and uses the
 * registry the broker built. Returns 0 or -errno.
 */
int checksum_register(bh_registry *reg);

/* Entry point of the "hasher" worker type, run inside its sandbox. */
int checksum_worker_main(bh_worker_ctx *ctx, void *arg);

#endif
