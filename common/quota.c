/*
 * Shared memory quotas: what the broker has allocated for each worker.
 *
 * A region given to a worker cannot be taken back while the worker lives:
 * it holds the fd and can keep the pages alive whatever it says. So a charge
 * lasts until the broker itself decides otherwise (bh_quota_uncharge(), for
 * an application that can verify a region is gone) or the worker goes away.
 */
#include <stdlib.h>
#include <string.h>

#include <bulkhead/shm.h>

#include "bulkhead.pb-c.h"
#include "common/internal.h"

struct charge {
	uint32_t region_id;
	uint64_t bytes;
};

struct worker {
	uint32_t id;
	uint32_t next_region_id;
	uint64_t bytes;
	struct charge *charges; /* `regions` used, `cap` allocated */
	unsigned regions, cap;
};

struct type_limits {
	char *name;
	bh_quota_limits limits;
};

struct bh_quota {
	bh_quota_limits defaults;
	struct type_limits *types;
	size_t ntypes;
	struct worker *workers;
	size_t nworkers, cap;
};

int bh_quota_create(const bh_quota_limits *defaults, bh_quota **out)
{
	bh_quota *q = calloc(1, sizeof *q);

	if (!q)
		return -ENOMEM;
	if (defaults) {
		q->defaults = *defaults;
	} else {
		q->defaults.max_bytes = BH_QUOTA_DEFAULT_BYTES;
		q->defaults.max_regions = BH_QUOTA_DEFAULT_REGIONS;
	}
	*out = q;
	return 0;
}

void bh_quota_destroy(bh_quota *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->ntypes; i++)
		free(q->types[i].name);
	for (size_t i = 0; i < q->nworkers; i++)
		free(q->workers[i].charges);
	free(q->types);
	free(q->workers);
	free(q);
}

int bh_quota_set_type_limits(bh_quota *q, const char *worker_type, const bh_quota_limits *limits)
{
	struct type_limits *t;
	char *name;

	if (!worker_type || !limits)
		return -EINVAL;
	for (size_t i = 0; i < q->ntypes; i++) {
		if (strcmp(q->types[i].name, worker_type) == 0) {
			q->types[i].limits = *limits;
			return 0;
		}
	}
	name = strdup(worker_type);
	if (!name)
		return -ENOMEM;
	t = realloc(q->types, (q->ntypes + 1) * sizeof *t);
	if (!t) {
		free(name);
		return -ENOMEM;
	}
	q->types = t;
	t[q->ntypes].name = name;
	t[q->ntypes].limits = *limits;
	q->ntypes++;
	return 0;
}

static const bh_quota_limits *limits_of(const bh_quota *q, const char *worker_type)
{
	if (worker_type) {
		for (size_t i = 0; i < q->ntypes; i++) {
			if (strcmp(q->types[i].name, worker_type) == 0)
				return &q->types[i].limits;
		}
	}
	return &q->defaults;
}

static struct worker *find_worker(const bh_quota *q, uint32_t worker_id)
{
	for (size_t i = 0; i < q->nworkers; i++) {
		if (q->workers[i].id == worker_id)
			return &q->workers[i];
	}
	return NULL;
}

static struct worker *get_worker(bh_quota *q, uint32_t worker_id)
{
	struct worker *w = find_worker(q, worker_id);

	if (w)
		return w;
	if (q->nworkers == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 8;

		w = realloc(q->workers, cap * sizeof *w);
		if (!w)
			return NULL;
		q->workers = w;
		q->cap = cap;
	}
	w = &q->workers[q->nworkers++];
	memset(w, 0, sizeof *w);
	w->id = worker_id;
	return w;
}

