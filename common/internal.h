/* Private helpers shared by libbulkhead's modules. Not installed. */
#ifndef BH_INTERNAL_H
#define BH_INTERNAL_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <bulkhead/channel.h>
#include <bulkhead/common.h>
#include <bulkhead/loop.h>

#define BH_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define BH_UNUSED __attribute__((unused))
#define BH_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define BH_MIN(a, b) ((a) < (b) ? (a) : (b))
#define BH_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Logs through the loop's hook; a NULL loop or hook discards the line. */
void bh__log(bh_loop *loop, bh_log_level level, const char *fmt, ...) BH_PRINTF(3, 4);
void bh__vlog(bh_loop *loop, bh_log_level level, const char *fmt, va_list ap) BH_PRINTF(3, 0);

/* Closes fd if >= 0, keeping errno; returns -1 so that `fd = bh__close(fd);` reads well. */
static inline int bh__close(int fd)
{
	if (fd >= 0) {
		int saved = errno;
		/* close() must not be retried on EINTR on Linux: the fd is gone either way. */
		(void)close(fd);
		errno = saved;
	}
	return -1;
}

/* Closes `n` fds from `fds` that are >= 0 and sets them to -1. */
void bh__close_all(int *fds, unsigned n);

/* Reads/writes exactly len bytes, retrying on EINTR and short transfers. 0 or -errno (-EPIPE on EOF). */
int bh__read_full(int fd, void *buf, size_t len);
int bh__write_full(int fd, const void *buf, size_t len);

/*
 * Reads and dispatches, now, what the peer has already sent (one receive
 * budget at most; nothing while paused). The supervisor calls it before it
 * classifies a worker's death: the worker's last words (a CrashReport
 * naming the signal it really got) may still sit in the socket when the
 * pidfd says it is gone, and epoll reports both in no set order.
 */
void bh__channel_read_now(bh_channel *ch);

/*
 * Coalesced datagrams (BH_FLAG_MORE). bh__frame_split() returns the length
 * of the first frame of buf[0..len): where its header has the flag and its
 * payload_len leaves room for another header after it, the frame is cut
 * there and the flag cleared in buf; otherwise the whole datagram, left as
 * it is for bh_header_decode() to judge. The other two read and set the
 * flags of an encoded frame.
 */
size_t bh__frame_split(uint8_t *buf, size_t len);
void bh__frame_set_more(uint8_t *frame, int more);
uint16_t bh__frame_flags(const uint8_t *frame);

/* Deferred-free support for handles removed while the loop dispatches. */
int bh__loop_dispatching(const bh_loop *loop);

#endif
