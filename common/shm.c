/* Sealed memfd regions: creation, validation of received fds, mapping. */
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <bulkhead/shm.h>

#include "bulkhead.pb-c.h"
#include "common/internal.h"

/* Older uapi headers lack these; the kernel decides whether it knows them. */
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

#define SEALS_REQUIRED (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
#define SEALS_WRITE (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)

struct bh_shm_region {
	int fd;
	void *data;     /* NULL when not mapped */
	uint64_t size;  /* mapped length */
	unsigned seals;
	bool writable;
};

/*
 * MFD_NOEXEC_SEAL (Linux 6.3) also seals the exec bits, so a region can
 * never become an executable file, and it keeps kernels that enforce
 * vm.memfd_noexec from refusing or warning. Older kernels reject the unknown
 * flag with EINVAL: fall back to a plain sealable memfd.
 */
static int memfd_sealable(void)
{
	int fd = memfd_create("bulkhead-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);

	if (fd < 0 && errno == EINVAL)
		fd = memfd_create("bulkhead-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	return fd < 0 ? -errno : fd;
}

static int region_new(int fd, void *data, uint64_t size, unsigned seals, bool writable,
		      bh_shm_region **out)
{
	bh_shm_region *r = calloc(1, sizeof *r);

	if (!r)
		return -ENOMEM;
	r->fd = fd;
	r->data = data;
	r->size = size;
	r->seals = seals;
	r->writable = writable;
	*out = r;
	return 0;
}

static int map_region(int fd, uint64_t size, bool writable, unsigned flags, void **out)
{
	void *p = mmap(NULL, (size_t)size, writable ? PROT_READ | PROT_WRITE : PROT_READ,
		       MAP_SHARED | (flags & BH_SHM_POPULATE ? MAP_POPULATE : 0), fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	*out = p;
	return 0;
}

int bh_shm_region_create(uint64_t size, unsigned flags, bh_shm_region **out)
{
	unsigned seals = SEALS_REQUIRED;
	void *data = NULL;
	int fd, r;

	if (size == 0 || (flags & ~(BH_SHM_NO_MAP | BH_SHM_EXCLUSIVE_WRITER | BH_SHM_POPULATE)) ||
	    ((flags & BH_SHM_NO_MAP) && (flags & (BH_SHM_EXCLUSIVE_WRITER | BH_SHM_POPULATE))))
		return -EINVAL;
	/* Also keeps the size within off_t and size_t below. */
	if (size > BH_SHM_MAX_SIZE)
		return -EFBIG;

	fd = memfd_sealable();
	if (fd < 0)
		return fd;
	do {
		r = ftruncate(fd, (off_t)size);
	} while (r < 0 && errno == EINTR);
	if (r < 0) {
		r = -errno;
		goto fail;
	}
	if (!(flags & BH_SHM_NO_MAP)) {
		/* Mapped before F_SEAL_FUTURE_WRITE: the seal spares existing mappings. */
		r = map_region(fd, size, true, flags, &data);
		if (r < 0)
			goto fail;
	}
	if (flags & BH_SHM_EXCLUSIVE_WRITER)
		seals |= F_SEAL_FUTURE_WRITE;
	if (fcntl(fd, F_ADD_SEALS, seals) < 0) {
		r = -errno;
		goto fail;
	}
	r = fcntl(fd, F_GET_SEALS);
	if (r < 0) {
		r = -errno;
		goto fail;
	}
	seals = (unsigned)r;
	r = region_new(fd, data, size, seals, data != NULL, out);
	if (r < 0)
		goto fail;
	return 0;

fail:
	if (data)
		munmap(data, (size_t)size);
	bh__close(fd);
	return r;
}

/*
 * Every check a receiver needs before it maps an fd a peer sent. Returns the
 * seals on success. The order matters only for which error a file that is
 * wrong in several ways gets: the most basic fault is reported.
 */
static int check_fd(int fd, uint64_t size, unsigned flags)
{
	bool want_write = !(flags & (BH_SHM_READ_ONLY | BH_SHM_NO_MAP));
	struct stat st;
	struct statfs sfs;
	int fl, seals;

	if (size == 0 || (flags & ~(BH_SHM_READ_ONLY | BH_SHM_NO_MAP | BH_SHM_POPULATE)))
		return -EINVAL;
	if (size > BH_SHM_MAX_SIZE)
		return -EFBIG;
	if (fd < 0)
		return -EBADF;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENODEV;
	/* Before F_GET_SEALS, which an O_PATH fd would answer with EBADF. */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	if (fl & O_PATH)
		return -EACCES;
	/*
	 * memfds live on the kernel's internal tmpfs. Anything else is refused
	 * even if it can be sealed: hugetlbfs memfds in particular, whose pages
	 * can run out at fault time and raise SIGBUS in the reader.
	 */
	if (fstatfs(fd, &sfs) < 0)
		return -errno;
	if (sfs.f_type != TMPFS_MAGIC)
		return -EMEDIUMTYPE;
	/* Files that cannot carry seals answer F_GET_SEALS with EINVAL. */
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return errno == EINVAL ? -EMEDIUMTYPE : -errno;
	/*
	 * Seals can only ever be added, so the shrink seal seen here holds for
	 * the life of the file; F_SEAL_SEAL also freezes the set, so what is
	 * checked now is exactly what holds while the region is mapped.
	 */
	if ((seals & SEALS_REQUIRED) != SEALS_REQUIRED)
		return -EPERM;
	if (st.st_size < 0 || (uint64_t)st.st_size > BH_SHM_MAX_SIZE)
		return -EFBIG;
	if ((uint64_t)st.st_size < size)
		return -EMSGSIZE;
	if ((fl & O_ACCMODE) == O_WRONLY || (want_write && (fl & O_ACCMODE) != O_RDWR))
		return -EACCES;
	if (want_write && (seals & SEALS_WRITE))
		return -EROFS;
	return seals;
}

int bh_shm_fd_check(int fd, uint64_t size, unsigned flags)
{
	int r = check_fd(fd, size, flags);

	return r < 0 ? r : 0;
}

int bh_shm_region_import(int fd, uint64_t size, unsigned flags, bh_shm_region **out)
{
	bool writable = !(flags & (BH_SHM_READ_ONLY | BH_SHM_NO_MAP));
	void *data = NULL;
	int r, seals;

	seals = check_fd(fd, size, flags);
	if (seals < 0) {
		r = seals;
		goto fail;
	}
	/* The fd may not have come through a channel (which receives with MSG_CMSG_CLOEXEC). */
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		r = -errno;
		goto fail;
	}
	if (!(flags & BH_SHM_NO_MAP)) {
		/*
		 * Why no access to this mapping can raise SIGBUS: check_fd()
		 * saw F_SEAL_SHRINK and F_SEAL_SEAL, so the file is at least
		 * `size` bytes now and can never be truncated below that by
		 * anyone, and it is on tmpfs, whose holes read as zeros instead
		 * of failing. Every page of [0, size) stays backed for the life
		 * of the mapping, whatever the sender does with its own fd.
		 */
		r = map_region(fd, size, writable, flags, &data);
		if (r < 0)
			goto fail;
	}
	r = region_new(fd, data, size, (unsigned)seals, writable, out);
	if (r < 0)
		goto fail;
	return 0;

fail:
	if (data)
		munmap(data, (size_t)size);
	bh__close(fd);
	return r;
}

void bh_shm_region_destroy(bh_shm_region *r)
{
	if (!r)
		return;
	if (r->data)
		munmap(r->data, (size_t)r->size);
	bh__close(r->fd);
	free(r);
}

void *bh_shm_region_data(const bh_shm_region *r)
{
	return r->data;
}

uint64_t bh_shm_region_size(const bh_shm_region *r)
{
	return r->size;
}

int bh_shm_region_fd(const bh_shm_region *r)
{
	return r->fd;
}

unsigned bh_shm_region_seals(const bh_shm_region *r)
{
	return r->seals;
}

bool bh_shm_region_writable(const bh_shm_region *r)
{
	return r->writable;
}

int bh_shm_region_open_readonly(const bh_shm_region *r, int *fd_out)
{
	char path[64];
	struct stat a, b;
	int fd, err;

	/*
	 * Reopening the memfd's /proc link gives a new open file description
	 * with O_RDONLY access; the mapping rights of an fd come from that
	 * description, so no holder of the new fd can map the region writable.
	 */
	snprintf(path, sizeof path, "/proc/self/fd/%d", r->fd);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(r->fd, &a) < 0 || fstat(fd, &b) < 0) {
		err = -errno;
		goto fail;
	}
	if (a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
		err = -ESTALE;
		goto fail;
	}
	*fd_out = fd;
	return 0;

fail:
	bh__close(fd);
	return err;
}

/* ---- ShmAlloc client side ------------------------------------------------- */

int bh_shm_request(bh_channel *ch, uint64_t size, unsigned timeout_ms, bh_reply_cb cb,
		   void *userdata)
{
	Bh__ShmAlloc req = BH__SHM_ALLOC__INIT;

	req.size = size;
	return bh_channel_call(ch, BH_MSG_SHM_ALLOC, &req.base, NULL, 0, timeout_ms, cb, userdata);
}

int bh_shm_region_from_reply(bh_msg *reply, unsigned flags, bh_shm_region **out,
			     uint32_t *region_id)
{
	const Bh__ShmAllocated *body;
	bh_shm_region *region;
	int fd, r;

	if (bh_msg_type(reply) != BH_MSG_SHM_ALLOCATED || bh_msg_nfds(reply) != 1)
		return -EBADMSG;
	body = (const Bh__ShmAllocated *)bh_msg_body(reply);
	fd = bh_msg_take_fd(reply, 0);
	if (fd < 0)
		return -EBADMSG;
	r = bh_shm_region_import(fd, body->size, flags, &region);
	if (r < 0)
		return r;
	if (region_id)
		*region_id = body->region_id;
	*out = region;
	return 0;
}

/* ---- errors ------------------------------------------------------------ */

bool bh_shm_is_bad_message(int err)
{
	switch (err) {
	case -EINVAL:
	case -EFBIG:
	case -EBADF:
	case -ENODEV:
	case -EMEDIUMTYPE:
	case -EPERM:
	case -EMSGSIZE:
	case -EACCES:
	case -EROFS:
	case -EOVERFLOW:
	case -E2BIG:
	case -ENXIO:
	case -ERANGE:
	case -ENOENT:
	case -ESTALE:
	case -EILSEQ:
	case -EDOM:
	case -EBUSY:
	case -EBADMSG:
		return true;
	default:
		return false;
	}
}

const char *bh_shm_strerror(int err)
{
	switch (err) {
	case 0: return "success";
	case -EINVAL: return "invalid size, flags or surface geometry";
	case -EFBIG: return "shared memory size above the limit";
	case -EBADF: return "no open fd";
	case -ENODEV: return "fd is not a regular file";
	case -EMEDIUMTYPE: return "fd is not a memfd";
	case -EPERM: return "region lacks a required seal (shrink, grow, seal)";
	case -EMSGSIZE: return "region smaller than claimed";
	case -EACCES: return "fd lacks the access the mapping needs";
	case -EROFS: return "region is sealed against writing";
	case -EOVERFLOW: return "surface geometry overflows";
	case -E2BIG: return "surface dimension above the limit";
	case -ENXIO: return "frame names another surface";
	case -ERANGE: return "frame slot out of range";
	case -ENOENT: return "frame slot not held by the consumer";
	case -ESTALE: return "release names another frame of the slot";
	case -EILSEQ: return "frame sequence number did not increase";
	case -EDOM: return "damage rectangle outside the surface";
	case -EBUSY: return "frame slot already held by the consumer";
	case -EBADMSG: return "wrong message type, fd count or missing field";
	case -EDQUOT: return "shared memory quota exceeded";
	case -EAGAIN: return "no free frame slot";
	case -ENOMEM: return "out of memory";
	case -EMFILE: return "too many open fds";
	}
	return "unexpected error";
}
