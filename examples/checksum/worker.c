/*
 * The "hasher" worker. It runs in the sandbox of the "checksum" profile: it
 * cannot open a file or a socket, and owns nothing but its channel to the
 * broker. It maps each region it is handed read-only, hashes it and replies.
 *
 * Hashing is done in slices from a deferred callback, so that the event loop
 * keeps turning between slices: the framework's heartbeats go out on time
 * and the broker's hang watchdog does not mistake a big file for a hang.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "checksum.h"
#include "sha256.h"

/* Bytes hashed per loop round: a few milliseconds of work. */
#define SLICE (4u << 20)

struct hasher {
	bh_worker_ctx *ctx;
	bh_defer *step;
	bh_shm_region *region; /* the job in progress, or NULL */
	uint32_t job_id;
	uint64_t length, done;
	struct sha256 sha;
};

static void reply(struct hasher *h, uint32_t job_id, const uint8_t *digest, int err)
{
	Checksum__Result res = CHECKSUM__RESULT__INIT;
	int r;

	res.job_id = job_id;
	if (digest) {
		res.sha256.data = (uint8_t *)digest;
		res.sha256.len = SHA256_DIGEST_SIZE;
	}
	res.error = err;
	r = bh_channel_send(bh_worker_ctx_channel(h->ctx), CHECKSUM_MSG_RESULT, &res.base, NULL, 0);
	if (r < 0) {
		/* The queue is bounded and we send one small message per job: only a
		 * dead broker gets here, and then the worker is about to end anyway. */
		bh_loop_quit(bh_worker_ctx_loop(h->ctx), 1);
	}
}

static void step(bh_defer *d, void *userdata)
{
	struct hasher *h = userdata;
	const uint8_t *data = bh_shm_region_data(h->region);
	uint64_t n = h->length - h->done < SLICE ? h->length - h->done : SLICE;
	uint8_t digest[SHA256_DIGEST_SIZE];

	sha256_update(&h->sha, data + h->done, (size_t)n);
	h->done += n;
	if (h->done < h->length) {
		bh_defer_schedule(d);
		return;
	}
	sha256_final(&h->sha, digest);
	bh_shm_region_destroy(h->region);
	h->region = NULL;
	reply(h, h->job_id, digest, 0);
}

/* Pretends to be compromised: tries to reach the network. The seccomp filter kills it. */
static void misbehave(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	/* Not reached under the "checksum" profile. */
	if (fd >= 0)
		close(fd);
}

static void on_message(bh_worker_ctx *ctx, bh_msg *msg, void *userdata)
{
	struct hasher *h = userdata;
	const Checksum__Job *job;
	bh_shm_region *region;
	int fd, r;

	(void)ctx;
	if (bh_msg_type(msg) != CHECKSUM_MSG_JOB)
		return;
	job = (const Checksum__Job *)bh_msg_body(msg);
	if (job->misbehave)
		misbehave();
	if (h->region) {
		reply(h, job->job_id, NULL, EBUSY); /* the broker sends one job at a time */
		return;
	}
	if (job->length > job->region_size) {
		reply(h, job->job_id, NULL, EINVAL);
		return;
	}
	/*
	 * The registry guarantees the fd is there (min_fds = 1). Taking it makes
	 * it ours; bh_shm_region_import() then owns it, success or not, after
	 * checking it is a sealed memfd of at least region_size bytes.
	 */
	fd = bh_msg_take_fd(msg, 0);
	r = bh_shm_region_import(fd, job->region_size, BH_SHM_READ_ONLY, &region);
	if (r < 0) {
		reply(h, job->job_id, NULL, -r);
		return;
	}
	/* One front-to-back pass: the extra rule of the "checksum" profile. */
	(void)madvise(bh_shm_region_data(region), (size_t)job->region_size, MADV_SEQUENTIAL);
	h->region = region;
	h->job_id = job->job_id;
	h->length = job->length;
	h->done = 0;
	sha256_init(&h->sha);
	bh_defer_schedule(h->step);
}

int checksum_worker_main(bh_worker_ctx *ctx, void *arg)
{
	struct hasher h = { .ctx = ctx };
	int r;

	(void)arg;
	r = bh_defer_create(bh_worker_ctx_loop(ctx), step, &h, &h.step);
	if (r < 0)
		return BH_WORKER_EXIT_OOM;
	bh_worker_ctx_set_handler(ctx, on_message, &h);
	r = bh_worker_ctx_run(ctx);
	bh_defer_destroy(h.step);
	bh_shm_region_destroy(h.region);
	return r;
}
