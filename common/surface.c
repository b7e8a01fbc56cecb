/*
 * Surfaces: frame slots in one sealed region, and the slot ownership
 * protocol (FrameReady / FrameRelease) between a producer and a consumer.
 *
 * Nothing here ever reads a number out of the shared memory: the geometry is
 * copied out of the SurfaceAttach message once, checked, and every offset is
 * computed from that copy. The pixels themselves are opaque data whose
 * values cannot steer any access.
 */
#include <stdlib.h>
#include <string.h>

#include <bulkhead/shm.h>

#include "bulkhead.pb-c.h"
#include "common/internal.h"

enum slot_state {
	SLOT_FREE,        /* producer: may be acquired; consumer: not held */
	SLOT_DRAWING,     /* producer: acquired, being drawn */
	SLOT_AT_CONSUMER, /* producer: sent, awaiting its release */
	SLOT_HELD,        /* consumer: received, not yet released */
};

struct slot {
	enum slot_state state;
	uint64_t seq;  /* of the frame last sent (producer) or held (consumer) */
	uint64_t used; /* producer: present counter, to pick the least recent free slot */
};

struct bh_surface {
	uint32_t id;
	bool producer;
	bh_surface_geometry geom;
	uint64_t slot_size;
	bh_shm_region *region;
	uint8_t *base;
	uint64_t seq;      /* producer: last sent; consumer: last accepted */
	uint64_t presents; /* producer: frames presented */
	struct slot slots[BH_SURFACE_MAX_SLOTS];
};

int bh_surface_geometry_check(const bh_surface_geometry *g, uint64_t *slot_size,
			      uint64_t *region_size)
{
	uint64_t row_min, bytes, slot, total;

	if (g->width == 0 || g->height == 0 || g->slots == 0)
		return -EINVAL;
	if (g->format != BH_PIXEL_ARGB8888 && g->format != BH_PIXEL_XRGB8888)
		return -EINVAL;
	/*
	 * The arithmetic comes before the limits, all of it checked, so that it
	 * stays correct whatever the limits become.
	 */
	if (__builtin_mul_overflow((uint64_t)g->width, 4u, &row_min))
		return -EOVERFLOW;
	if (g->stride % 4 != 0 || g->stride < row_min)
		return -EINVAL;
	if (__builtin_mul_overflow((uint64_t)g->stride, (uint64_t)g->height, &bytes) ||
	    __builtin_add_overflow(bytes, (uint64_t)BH_SURFACE_SLOT_ALIGN - 1, &slot))
		return -EOVERFLOW;
	slot &= ~((uint64_t)BH_SURFACE_SLOT_ALIGN - 1);
	if (__builtin_mul_overflow(slot, (uint64_t)g->slots, &total))
		return -EOVERFLOW;
	if (g->width > BH_SURFACE_MAX_DIM || g->height > BH_SURFACE_MAX_DIM ||
	    g->stride > BH_SURFACE_MAX_STRIDE || g->slots > BH_SURFACE_MAX_SLOTS)
		return -E2BIG;
	if (total > BH_SHM_MAX_SIZE)
		return -EFBIG;
	if (slot_size)
		*slot_size = slot;
	if (region_size)
		*region_size = total;
	return 0;
}

int bh_surface_geometry_init(bh_surface_geometry *g, uint32_t width, uint32_t height,
			     bh_pixel_format format, uint32_t slots)
{
	bh_surface_geometry t = {
		.width = width,
		.height = height,
		.format = (uint32_t)format,
		.slots = slots,
	};
	int r;

	/* A width above the limit is reported as such, not as a stride overflow. */
	if (width > BH_SURFACE_MAX_DIM)
		return -E2BIG;
	t.stride = width * 4;
	r = bh_surface_geometry_check(&t, NULL, NULL);
	if (r < 0)
		return r;
	*g = t;
	return 0;
}

