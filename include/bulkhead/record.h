/*
 * bulkhead channel recordings: every frame a channel sends or receives,
 * appended to a file, for debugging and for turning real traffic into
 * fuzzer seeds (tools/bulkhead-dump). docs/FUZZING.md describes the format.
 *
 * A recording holds whatever the peer sent, bad frames included: it is as
 * untrusted as the traffic itself, and the reader below checks every length
 * before it hands a record out.
 *
 * Threading: a recorder belongs to the thread that runs the loop of the
 * channel(s) it records. A reader belongs to its caller.
 */
#ifndef BULKHEAD_RECORD_H
#define BULKHEAD_RECORD_H

#include <bulkhead/channel.h>
#include <bulkhead/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "BHRECORD" at offset 0 of every recording. */
#define BH_RECORD_MAGIC "BHRECORD"
#define BH_RECORD_FORMAT_VERSION 1u
/* Bytes before the first record, and before the fd kinds of each record. */
#define BH_RECORD_FILE_HEADER_SIZE 24u
#define BH_RECORD_HEADER_SIZE 16u
/* Largest datagram a record may hold (a larger one is stored truncated). */
#define BH_RECORD_MAX_LEN BH_MAX_MESSAGE
/* Most fds a record describes (a channel receives up to 64 before refusing). */
#define BH_RECORD_MAX_FDS 255u

/* Direction of a record, as seen by the channel that recorded it. */
enum bh_record_dir {
	BH_RECORD_RECEIVED = 0,
	BH_RECORD_SENT = 1,
};

/* Record flags. */
enum {
	/* The datagram was longer than what the record holds (MSG_TRUNC). */
	BH_RECORD_TRUNCATED = 1u << 0,
	/* The kernel dropped some of the fds that came with it (MSG_CTRUNC). */
	BH_RECORD_CTRUNC = 1u << 1,
};

/* What an attached fd was, as fstat() and F_GET_SEALS saw it when recorded. */
enum bh_record_fd_kind {
	BH_FD_KIND_OTHER = 0,
	BH_FD_KIND_MEMFD = 1,  /* regular file that accepts seals (memfd, shm) */
	BH_FD_KIND_FILE = 2,   /* any other regular file */
	BH_FD_KIND_PIPE = 3,
	BH_FD_KIND_SOCKET = 4,
	BH_FD_KIND_CHAR = 5,   /* character device such as /dev/null */
	BH_FD_KIND_DIR = 6,
	BH_FD_KIND_COUNT
};

/* Static name of a kind ("memfd", "pipe", ...). */
BH_EXPORT const char *bh_record_fd_kind_name(unsigned kind);

/* Classifies an open fd (fstat, fcntl(F_GET_SEALS)). Returns a bh_record_fd_kind. */
BH_EXPORT unsigned bh_record_fd_kind(int fd);

/* ---- writing -------------------------------------------------------------- */

typedef struct bh_recorder bh_recorder;

/*
 * Creates (or truncates) `path` with mode 0600 and writes the file header.
 * Returns 0 and the recorder in *out, or -errno.
 */
BH_EXPORT int bh_recorder_create(const char *path, bh_recorder **out);

/*
 * Same on an fd the caller opened for writing; the recorder takes ownership
 * of `fd` in every case (closed on failure too). Writing to a pipe or socket
 * whose reader is gone raises SIGPIPE: a process that records into one
 * ignores that signal.
 */
BH_EXPORT int bh_recorder_create_fd(int fd, bh_recorder **out);

/* Closes the file and frees the recorder. NULL is a no-op. */
BH_EXPORT void bh_recorder_destroy(bh_recorder *rec);

/*
 * Appends one record: `len` bytes of `frame` (cut at BH_RECORD_MAX_LEN,
 * which sets BH_RECORD_TRUNCATED), the kinds of the `nfds` fds in `fds`
 * (borrowed, only fstat'ed; at most BH_RECORD_MAX_FDS are described) and
 * `flags`. The time stamp is CLOCK_MONOTONIC relative to the recorder's
 * creation. After the first write error every later call returns that error
 * without writing: a recording never has a hole in the middle. Returns 0 or
 * -errno.
 */
BH_EXPORT int bh_recorder_write(bh_recorder *rec, enum bh_record_dir dir, const uint8_t *frame,
				size_t len, const int *fds, unsigned nfds, unsigned flags);

/* 0 while every record was written, else the first error (-errno). */
BH_EXPORT int bh_recorder_status(const bh_recorder *rec);

/* Number of records written so far. */
BH_EXPORT uint64_t bh_recorder_count(const bh_recorder *rec);

/*
 * Makes `ch` append every datagram it receives (before validation, so bad
 * frames are recorded too) and every frame it sends (once the kernel took
 * it) to `rec`; NULL stops recording. `rec` stays owned by the caller and
 * must outlive the channel or be unset first. A write error never affects
 * the channel: check bh_recorder_status(). Several channels may share a
 * recorder, but their records are then interleaved without a channel id.
 */
BH_EXPORT void bh_channel_set_recorder(bh_channel *ch, bh_recorder *rec);

/* ---- reading -------------------------------------------------------------- */

typedef struct bh_record_reader bh_record_reader;

/* One record; `data` and `fd_kinds` are valid until the next call on the reader. */
typedef struct bh_record {
	enum bh_record_dir dir;
	unsigned flags;          /* BH_RECORD_TRUNCATED, BH_RECORD_CTRUNC */
	uint64_t time_ns;        /* since the recorder was created */
	unsigned nfds;           /* fds that came with the datagram */
	const uint8_t *fd_kinds; /* nfds bh_record_fd_kind values */
	const uint8_t *data;
	size_t len;
} bh_record;

/*
 * Opens a recording and checks its header. Returns 0 and the reader in
 * *out, -EBADMSG if it is not a recording, -EPROTONOSUPPORT for a newer
 * format, or -errno.
 */
BH_EXPORT int bh_record_reader_create(const char *path, bh_record_reader **out);

/* Wall-clock time (CLOCK_REALTIME, ns) at which the recording was started. */
BH_EXPORT uint64_t bh_record_reader_start_time(const bh_record_reader *r);

/*
 * Reads the next record into *out. Returns 1 for a record, 0 at the end of
 * the file, -EBADMSG if the file is cut short or a record is malformed (the
 * reader stays at that error), or -errno.
 */
BH_EXPORT int bh_record_reader_next(bh_record_reader *r, bh_record *out);

/* Closes the file and frees the reader. NULL is a no-op. */
BH_EXPORT void bh_record_reader_destroy(bh_record_reader *r);

#ifdef __cplusplus
}
#endif
#endif