int bh_quota_charge(bh_quota *q, uint32_t worker_id, const char *worker_type, uint64_t bytes,
		    uint32_t *region_id)
{
	const bh_quota_limits *lim = limits_of(q, worker_type);
	struct worker *w;
	uint64_t total;
	uint32_t id;

	if (bytes == 0)
		return -EINVAL;
	w = get_worker(q, worker_id);
	if (!w)
		return -ENOMEM;
	if (__builtin_add_overflow(w->bytes, bytes, &total) || total > lim->max_bytes ||
	    w->regions >= lim->max_regions)
		return -EDQUOT;
	if (w->regions == w->cap) {
		unsigned cap = w->cap ? w->cap * 2 : 4;
		struct charge *c = realloc(w->charges, cap * sizeof *c);

		if (!c)
			return -ENOMEM;
		w->charges = c;
		w->cap = cap;
	}
	/* Ids are never 0 and, within 2^32 allocations, never reused. */
	id = ++w->next_region_id;
	if (id == 0)
		id = ++w->next_region_id;
	w->charges[w->regions].region_id = id;
	w->charges[w->regions].bytes = bytes;
	w->regions++;
	w->bytes = total;
	*region_id = id;
	return 0;
}

int bh_quota_uncharge(bh_quota *q, uint32_t worker_id, uint32_t region_id)
{
	struct worker *w = find_worker(q, worker_id);

	if (!w)
		return -ENOENT;
	for (unsigned i = 0; i < w->regions; i++) {
		if (w->charges[i].region_id != region_id)
			continue;
		w->bytes -= w->charges[i].bytes;
		w->charges[i] = w->charges[--w->regions];
		return 0;
	}
	return -ENOENT;
}

void bh_quota_forget_worker(bh_quota *q, uint32_t worker_id)
{
	struct worker *w = find_worker(q, worker_id);

	if (!w)
		return;
	free(w->charges);
	*w = q->workers[--q->nworkers];
}

void bh_quota_usage(const bh_quota *q, uint32_t worker_id, uint64_t *bytes, unsigned *regions)
{
	const struct worker *w = find_worker(q, worker_id);

	if (bytes)
		*bytes = w ? w->bytes : 0;
	if (regions)
		*regions = w ? w->regions : 0;
}

int bh_quota_handle_alloc(bh_quota *q, bh_channel *ch, const bh_msg *msg, uint32_t worker_id,
			  const char *worker_type)
{
	Bh__ShmAllocated reply = BH__SHM_ALLOCATED__INIT;
	const Bh__ShmAlloc *req;
	bh_shm_region *region = NULL;
	uint32_t region_id = 0;
	const char *why;
	int fd, r;

	if (bh_msg_type(msg) != BH_MSG_SHM_ALLOC || !(bh_msg_flags(msg) & BH_FLAG_REQUEST))
		return -EBADMSG;
	req = (const Bh__ShmAlloc *)bh_msg_body(msg);
	if (req->size == 0) {
		r = -EINVAL;
		why = "shared memory request of zero bytes";
		goto refuse;
	}
	if (req->size > BH_SHM_MAX_SIZE) {
		r = -EFBIG;
		why = "shared memory request above the region size limit";
		goto refuse;
	}
	r = bh_quota_charge(q, worker_id, worker_type, req->size, &region_id);
	if (r < 0) {
		why = r == -EDQUOT ? "shared memory quota exceeded" : "cannot account the region";
		goto refuse;
	}
	/* The broker never maps what it allocates for a worker: it has no use for the pixels. */
	r = bh_shm_region_create(req->size, BH_SHM_NO_MAP, &region);
	if (r < 0) {
		why = "cannot create the region";
		goto refuse;
	}
	reply.size = req->size;
	reply.region_id = region_id;
	fd = bh_shm_region_fd(region);
	/* The channel queues a duplicate of the fd; the broker's own copy goes now. */
	r = bh_channel_reply(ch, msg, BH_MSG_SHM_ALLOCATED, &reply.base, &fd, 1);
	bh_shm_region_destroy(region);
	if (r < 0) {
		bh_quota_uncharge(q, worker_id, region_id);
		return r;
	}
	return 0;

refuse:
	if (region_id)
		bh_quota_uncharge(q, worker_id, region_id);
	/* Best effort: if even the error cannot be queued, the caller sees r anyway. */
	(void)bh_channel_reply_error(ch, msg, -r, why);
	return r;
}