/* Takes ownership of `region` in every case. */
static int surface_new(uint32_t id, bool producer, const bh_surface_geometry *g,
		       bh_shm_region *region, bh_surface **out)
{
	uint64_t slot_size, need;
	bh_surface *s;
	int r;

	r = bh_surface_geometry_check(g, &slot_size, &need);
	if (r < 0)
		goto fail;
	if (bh_shm_region_size(region) < need) {
		r = -EMSGSIZE;
		goto fail;
	}
	if (!bh_shm_region_data(region) || bh_shm_region_writable(region) != producer) {
		r = -EACCES;
		goto fail;
	}
	s = calloc(1, sizeof *s);
	if (!s) {
		r = -ENOMEM;
		goto fail;
	}
	s->id = id;
	s->producer = producer;
	s->geom = *g;
	s->slot_size = slot_size;
	s->region = region;
	s->base = bh_shm_region_data(region);
	*out = s;
	return 0;

fail:
	bh_shm_region_destroy(region);
	return r;
}

int bh_surface_create(uint32_t surface_id, const bh_surface_geometry *g, bh_surface **out)
{
	bh_shm_region *region;
	uint64_t size;
	int r;

	r = bh_surface_geometry_check(g, NULL, &size);
	if (r < 0)
		return r;
	r = bh_shm_region_create(size, BH_SHM_EXCLUSIVE_WRITER | BH_SHM_POPULATE, &region);
	if (r < 0)
		return r;
	return surface_new(surface_id, true, g, region, out);
}

int bh_surface_create_from_region(uint32_t surface_id, const bh_surface_geometry *g,
				  bh_shm_region *region, bh_surface **out)
{
	return surface_new(surface_id, true, g, region, out);
}

int bh_surface_import(uint32_t surface_id, const bh_surface_geometry *g, uint64_t region_size,
		      int fd, bh_surface **out)
{
	bh_shm_region *region;
	uint64_t need;
	int r;

	r = bh_surface_geometry_check(g, NULL, &need);
	if (r < 0)
		goto fail;
	if (region_size > BH_SHM_MAX_SIZE) {
		r = -EFBIG;
		goto fail;
	}
	if (region_size < need) {
		r = -EMSGSIZE;
		goto fail;
	}
	/* Only the slots are mapped; a larger claim is checked against the file but not mapped. */
	r = bh_shm_fd_check(fd, region_size, BH_SHM_READ_ONLY);
	if (r < 0)
		goto fail;
	r = bh_shm_region_import(fd, need, BH_SHM_READ_ONLY | BH_SHM_POPULATE, &region);
	if (r < 0)
		return r; /* the fd is closed */
	return surface_new(surface_id, false, g, region, out);

fail:
	bh__close(fd);
	return r;
}

int bh_surface_handle_attach(bh_msg *msg, bh_surface **out)
{
	const Bh__SurfaceAttach *a;
	bh_surface_geometry g;
	int fd;

	if (bh_msg_type(msg) != BH_MSG_SURFACE_ATTACH || bh_msg_nfds(msg) != 1)
		return -EBADMSG;
	a = (const Bh__SurfaceAttach *)bh_msg_body(msg);
	fd = bh_msg_take_fd(msg, 0);
	if (fd < 0)
		return -EBADMSG;
	g = (bh_surface_geometry){
		.width = a->width,
		.height = a->height,
		.stride = a->stride,
		.format = a->format,
		.slots = a->slots,
	};
	return bh_surface_import(a->surface_id, &g, a->region_size, fd, out);
}

void bh_surface_destroy(bh_surface *s)
{
	if (!s)
		return;
	bh_shm_region_destroy(s->region);
	free(s);
}

uint32_t bh_surface_id(const bh_surface *s)
{
	return s->id;
}

const bh_surface_geometry *bh_surface_get_geometry(const bh_surface *s)
{
	return &s->geom;
}

bh_shm_region *bh_surface_region(const bh_surface *s)
{
	return s->region;
}

uint64_t bh_surface_slot_size(const bh_surface *s)
{
	return s->slot_size;
}

void *bh_surface_slot_data(const bh_surface *s, unsigned slot)
{
	enum slot_state mine = s->producer ? SLOT_DRAWING : SLOT_HELD;

	if (slot >= s->geom.slots || s->slots[slot].state != mine)
		return NULL;
	/* slot < slots and slots * slot_size <= the mapped size: checked at creation. */
	return s->base + (size_t)(slot * s->slot_size);
}

