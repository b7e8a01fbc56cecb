/* bulkhead: shared definitions of the public API. */
#ifndef BULKHEAD_COMMON_H
#define BULKHEAD_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks a symbol of the public ABI; everything else in libbulkhead is hidden. */
#define BH_EXPORT __attribute__((visibility("default")))

/*
 * Errors: every function that can fail returns 0 (or a non-negative count)
 * on success and a negative errno value on failure. Output parameters are
 * written only on success. Constructors that return a pointer return NULL and
 * set errno.
 */

/* Log levels for the logging hook. */
typedef enum bh_log_level {
	BH_LOG_ERROR = 0,
	BH_LOG_WARN = 1,
	BH_LOG_INFO = 2,
	BH_LOG_DEBUG = 3,
} bh_log_level;

/*
 * Logging hook. The library never prints: it hands each line (no trailing
 * newline) to the hook installed on the loop the object belongs to
 * (bh_loop_set_logger()). `msg` is valid only during the call.
 */
typedef void (*bh_log_fn)(bh_log_level level, const char *msg, void *userdata);

/* Returns a static string naming `level` ("error", "warn", ...). Thread-safe. */
BH_EXPORT const char *bh_log_level_name(bh_log_level level);

#ifdef __cplusplus
}
#endif
#endif
