/*
 * Channel recordings: a file header, then one record per datagram.
 *
 *   file header (BH_RECORD_FILE_HEADER_SIZE = 24 bytes, little-endian)
 *     off 0  u8[8] "BHRECORD"
 *     off 8  u16   format version (BH_RECORD_FORMAT_VERSION)
 *     off 10 u16   wire protocol version of the recorder (BH_PROTOCOL_VERSION)
 *     off 12 u32   reserved, zero
 *     off 16 u64   CLOCK_REALTIME at creation, ns
 *   record (BH_RECORD_HEADER_SIZE = 16 bytes, then nfds + len bytes)
 *     off 0  u8    direction (0 received, 1 sent)
 *     off 1  u8    nfds
 *     off 2  u16   flags (BH_RECORD_TRUNCATED, BH_RECORD_CTRUNC)
 *     off 4  u32   len, <= BH_RECORD_MAX_LEN
 *     off 8  u64   CLOCK_MONOTONIC since creation, ns
 *     off 16 u8[nfds] fd kinds, then u8[len] the datagram as on the wire
 *
 * Each record goes out in one writev(), so a reader of a live recording
 * sees whole records or a short tail, never a record spliced with another.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>

#include <bulkhead/record.h>

#include "common/internal.h"

#define KNOWN_FLAGS (BH_RECORD_TRUNCATED | BH_RECORD_CTRUNC)

struct bh_recorder {
	int fd;
	int status;
	uint64_t t0;
	uint64_t count;
};

struct bh_record_reader {
	int fd;
	int status; /* sticky error */
	uint64_t start_time;
	uint8_t kinds[BH_RECORD_MAX_FDS];
	uint8_t *buf; /* BH_RECORD_MAX_LEN */
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

const char *bh_record_fd_kind_name(unsigned kind)
{
	static const char *const names[BH_FD_KIND_COUNT] = {
		[BH_FD_KIND_OTHER] = "other", [BH_FD_KIND_MEMFD] = "memfd",
		[BH_FD_KIND_FILE] = "file",   [BH_FD_KIND_PIPE] = "pipe",
		[BH_FD_KIND_SOCKET] = "socket", [BH_FD_KIND_CHAR] = "chardev",
		[BH_FD_KIND_DIR] = "dir",
	};

	return kind < BH_FD_KIND_COUNT ? names[kind] : "unknown";
}

unsigned bh_record_fd_kind(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return BH_FD_KIND_OTHER;
	switch (st.st_mode & S_IFMT) {
	case S_IFREG:
		return fcntl(fd, F_GET_SEALS) >= 0 ? BH_FD_KIND_MEMFD : BH_FD_KIND_FILE;
	case S_IFIFO:
		return BH_FD_KIND_PIPE;
	case S_IFSOCK:
		return BH_FD_KIND_SOCKET;
	case S_IFCHR:
		return BH_FD_KIND_CHAR;
	case S_IFDIR:
		return BH_FD_KIND_DIR;
	default:
		return BH_FD_KIND_OTHER;
	}
}