/* Overflow-free: the fields are 32-bit, the sums are taken in 64 bits. */
static bool rect_inside(const bh_rect *d, const bh_surface_geometry *g)
{
	return (uint64_t)d->x + d->width <= g->width && (uint64_t)d->y + d->height <= g->height;
}

/* ---- producer ------------------------------------------------------------ */

int bh_surface_acquire(bh_surface *s, unsigned *slot, void **pixels)
{
	unsigned best = BH_SURFACE_MAX_SLOTS;

	if (!s->producer)
		return -EINVAL;
	for (unsigned i = 0; i < s->geom.slots; i++) {
		if (s->slots[i].state != SLOT_FREE)
			continue;
		if (best == BH_SURFACE_MAX_SLOTS || s->slots[i].used < s->slots[best].used)
			best = i;
	}
	if (best == BH_SURFACE_MAX_SLOTS)
		return -EAGAIN;
	s->slots[best].state = SLOT_DRAWING;
	if (slot)
		*slot = best;
	if (pixels)
		*pixels = bh_surface_slot_data(s, best);
	return 0;
}

int bh_surface_cancel(bh_surface *s, unsigned slot)
{
	if (!s->producer || slot >= s->geom.slots || s->slots[slot].state != SLOT_DRAWING)
		return -EINVAL;
	s->slots[slot].state = SLOT_FREE;
	return 0;
}

int bh_surface_present(bh_surface *s, unsigned slot, const bh_rect *damage, bh_frame *frame)
{
	bh_rect full = { 0, 0, s->geom.width, s->geom.height };
	struct slot *sl;

	if (!s->producer || slot >= s->geom.slots || s->slots[slot].state != SLOT_DRAWING)
		return -EINVAL;
	if (damage && !rect_inside(damage, &s->geom))
		return -EINVAL;
	if (s->seq == UINT64_MAX)
		return -EOVERFLOW;
	sl = &s->slots[slot];
	sl->state = SLOT_AT_CONSUMER;
	sl->seq = ++s->seq;
	sl->used = ++s->presents;
	if (frame) {
		frame->surface_id = s->id;
		frame->slot = slot;
		frame->seq = sl->seq;
		frame->damage = damage ? *damage : full;
	}
	return 0;
}

int bh_surface_send_ready(bh_channel *ch, bh_surface *s, unsigned slot, const bh_rect *damage,
			  uint64_t *seq)
{
	Bh__FrameReady m = BH__FRAME_READY__INIT;
	Bh__Rect rect = BH__RECT__INIT;
	bh_frame f;
	int r;

	r = bh_surface_present(s, slot, damage, &f);
	if (r < 0)
		return r;
	rect.x = f.damage.x;
	rect.y = f.damage.y;
	rect.width = f.damage.width;
	rect.height = f.damage.height;
	m.surface_id = f.surface_id;
	m.slot = f.slot;
	m.seq = f.seq;
	m.damage = &rect;
	r = bh_channel_send(ch, BH_MSG_FRAME_READY, &m.base, NULL, 0);
	if (r < 0) {
		/* The consumer never saw it: the slot is the producer's again. The
		 * sequence number stays used, which only leaves a gap. */
		s->slots[slot].state = SLOT_DRAWING;
		return r;
	}
	if (seq)
		*seq = f.seq;
	return 0;
}

int bh_surface_handle_release(bh_surface *s, const bh_frame *f)
{
	if (!s->producer)
		return -EINVAL;
	if (f->surface_id != s->id)
		return -ENXIO;
	if (f->slot >= s->geom.slots)
		return -ERANGE;
	if (s->slots[f->slot].state != SLOT_AT_CONSUMER)
		return -ENOENT;
	if (s->slots[f->slot].seq != f->seq)
		return -ESTALE;
	s->slots[f->slot].state = SLOT_FREE;
	return 0;
}

/* ---- consumer ------------------------------------------------------------ */

