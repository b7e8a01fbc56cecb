/*
 * bulkhead shared memory: sealed memfd regions, surfaces of frame slots
 * handed between a producer and a consumer without copying, and the quota a
 * broker keeps on the memory it allocates for workers.
 *
 * A region is a memfd sized once and sealed against shrinking, growing and
 * further sealing before anyone else sees it. A receiver validates every fd
 * it is sent (bh_shm_region_import()) before mapping it: with those seals
 * checked, no peer can truncate the file under the receiver's mapping, so a
 * read of the mapping can never raise SIGBUS.
 *
 * A surface is one region holding 1..BH_SURFACE_MAX_SLOTS frame slots. The
 * producer draws into a slot it acquired, hands it over with FrameReady, and
 * gets it back with FrameRelease. docs/PROTOCOL.md ("Shared memory and frame
 * slots") states who may touch which slot when.
 *
 * Errors: every function returns 0 or a negative errno. Errors that mean the
 * peer broke the protocol are listed in each function's comment and
 * recognised by bh_shm_is_bad_message(); bh_shm_strerror() names each one for
 * bh_channel_bad_message().
 *
 * Threading: a region, surface or quota belongs to one thread.
 */
#ifndef BULKHEAD_SHM_H
#define BULKHEAD_SHM_H

#include <stdbool.h>

#include <bulkhead/channel.h>
#include <bulkhead/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- regions ----------------------------------------------------------- */

/* Largest region bulkhead creates or accepts (1 GiB). */
#define BH_SHM_MAX_SIZE (UINT64_C(1) << 30)

typedef struct bh_shm_region bh_shm_region;

/* Flags of bh_shm_region_create() and bh_shm_region_import(). */
enum {
	/* Map PROT_READ only (import only). Writing through the mapping faults. */
	BH_SHM_READ_ONLY = 1u << 0,
	/* Do not map at all: a broker that only hands the region on. */
	BH_SHM_NO_MAP = 1u << 1,
	/*
	 * Create only: map read-write first, then add F_SEAL_FUTURE_WRITE, so
	 * that this mapping stays the only one that can ever write. Every fd of
	 * the region, even an O_RDWR one sent to a peer, can then only be
	 * mapped read-only, write() to it fails with EPERM, and mprotect() can
	 * not make a read-only mapping writable. Not with BH_SHM_NO_MAP.
	 * Needs Linux 5.1.
	 */
	BH_SHM_EXCLUSIVE_WRITER = 1u << 2,
	/*
	 * Fault the whole mapping in now (MAP_POPULATE), so that no later
	 * access takes a page fault: for buffers that will be touched in full
	 * anyway, such as frame slots. The pages are allocated and charged to
	 * this process at once.
	 */
	BH_SHM_POPULATE = 1u << 3,
};

/*
 * Creates a region of `size` bytes (1 .. BH_SHM_MAX_SIZE): a close-on-exec
 * memfd (MFD_NOEXEC_SEAL where the kernel has it), sized, sealed with
 * F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL (plus F_SEAL_FUTURE_WRITE with
 * BH_SHM_EXCLUSIVE_WRITER) and, unless BH_SHM_NO_MAP, mapped read-write.
 * The memory reads as zeros. flags: BH_SHM_NO_MAP, or BH_SHM_EXCLUSIVE_WRITER
 * and/or BH_SHM_POPULATE.
 * Returns 0 and the region in *out (owned by the caller: bh_shm_region_destroy()),
 * -EINVAL for a zero size or unknown flags, -EFBIG above BH_SHM_MAX_SIZE,
 * or -errno from memfd_create/ftruncate/fcntl/mmap (-EMFILE, -ENOMEM, ...).
 */
BH_EXPORT int bh_shm_region_create(uint64_t size, unsigned flags, bh_shm_region **out);

/*
 * Checks, without mapping, that `fd` is a region this process may map for
 * `size` bytes with `flags` (those of bh_shm_region_import(); only
 * BH_SHM_READ_ONLY changes the checks: read-write needs an O_RDWR fd without
 * write seals). The fd stays owned by the caller.
 * Every error but -EBADF for a closed fd means the fd's sender lied:
 *   -EINVAL      size is 0 or flags unknown
 *   -EFBIG       size, or the file's size, above BH_SHM_MAX_SIZE
 *   -EBADF       fd is not an open fd
 *   -ENODEV      not a regular file (pipe, socket, directory, device)
 *   -EMEDIUMTYPE not a memfd: a file on disk, hugetlbfs, anything that is
 *                neither tmpfs nor able to report seals
 *   -EPERM       a required seal (shrink, grow, seal) is missing
 *   -EMSGSIZE    the file is smaller than `size`
 *   -EACCES      opened without the access the mapping needs (O_PATH, or
 *                not O_RDWR for a read-write mapping)
 *   -EROFS       a read-write mapping was asked of a write-sealed region
 */
