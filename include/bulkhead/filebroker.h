/*
 * bulkhead file broker: sandboxed workers cannot open files; they ask the
 * broker, which opens the file read-only if the worker type's rules allow
 * it and passes the fd back (BH_MSG_FILE_OPEN / BH_MSG_FILE_OPENED). The
 * supervisor serves these requests for every spec with bh_file_rule entries;
 * this header exposes the checks so that other brokers (and fuzzers) can use
 * them directly.
 *
 * A path is accepted only if it is relative, at most BH_FILE_PATH_MAX bytes,
 * free of NUL bytes and ".." components, ends with the rule's suffix, and
 * resolves beneath the rule's directory without following any symlink
 * (openat2() with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS
 * | RESOLVE_NO_XDEV) to a regular file.
 *
 * Threading: bh_file_broker_open() only reads the broker and may be called
 * from any thread; create and destroy belong to the owner.
 */
#ifndef BULKHEAD_FILEBROKER_H
#define BULKHEAD_FILEBROKER_H

#include <bulkhead/common.h>
#include <bulkhead/supervisor.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BH_FILE_PATH_MAX 1024u

typedef struct bh_file_broker bh_file_broker;

/*
 * Opens an O_PATH handle on each rule's directory (they must exist).
 * `rules` must outlive the broker. Returns 0 and the broker in *out, or
 * -errno (-ENOENT for a missing directory, -EINVAL for a relative one).
 */
BH_EXPORT int bh_file_broker_create(const bh_file_rule *rules, size_t n_rules,
				    bh_file_broker **out);

/* Closes the directory handles and frees. NULL is a no-op. */
BH_EXPORT void bh_file_broker_destroy(bh_file_broker *fb);

/*
 * Opens `path` (`len` bytes, untrusted, not NUL-terminated) under the first
 * rule that has it. Returns a read-only, close-on-exec fd (caller owns it)
 * or: -EINVAL (empty, absolute, NUL byte, ".." component), -ENAMETOOLONG,
 * -EACCES (no rule allows the name, or it is not a regular file),
 * -ELOOP/-EXDEV (a symlink or mount crossing on the way), -ENOENT, or what
 * the kernel says of a name it cannot open: -ENOTDIR (a file used as a
 * directory, "page.html/"), -ENXIO (a socket).
 */
BH_EXPORT int bh_file_broker_open(const bh_file_broker *fb, const uint8_t *path, size_t len);

#ifdef __cplusplus
}
#endif
#endif