int bh_surface_handle_ready(bh_surface *s, const bh_frame *f)
{
	if (s->producer)
		return -EINVAL;
	if (f->surface_id != s->id)
		return -ENXIO;
	if (f->slot >= s->geom.slots)
		return -ERANGE;
	if (f->seq <= s->seq)
		return -EILSEQ;
	if (!rect_inside(&f->damage, &s->geom))
		return -EDOM;
	if (s->slots[f->slot].state == SLOT_HELD)
		return -EBUSY;
	s->slots[f->slot].state = SLOT_HELD;
	s->slots[f->slot].seq = f->seq;
	s->seq = f->seq;
	return 0;
}

int bh_surface_release(bh_surface *s, unsigned slot, bh_frame *frame)
{
	if (s->producer)
		return -EINVAL;
	if (slot >= s->geom.slots || s->slots[slot].state != SLOT_HELD)
		return -ENOENT;
	s->slots[slot].state = SLOT_FREE;
	if (frame) {
		memset(frame, 0, sizeof *frame);
		frame->surface_id = s->id;
		frame->slot = slot;
		frame->seq = s->slots[slot].seq;
	}
	return 0;
}

int bh_surface_send_release(bh_channel *ch, bh_surface *s, unsigned slot)
{
	Bh__FrameRelease m = BH__FRAME_RELEASE__INIT;
	bh_frame f;
	int r;

	r = bh_surface_release(s, slot, &f);
	if (r < 0)
		return r;
	m.surface_id = f.surface_id;
	m.slot = f.slot;
	m.seq = f.seq;
	r = bh_channel_send(ch, BH_MSG_FRAME_RELEASE, &m.base, NULL, 0);
	if (r < 0)
		s->slots[slot].state = SLOT_HELD;
	return r;
}

/* ---- messages ------------------------------------------------------------ */

int bh_surface_parse_frame(const bh_msg *msg, bh_frame *out)
{
	bh_frame f;

	memset(&f, 0, sizeof f);
	switch (bh_msg_type(msg)) {
	case BH_MSG_FRAME_READY: {
		const Bh__FrameReady *m = (const Bh__FrameReady *)bh_msg_body(msg);

		/* An absent damage is refused rather than guessed: senders always set it. */
		if (!m->damage)
			return -EBADMSG;
		f.surface_id = m->surface_id;
		f.slot = m->slot;
		f.seq = m->seq;
		f.damage.x = m->damage->x;
		f.damage.y = m->damage->y;
		f.damage.width = m->damage->width;
		f.damage.height = m->damage->height;
		break;
	}
	case BH_MSG_FRAME_RELEASE: {
		const Bh__FrameRelease *m = (const Bh__FrameRelease *)bh_msg_body(msg);

		f.surface_id = m->surface_id;
		f.slot = m->slot;
		f.seq = m->seq;
		break;
	}
	default:
		return -EBADMSG;
	}
	*out = f;
	return 0;
}

int bh_surface_send_attach(bh_channel *ch, const bh_surface *s, int fd)
{
	Bh__SurfaceAttach m = BH__SURFACE_ATTACH__INIT;

	if (fd < 0)
		fd = bh_shm_region_fd(s->region);
	m.surface_id = s->id;
	m.width = s->geom.width;
	m.height = s->geom.height;
	m.stride = s->geom.stride;
	m.format = s->geom.format;
	m.slots = s->geom.slots;
	m.region_size = s->slot_size * s->geom.slots;
	return bh_channel_send(ch, BH_MSG_SURFACE_ATTACH, &m.base, &fd, 1);
}

int bh_surface_send_detach(bh_channel *ch, uint32_t surface_id)
{
	Bh__SurfaceDetach m = BH__SURFACE_DETACH__INIT;

	m.surface_id = surface_id;
	return bh_channel_send(ch, BH_MSG_SURFACE_DETACH, &m.base, NULL, 0);
}

int bh_surface_parse_detach(const bh_msg *msg, uint32_t *surface_id)
{
	if (bh_msg_type(msg) != BH_MSG_SURFACE_DETACH)
		return -EBADMSG;
	*surface_id = ((const Bh__SurfaceDetach *)bh_msg_body(msg))->surface_id;
	return 0;
}