BH_EXPORT int bh_shm_fd_check(int fd, uint64_t size, unsigned flags);

/*
 * Validates `fd` as bh_shm_fd_check() does and maps its first `size` bytes
 * (PROT_READ only with BH_SHM_READ_ONLY; not at all with BH_SHM_NO_MAP;
 * faulted in at once with BH_SHM_POPULATE).
 * Takes ownership of `fd` in every case: it belongs to the region on
 * success and is closed on failure. The fd is made close-on-exec.
 * Returns 0 and the region in *out, an error of bh_shm_fd_check(), or
 * -ENOMEM/-EMFILE style local errors.
 */
BH_EXPORT int bh_shm_region_import(int fd, uint64_t size, unsigned flags, bh_shm_region **out);

/* Unmaps the region, closes its fd and frees it. NULL is a no-op. */
BH_EXPORT void bh_shm_region_destroy(bh_shm_region *r);

/* The mapping (NULL if created or imported with BH_SHM_NO_MAP). */
BH_EXPORT void *bh_shm_region_data(const bh_shm_region *r);

/* The size given at creation or import (the mapped length). */
BH_EXPORT uint64_t bh_shm_region_size(const bh_shm_region *r);

/* The region's fd, borrowed: owned by the region, valid until it is destroyed. */
BH_EXPORT int bh_shm_region_fd(const bh_shm_region *r);

/* The seals on the region when it was created or imported (F_SEAL_* bits). */
BH_EXPORT unsigned bh_shm_region_seals(const bh_shm_region *r);

/* True if the region is mapped read-write. */
BH_EXPORT bool bh_shm_region_writable(const bh_shm_region *r);

/*
 * Opens a second, O_RDONLY fd of the same region through /proc/self/fd: a
 * peer given it can only map it PROT_READ, and mprotect() cannot upgrade
 * that mapping. Needs /proc (not available inside an empty-root sandbox).
 * Returns 0 and the new close-on-exec fd in *fd_out (owned by the caller),
 * -ENOENT without /proc, -ESTALE if the path named another file, or -errno.
 */
BH_EXPORT int bh_shm_region_open_readonly(const bh_shm_region *r, int *fd_out);

/* ---- asking the broker for a region -------------------------------------- */

/*
 * Sends ShmAlloc{size} as a request; `cb` gets the ShmAllocated reply (pass
 * it to bh_shm_region_from_reply()) or an error (-EDQUOT over quota, -EFBIG,
 * -EINVAL, -ENOMEM from the broker, or -ETIMEDOUT...). Errors as
 * bh_channel_call().
 */
BH_EXPORT int bh_shm_request(bh_channel *ch, uint64_t size, unsigned timeout_ms, bh_reply_cb cb,
			     void *userdata);

/*
 * Turns a ShmAllocated reply into a region mapped per `flags` (normally 0:
 * read-write). Takes the reply's fd. Returns 0 and the region in *out,
 * *region_id (may be NULL) set to the broker's id of the region; -EBADMSG if
 * `reply` is not a ShmAllocated with exactly one fd; or an error of
 * bh_shm_region_import() checking the fd against the size the reply claims.
 */
BH_EXPORT int bh_shm_region_from_reply(bh_msg *reply, unsigned flags, bh_shm_region **out,
				       uint32_t *region_id);

/* ---- errors ------------------------------------------------------------ */

/*
 * True if `err` (a negative value returned by this module) means the peer
 * broke the protocol, so that the message that carried it is a bad message;
 * false for local failures (-ENOMEM, -EMFILE, -EAGAIN, ...).
 */
BH_EXPORT bool bh_shm_is_bad_message(int err);

/*
 * A static description of `err` as this module uses it ("region lacks a
 * required seal", "frame sequence number did not increase", ...), suited to
 * bh_channel_bad_message(). Thread-safe.
 */
BH_EXPORT const char *bh_shm_strerror(int err);

/* ---- surfaces ---------------------------------------------------------- */