/* Writes every byte of `iov`, retrying on EINTR and short writes. 0 or -errno. */
static int writev_full(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

int bh_recorder_create_fd(int fd, bh_recorder **out)
{
	uint8_t hdr[BH_RECORD_FILE_HEADER_SIZE] = { 0 };
	struct iovec iov = { hdr, sizeof hdr };
	struct timespec ts;
	bh_recorder *rec;
	int r;

	if (fd < 0)
		return -EBADF;
	rec = calloc(1, sizeof *rec);
	if (!rec) {
		bh__close(fd);
		return -ENOMEM;
	}
	if (clock_gettime(CLOCK_REALTIME, &ts) < 0) {
		r = -errno;
		goto fail;
	}
	memcpy(hdr, BH_RECORD_MAGIC, 8);
	put16(hdr + 8, BH_RECORD_FORMAT_VERSION);
	put16(hdr + 10, BH_PROTOCOL_VERSION);
	put64(hdr + 16, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
	r = writev_full(fd, &iov, 1);
	if (r < 0)
		goto fail;
	rec->fd = fd;
	rec->t0 = bh_now_ns();
	*out = rec;
	return 0;
fail:
	free(rec);
	bh__close(fd);
	return r;
}

int bh_recorder_create(const char *path, bh_recorder **out)
{
	int fd;

	if (!path)
		return -EINVAL;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0)
		return -errno;
	return bh_recorder_create_fd(fd, out);
}

void bh_recorder_destroy(bh_recorder *rec)
{
	if (!rec)
		return;
	bh__close(rec->fd);
	free(rec);
}

int bh_recorder_write(bh_recorder *rec, enum bh_record_dir dir, const uint8_t *frame, size_t len,
		      const int *fds, unsigned nfds, unsigned flags)
{
	uint8_t hdr[BH_RECORD_HEADER_SIZE];
	uint8_t kinds[BH_RECORD_MAX_FDS];
	struct iovec iov[3];
	int r;

	if (rec->status < 0)
		return rec->status;
	if ((dir != BH_RECORD_RECEIVED && dir != BH_RECORD_SENT) || (flags & ~KNOWN_FLAGS) ||
	    (len && !frame) || (nfds && !fds))
		return -EINVAL;
	if (len > BH_RECORD_MAX_LEN) {
		len = BH_RECORD_MAX_LEN;
		flags |= BH_RECORD_TRUNCATED;
	}
	nfds = BH_MIN(nfds, BH_RECORD_MAX_FDS);
	for (unsigned i = 0; i < nfds; i++)
		kinds[i] = (uint8_t)bh_record_fd_kind(fds[i]);
	hdr[0] = (uint8_t)dir;
	hdr[1] = (uint8_t)nfds;
	put16(hdr + 2, (uint16_t)flags);
	put32(hdr + 4, (uint32_t)len);
	put64(hdr + 8, bh_now_ns() - rec->t0);
	iov[0] = (struct iovec){ hdr, sizeof hdr };
	iov[1] = (struct iovec){ kinds, nfds };
	iov[2] = (struct iovec){ (void *)frame, len };
	r = writev_full(rec->fd, iov, 3);
	if (r < 0) {
		rec->status = r;
		return r;
	}
	rec->count++;
	return 0;
}

int bh_recorder_status(const bh_recorder *rec)
{
	return rec->status;
}

uint64_t bh_recorder_count(const bh_recorder *rec)
{
	return rec->count;
}

/* ---- reading -------------------------------------------------------------- */

/* Reads up to len bytes; returns how many (fewer only at end of file) or -errno. */
static ssize_t read_upto(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = read(fd, buf + got, len - got);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int bh_record_reader_create(const char *path, bh_record_reader **out)
{
	uint8_t hdr[BH_RECORD_FILE_HEADER_SIZE];
	bh_record_reader *rd;
	ssize_t n;
	int r;

	if (!path)
		return -EINVAL;
	rd = calloc(1, sizeof *rd);
	if (!rd)
		return -ENOMEM;
	rd->fd = -1;
	rd->buf = malloc(BH_RECORD_MAX_LEN);
	if (!rd->buf) {
		free(rd);
		return -ENOMEM;
	}
	rd->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (rd->fd < 0) {
		r = -errno;
		goto fail;
	}
	n = read_upto(rd->fd, hdr, sizeof hdr);
	if (n < 0) {
		r = (int)n;
		goto fail;
	}
	if ((size_t)n < sizeof hdr || memcmp(hdr, BH_RECORD_MAGIC, 8) != 0) {
		r = -EBADMSG;
		goto fail;
	}
	if (get16(hdr + 8) != BH_RECORD_FORMAT_VERSION) {
		r = -EPROTONOSUPPORT;
		goto fail;
	}
	rd->start_time = get64(hdr + 16);
	*out = rd;
	return 0;
fail:
	bh_record_reader_destroy(rd);
	return r;
}

uint64_t bh_record_reader_start_time(const bh_record_reader *r)
{
	return r->start_time;
}

int bh_record_reader_next(bh_record_reader *rd, bh_record *out)
{
	uint8_t hdr[BH_RECORD_HEADER_SIZE];
	unsigned dir, nfds, flags;
	uint32_t len;
	ssize_t n;

	if (rd->status < 0)
		return rd->status;
	n = read_upto(rd->fd, hdr, sizeof hdr);
	if (n == 0)
		return 0;
	if (n < 0)
		return rd->status = (int)n;
	if ((size_t)n < sizeof hdr)
		return rd->status = -EBADMSG;
	dir = hdr[0];
	nfds = hdr[1];
	flags = get16(hdr + 2);
	len = get32(hdr + 4);
	if ((dir != BH_RECORD_RECEIVED && dir != BH_RECORD_SENT) || (flags & ~KNOWN_FLAGS) ||
	    len > BH_RECORD_MAX_LEN)
		return rd->status = -EBADMSG;
	n = read_upto(rd->fd, rd->kinds, nfds);
	if (n < 0)
		return rd->status = (int)n;
	if ((size_t)n < nfds)
		return rd->status = -EBADMSG;
	n = read_upto(rd->fd, rd->buf, len);
	if (n < 0)
		return rd->status = (int)n;
	if ((size_t)n < len)
		return rd->status = -EBADMSG;
	*out = (bh_record){ .dir = (enum bh_record_dir)dir, .flags = flags,
			    .time_ns = get64(hdr + 8), .nfds = nfds, .fd_kinds = rd->kinds,
			    .data = rd->buf, .len = len };
	return 1;
}

void bh_record_reader_destroy(bh_record_reader *rd)
{
	if (!rd)
		return;
	bh__close(rd->fd);
	free(rd->buf);
	free(rd);
}