/* Limits of a surface's geometry. */
#define BH_SURFACE_MAX_DIM 8192u      /* width and height */
#define BH_SURFACE_MAX_STRIDE 65536u  /* bytes per row */
#define BH_SURFACE_MAX_SLOTS 4u       /* 2 (double) or 3 (triple buffering) is usual */
/* Each slot starts at a multiple of this many bytes from the region's start. */
#define BH_SURFACE_SLOT_ALIGN 4096u

/*
 * Pixel formats: 4 bytes per pixel, each pixel one native-endian uint32_t.
 * ARGB8888 is 0xAARRGGBB, premultiplied alpha; XRGB8888 is 0xXXRRGGBB with
 * the top byte ignored. (These are DRM's and Wayland's ARGB/XRGB8888.)
 */
typedef enum bh_pixel_format {
	BH_PIXEL_ARGB8888 = 1,
	BH_PIXEL_XRGB8888 = 2,
} bh_pixel_format;

typedef struct bh_surface_geometry {
	uint32_t width, height; /* pixels, 1 .. BH_SURFACE_MAX_DIM */
	uint32_t stride;        /* bytes per row, a multiple of 4, >= width * 4 */
	uint32_t format;        /* bh_pixel_format */
	uint32_t slots;         /* frame slots, 1 .. BH_SURFACE_MAX_SLOTS */
} bh_surface_geometry;

typedef struct bh_rect {
	uint32_t x, y, width, height;
} bh_rect;

/* A FrameReady or FrameRelease, decoded. */
typedef struct bh_frame {
	uint32_t surface_id;
	uint32_t slot;
	uint64_t seq;
	bh_rect damage; /* FrameReady only; zero for a release */
} bh_frame;

typedef struct bh_surface bh_surface;

/*
 * Fills *g for a surface of width x height pixels with the tightest stride
 * (width * 4) and checks it as bh_surface_geometry_check() does.
 * Returns 0, or an error of bh_surface_geometry_check().
 */
BH_EXPORT int bh_surface_geometry_init(bh_surface_geometry *g, uint32_t width, uint32_t height,
				       bh_pixel_format format, uint32_t slots);

/*
 * Checks a geometry (from a peer or not) and computes its layout with
 * overflow-checked arithmetic: each slot is stride * height bytes rounded up
 * to BH_SURFACE_SLOT_ALIGN; slot i starts at i * slot_size. Returns 0 and
 * writes the sizes (each pointer may be NULL), or:
 *   -EINVAL    a zero width, height or slot count, an unknown format, a
 *              stride not a multiple of 4 or below width * 4
 *   -EOVERFLOW stride * height * slots does not fit in 64 bits
 *   -E2BIG     width, height, stride or slots above the BH_SURFACE_MAX_* limits
 *   -EFBIG     the region would exceed BH_SHM_MAX_SIZE
 */
BH_EXPORT int bh_surface_geometry_check(const bh_surface_geometry *g, uint64_t *slot_size,
					uint64_t *region_size);

/*
 * Producer: creates a surface with its own region (BH_SHM_EXCLUSIVE_WRITER:
 * no fd of it can ever be mapped writable again, so consumers cannot scribble
 * on the producer's slots; BH_SHM_POPULATE: drawing never faults). Every
 * slot starts free. Returns 0 and the surface
 * in *out (owned by the caller), or an error of bh_surface_geometry_check()
 * or bh_shm_region_create().
 */
BH_EXPORT int bh_surface_create(uint32_t surface_id, const bh_surface_geometry *g,
				bh_surface **out);

/*
 * Producer: makes a surface of a region obtained elsewhere (e.g. from the
 * broker with bh_shm_request()). Takes ownership of `region` in every case
 * (destroyed on failure). The region must be mapped read-write and hold the
 * geometry's layout: -EACCES if it is not writable, -EMSGSIZE if too small,
 * or an error of bh_surface_geometry_check().
 */
BH_EXPORT int bh_surface_create_from_region(uint32_t surface_id, const bh_surface_geometry *g,
					    bh_shm_region *region, bh_surface **out);

/*
 * Consumer: validates a surface described by a peer and maps its region
 * read-only, populated (reading a frame never faults). `region_size` is the size the peer claims; it must cover the
 * geometry's layout (-EMSGSIZE) and the fd must hold it (see
 * bh_shm_fd_check()). Takes ownership of `fd` in every case. The geometry is
 * copied: nothing the consumer uses is ever read back from shared memory.
 * Returns 0 and the surface in *out, or an error of
 * bh_surface_geometry_check() or bh_shm_region_import().
 */
BH_EXPORT int bh_surface_import(uint32_t surface_id, const bh_surface_geometry *g,
				uint64_t region_size, int fd, bh_surface **out);

/*
 * Consumer: bh_surface_import() from a received SurfaceAttach, taking its
 * fd. -EBADMSG if `msg` is not a SurfaceAttach with exactly one fd. The
 * caller checks that the surface id is not already in use.
 */
BH_EXPORT int bh_surface_handle_attach(bh_msg *msg, bh_surface **out);

/*
 * Unmaps and frees the surface. A producer should first send SurfaceDetach;
 * a consumer destroys its side when it receives one. NULL is a no-op.
 */
BH_EXPORT void bh_surface_destroy(bh_surface *s);

/* The surface id given at creation or import. */
BH_EXPORT uint32_t bh_surface_id(const bh_surface *s);
/* The geometry, valid as long as the surface. */
BH_EXPORT const bh_surface_geometry *bh_surface_get_geometry(const bh_surface *s);
/* The region, owned by the surface. */
BH_EXPORT bh_shm_region *bh_surface_region(const bh_surface *s);
/* Bytes from one slot's start to the next. */
BH_EXPORT uint64_t bh_surface_slot_size(const bh_surface *s);

/*
 * The first pixel of `slot`, or NULL if this side may not touch it now: the
 * producer gets a writable pointer to a slot it acquired; the consumer a
 * read-only one (writes fault) to a slot it holds.
 */
BH_EXPORT void *bh_surface_slot_data(const bh_surface *s, unsigned slot);

/*
 * Producer: takes a free slot to draw into (the least recently presented
 * one). Returns 0 with the slot in *slot and its pixels in *pixels (either
 * may be NULL), -EAGAIN if the consumer holds every other slot (wait for a
 * FrameRelease), -EINVAL on a consumer's surface.
 */
BH_EXPORT int bh_surface_acquire(bh_surface *s, unsigned *slot, void **pixels);

/* Producer: gives an acquired slot back unused. -EINVAL if it was not acquired. */
BH_EXPORT int bh_surface_cancel(bh_surface *s, unsigned slot);

/*
 * Producer: hands the acquired `slot` to the consumer with the next sequence
 * number and `damage` (NULL: the whole surface) and fills *frame (may be
 * NULL) with the FrameReady to send. From here the producer must not write
 * the slot until its release. -EINVAL if the slot was not acquired or the
 * damage leaves the surface.
 */
BH_EXPORT int bh_surface_present(bh_surface *s, unsigned slot, const bh_rect *damage,
				 bh_frame *frame);

/*
 * Producer: bh_surface_present() and sends the FrameReady on `ch`. If the
 * send fails (-ENOBUFS, -EPIPE...) the slot stays acquired and can be sent
 * again. Returns 0 and the frame's sequence number in *seq (may be NULL).
 */
BH_EXPORT int bh_surface_send_ready(bh_channel *ch, bh_surface *s, unsigned slot,
				    const bh_rect *damage, uint64_t *seq);

/*
 * Producer: validates a FrameRelease from the consumer and frees the slot.
 * Bad message errors: -ENXIO another surface's id, -ERANGE slot out of
 * range, -ENOENT the consumer does not hold that slot, -ESTALE the sequence
 * number is not the one the slot was sent with. The surface is unchanged on
 * error.
 */
BH_EXPORT int bh_surface_handle_release(bh_surface *s, const bh_frame *f);

/*
 * Consumer: validates a FrameReady and marks its slot held (readable through
 * bh_surface_slot_data()). Bad message errors: -ENXIO another surface's id,
 * -ERANGE slot out of range, -EILSEQ sequence number not above the last one,
 * -EDOM damage outside the surface, -EBUSY the consumer already holds the
 * slot. The surface is unchanged on error.
 */
BH_EXPORT int bh_surface_handle_ready(bh_surface *s, const bh_frame *f);

/*
 * Consumer: stops using a held slot and fills *frame (may be NULL) with the
 * FrameRelease to send. -ENOENT if the slot is not held, -EINVAL on a
 * producer's surface.
 */
BH_EXPORT int bh_surface_release(bh_surface *s, unsigned slot, bh_frame *frame);

/*
 * Consumer: bh_surface_release() and sends the FrameRelease on `ch`. If the
 * send fails the slot stays held.
 */
BH_EXPORT int bh_surface_send_release(bh_channel *ch, bh_surface *s, unsigned slot);

/*
 * Decodes a received FrameReady or FrameRelease into *out. Returns 0, or
 * -EBADMSG if `msg` is of another type or a FrameReady lacks its damage.
 * The caller finds the surface named by out->surface_id (an unknown id is a
 * bad message) and passes it to bh_surface_handle_ready/release().
 */
BH_EXPORT int bh_surface_parse_frame(const bh_msg *msg, bh_frame *out);

/*
 * Sends SurfaceAttach for `s` with `fd` attached (negative: the surface's
 * own region fd; or e.g. a bh_shm_region_open_readonly() fd; either stays
 * owned by the caller). Errors as bh_channel_send().
 */
BH_EXPORT int bh_surface_send_attach(bh_channel *ch, const bh_surface *s, int fd);

/*
 * Sends SurfaceDetach{surface_id}. Releases the consumer sent before it saw
 * the detach may still arrive: the producer ignores releases for a surface
 * it detached rather than treating them as bad messages. Errors as
 * bh_channel_send().
 */
BH_EXPORT int bh_surface_send_detach(bh_channel *ch, uint32_t surface_id);

/* Decodes a SurfaceDetach. Returns 0 and the id in *surface_id, or -EBADMSG. */
BH_EXPORT int bh_surface_parse_detach(const bh_msg *msg, uint32_t *surface_id);

/* ---- quotas (broker side) -------------------------------------------------- */

typedef struct bh_quota bh_quota;

typedef struct bh_quota_limits {
	uint64_t max_bytes;   /* shared memory a worker may hold */
	unsigned max_regions; /* regions a worker may hold */
} bh_quota_limits;

/* Default per-worker limits: 256 MiB in at most 32 regions. */
#define BH_QUOTA_DEFAULT_BYTES (UINT64_C(256) << 20)
#define BH_QUOTA_DEFAULT_REGIONS 32u

/*
 * Creates the accounting of the regions a broker allocates for its workers.
 * `defaults` applies to worker types without their own limits (NULL:
 * BH_QUOTA_DEFAULT_*). Returns 0 and the quota in *out, or -ENOMEM.
 */
BH_EXPORT int bh_quota_create(const bh_quota_limits *defaults, bh_quota **out);

/* Frees the accounting (the regions themselves belong to the workers). NULL is a no-op. */
BH_EXPORT void bh_quota_destroy(bh_quota *q);

/*
 * Sets the limits of workers of type `worker_type` (copied), replacing any
 * earlier setting. Charges already made are kept. Returns 0, -EINVAL or -ENOMEM.
 */
BH_EXPORT int bh_quota_set_type_limits(bh_quota *q, const char *worker_type,
				       const bh_quota_limits *limits);

/*
 * Charges a region of `bytes` to worker `worker_id` under the limits of
 * `worker_type` (NULL: the defaults). Returns 0 and the region's id (unique
 * per worker, never 0) in *region_id, -EDQUOT if the worker would exceed its
 * bytes or region limit (nothing is charged), -EINVAL or -ENOMEM.
 */
BH_EXPORT int bh_quota_charge(bh_quota *q, uint32_t worker_id, const char *worker_type,
			      uint64_t bytes, uint32_t *region_id);

/* Gives back one region's charge. -ENOENT if the worker holds no such region. */
BH_EXPORT int bh_quota_uncharge(bh_quota *q, uint32_t worker_id, uint32_t region_id);

/* Forgets every charge of a worker that went away. Unknown workers are a no-op. */
BH_EXPORT void bh_quota_forget_worker(bh_quota *q, uint32_t worker_id);

/* The bytes and regions charged to a worker (0 for an unknown one); pointers may be NULL. */
BH_EXPORT void bh_quota_usage(const bh_quota *q, uint32_t worker_id, uint64_t *bytes,
			      unsigned *regions);

/*
 * Broker handler of a ShmAlloc request from worker `worker_id` of type
 * `worker_type`: checks the size, charges the quota, creates a sealed
 * region (never mapped by the broker) and replies ShmAllocated with its fd;
 * the broker keeps no fd of it. A request that cannot be served gets an
 * Error reply with the code, and the code is returned: -EINVAL (size 0),
 * -EFBIG (size above BH_SHM_MAX_SIZE), -EDQUOT (over quota), or a local
 * error (-ENOMEM, -EMFILE). Returns -EBADMSG, without replying, if `msg` is
 * not a ShmAlloc request: the caller treats that as a bad message.
 */
BH_EXPORT int bh_quota_handle_alloc(bh_quota *q, bh_channel *ch, const bh_msg *msg,
				    uint32_t worker_id, const char *worker_type);

#ifdef __cplusplus
}
#endif
#endif
