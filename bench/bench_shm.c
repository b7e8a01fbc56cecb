/*
 * Shared memory suite: handing a 1920x1080 and a 3840x2160 ARGB8888 frame
 * from one process to another through a surface (FrameReady, the consumer
 * checks two rows of a 64x64 damage rectangle, FrameRelease) beside copying
 * the same frame through a SOCK_STREAM socketpair and beside a raw
 * SOCK_SEQPACKET ping-pong (the floor: two wake-ups); page faults and new
 * regions per frame in the steady state on both sides; and the cost of a new
 * region (create, map, first touch of every page, destroy) against reusing
 * one.
 *
 * Targets: 4K handoff <= 1.3x the 1080p handoff (the cost must not grow with
 * the frame); 1080p handoff >= 20x faster than the socket copy (ratio
 * <= 0.05); no page fault and no new region per frame once warm.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bulkhead/channel.h>
#include <bulkhead/shm.h>

#include "bench/bench.h"
#include "common/internal.h"

#define DAMAGE 64u /* side of the square the producer draws and the consumer reads */
#define PAGE 4096u

struct frame_size {
	const char *name;
	uint32_t width, height;
};

static const struct frame_size sizes[] = {
	{ "1080p", 1920, 1080 },
	{ "4k", 3840, 2160 },
};

static uint64_t minor_faults(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (uint64_t)ru.ru_minflt;
}

/* Regions mapped by this process: memfd mappings in /proc/self/maps. */
static int memfd_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		if (strstr(line, "/memfd:"))
			n++;
	}
	fclose(f);
	return n;
}

static int wait_child(pid_t pid)
{
	int status = 0;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
}

/* ---- surface handoff ------------------------------------------------------- */

/*
 * Both frame sizes go through one producer/consumer pair, frames alternating
 * between a 1080p and a 4K surface, so that whatever else the machine does
 * weighs on both sizes alike and their ratio stays meaningful.
 */
#define NSIZES (sizeof sizes / sizeof sizes[0])

struct endpoint {
	bh_loop *loop;
	bh_registry *reg;
	bh_channel *ch;
	bh_surface *s[NSIZES]; /* surface id i + 1 */
	int closed, failed;
	/* consumer */
	uint64_t frames, warmup, faults_at_warm, bad_pixels;
	/* producer */
	int released;
};

static bh_surface **surface_slot(struct endpoint *e, uint32_t id)
{
	return id >= 1 && id <= NSIZES ? &e->s[id - 1] : NULL;
}

static void on_close(bh_channel *ch, int err, void *ud)
{
	struct endpoint *e = ud;

	(void)ch;
	(void)err;
	e->closed = 1;
	bh_loop_quit(e->loop, 0);
}

static void on_bad(bh_channel *ch, int reason, const char *detail, void *ud)
{
	struct endpoint *e = ud;

	(void)ch;
	(void)reason;
	(void)detail;
	e->failed = 1;
	e->closed = 1;
	bh_loop_quit(e->loop, 1);
}

static void consumer_on_message(bh_channel *ch, bh_msg *msg, void *ud)
{
	struct endpoint *e = ud;
	const bh_surface_geometry *g;
	bh_surface **sp, *s;
	const uint8_t *pix;
	bh_frame f;
	int r;

	if (bh_msg_type(msg) == BH_MSG_SURFACE_ATTACH) {
		r = bh_surface_handle_attach(msg, &s);
		if (r == 0) {
			sp = surface_slot(e, bh_surface_id(s));
			if (!sp || *sp) {
				bh_surface_destroy(s);
				r = -ENXIO;
			} else {
				*sp = s;
			}
		}
		if (r < 0)
			bh_channel_bad_message(ch, bh_shm_strerror(r));
		return;
	}
	r = bh_surface_parse_frame(msg, &f);
	sp = r == 0 ? surface_slot(e, f.surface_id) : NULL;
	if (r == 0)
		r = sp && *sp ? bh_surface_handle_ready(*sp, &f) : -ENXIO;
	if (r < 0) {
		bh_channel_bad_message(ch, bh_shm_strerror(r));
		return;
	}
	/*
	 * Checks a small part of the damage, its first and last rows, whatever
	 * the frame's size: the handoff is measured, not the consumer's work
	 * (reading all 64 rows, freshly written on another core, costs about as
	 * much again as the two messages).
	 */
	g = bh_surface_get_geometry(*sp);
	pix = bh_surface_slot_data(*sp, f.slot);
	for (uint32_t y = f.damage.y; y < f.damage.y + f.damage.height;
	     y += f.damage.height > 1 ? f.damage.height - 1 : 1) {
		const uint32_t *row = (const uint32_t *)(pix + (size_t)y * g->stride);

		for (uint32_t x = f.damage.x; x < f.damage.x + f.damage.width; x++)
			e->bad_pixels += row[x] != (uint32_t)f.seq;
	}
	if (bh_surface_send_release(ch, *sp, f.slot) < 0 || bh_channel_flush(ch) < 0) {
		e->failed = 1;
		bh_loop_quit(e->loop, 1);
		return;
	}
	if (++e->frames == e->warmup)
		e->faults_at_warm = minor_faults();
}

static const bh_channel_ops consumer_ops = {
	.on_message = consumer_on_message,
	.on_bad_message = on_bad,
	.on_close = on_close,
};

static void producer_on_message(bh_channel *ch, bh_msg *msg, void *ud)
{
	struct endpoint *e = ud;
	bh_surface **sp = NULL;
	bh_frame f;
	int r;

	r = bh_surface_parse_frame(msg, &f);
	if (r == 0)
		sp = surface_slot(e, f.surface_id);
	if (r == 0)
		r = sp ? bh_surface_handle_release(*sp, &f) : -ENXIO;
	if (r < 0) {
		bh_channel_bad_message(ch, bh_shm_strerror(r));
		return;
	}
	e->released = 1;
}

static const bh_channel_ops producer_ops = {
	.on_message = producer_on_message,
	.on_bad_message = on_bad,
	.on_close = on_close,
};

static int endpoint_init(struct endpoint *e, int fd, const bh_channel_ops *ops)
{
	int r;

	memset(e, 0, sizeof *e);
	r = bh_loop_create(&e->loop);
	if (r == 0)
		r = bh_registry_create(&e->reg);
	if (r == 0)
		return bh_channel_create(e->loop, e->reg, fd, ops, e, NULL, &e->ch);
	close(fd);
	return r;
}

static void endpoint_fini(struct endpoint *e)
{
	bh_channel_destroy(e->ch);
	for (size_t i = 0; i < NSIZES; i++)
		bh_surface_destroy(e->s[i]);
	bh_loop_destroy(e->loop);
	bh_registry_destroy(e->reg);
}

/* Consumer process: reports its page faults per steady-state frame on `report_fd`. */
__attribute__((noreturn)) static void consumer_main(int fd, int report_fd, uint64_t warmup)
{
	struct endpoint e;
	double per_frame = -1;

	if (endpoint_init(&e, fd, &consumer_ops) < 0)
		_exit(1);
	e.warmup = warmup;
	while (!e.closed) {
		if (bh_loop_run(e.loop) < 0)
			break;
	}
	if (e.frames > warmup)
		per_frame = (double)(minor_faults() - e.faults_at_warm) / (double)(e.frames - warmup);
	if (write(report_fd, &per_frame, sizeof per_frame) != (ssize_t)sizeof per_frame)
		_exit(1);
	_exit(e.failed || e.bad_pixels ? 1 : 0);
}

/* Steady-state totals, accumulated over rounds. */
struct handoff_stats {
	uint64_t frames;          /* measured frames, both sizes */
	uint64_t producer_faults; /* minor faults over those frames */
	double consumer_faults;   /* sum over rounds of the consumer's faults per frame * frames */
	int new_regions;          /* regions the producer mapped meanwhile */
};

/* One frame on surface `s`: draw the damage, FrameReady, wait for FrameRelease. */
static int one_frame(struct endpoint *e, bh_surface *s, unsigned i, double *lat_us)
{
	const bh_surface_geometry *g = bh_surface_get_geometry(s);
	bh_rect dmg = { (i * 7) % (g->width - DAMAGE), (i * 3) % (g->height - DAMAGE), DAMAGE,
			DAMAGE };
	uint64_t seq = 0, t0;
	unsigned slot;
	uint8_t *pix;
	int r;

	r = bh_surface_acquire(s, &slot, (void **)&pix);
	if (r < 0)
		return r;
	/* The pixels carry the frame's sequence number: i / NSIZES + 1 on this surface. */
	for (uint32_t y = dmg.y; y < dmg.y + DAMAGE; y++) {
		uint32_t *row = (uint32_t *)(pix + (size_t)y * g->stride);

		for (uint32_t x = dmg.x; x < dmg.x + DAMAGE; x++)
			row[x] = i / NSIZES + 1;
	}
	t0 = bh_now_ns();
	e->released = 0;
	r = bh_surface_send_ready(e->ch, s, slot, &dmg, &seq);
	if (r == 0 && seq != i / NSIZES + 1)
		r = -EPROTO;
	if (r == 0 && bh_channel_flush(e->ch) < 0)
		r = -EPIPE;
	while (r == 0 && !e->released && !e->closed)
		r = bh_loop_run_once(e->loop, 5000) < 0 ? -EIO : 0;
	if (r == 0 && !e->released)
		r = -EPIPE;
	if (r == 0)
		*lat_us = (double)(bh_now_ns() - t0) / 1e3;
	return r;
}

/*
 * One producer/consumer pair: `warmup` then `iters` frames per size,
 * alternating sizes; lat[k][0 .. iters) get the round trips of size k.
 */
static int handoff(unsigned warmup, unsigned iters, double *lat[NSIZES], struct handoff_stats *st)
{
	uint64_t faults0 = 0, faults1 = 0;
	int sv[2], rp[2], r = 0, maps0 = 0, maps1 = 0;
	double sink, consumer_faults = 0;
	struct endpoint e;
	pid_t pid;

	if (bh_channel_socketpair(sv) < 0)
		return -EMFILE;
	if (pipe2(rp, O_CLOEXEC) < 0) {
		r = -errno;
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(sv[0]);
		close(sv[1]);
		close(rp[0]);
		close(rp[1]);
		return r;
	}
	if (pid == 0) {
		close(sv[0]);
		close(rp[0]);
		bh_signals_reset();
		consumer_main(sv[1], rp[1], (uint64_t)warmup * NSIZES);
	}
	close(sv[1]);
	close(rp[1]);
	/*
	 * Written after fork(), so that recording a figure in the measured loop
	 * takes neither a first-touch nor a copy-on-write fault.
	 */
	for (size_t k = 0; k < NSIZES; k++) {
		for (unsigned i = 0; i < iters; i++)
			lat[k][i] = -1;
	}
	r = endpoint_init(&e, sv[0], &producer_ops);
	if (r < 0)
		goto out;
	for (size_t k = 0; r == 0 && k < NSIZES; k++) {
		bh_surface_geometry g;

		r = bh_surface_geometry_init(&g, sizes[k].width, sizes[k].height,
					     BH_PIXEL_ARGB8888, 2);
		if (r == 0)
			r = bh_surface_create((uint32_t)k + 1, &g, &e.s[k]);
		if (r == 0)
			r = bh_surface_send_attach(e.ch, e.s[k], -1);
	}
	for (unsigned i = 0; r == 0 && i < (warmup + iters) * NSIZES; i++) {
		unsigned n = i / NSIZES;

		if (i == warmup * NSIZES) {
			maps0 = memfd_maps();
			faults0 = minor_faults();
		}
		r = one_frame(&e, e.s[i % NSIZES], i,
			      n >= warmup ? &lat[i % NSIZES][n - warmup] : &sink);
	}
	faults1 = minor_faults();
	maps1 = memfd_maps();
	endpoint_fini(&e);
out:
	if (r == 0 && read(rp[0], &consumer_faults, sizeof consumer_faults) !=
			      (ssize_t)sizeof consumer_faults)
		r = -EIO;
	close(rp[0]);
	if (wait_child(pid) < 0 && r == 0)
		r = -ECHILD;
	if (r == 0) {
		st->frames += (uint64_t)iters * NSIZES;
		st->producer_faults += faults1 - faults0;
		st->consumer_faults += consumer_faults * iters * NSIZES;
		st->new_regions += maps1 - maps0;
	}
	return r;
}

/* ---- the same frame through a stream socket ----------------------------------- */

/* Reads whole frames, looks at the same 64x64 square the consumer reads, acks with a byte. */
__attribute__((noreturn)) static void copy_receiver(int fd, size_t size, uint32_t stride)
{
	uint8_t *buf = malloc(size);
	volatile uint64_t sum = 0;

	if (!buf)
		_exit(1);
	for (;;) {
		if (bh__read_full(fd, buf, size) < 0)
			break;
		for (uint32_t y = 0; y < DAMAGE; y++)
			sum += ((const uint32_t *)(buf + (size_t)y * stride))[0];
		if (bh__write_full(fd, (const uint8_t *)"k", 1) < 0)
			_exit(1);
	}
	free(buf);
	_exit(0);
}

/* One sender/receiver pair: lat[0 .. iters) get the round trips of one frame each. */
static int socket_copy(const struct frame_size *fs, unsigned iters, double *lat)
{
	size_t size = (size_t)fs->width * fs->height * 4;
	uint8_t *frame = malloc(size), ack;
	int sv[2], r = 0;
	pid_t pid;

	if (!frame)
		return -ENOMEM;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		free(frame);
		return -errno;
	}
	memset(frame, 0x5a, size);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(sv[1]);
		goto out;
	}
	if (pid == 0) {
		close(sv[0]);
		bh_signals_reset();
		copy_receiver(sv[1], size, fs->width * 4);
	}
	close(sv[1]);
	/* One frame untimed, so that both buffers are faulted in. */
	for (unsigned i = 0; r == 0 && i < iters + 1; i++) {
		uint64_t t0 = bh_now_ns();

		r = bh__write_full(sv[0], frame, size);
		if (r == 0)
			r = bh__read_full(sv[0], &ack, 1);
		if (r == 0 && i > 0)
			lat[i - 1] = (double)(bh_now_ns() - t0) / 1e3;
	}
	shutdown(sv[0], SHUT_WR);
	if (wait_child(pid) < 0 && r == 0)
		r = -ECHILD;
out:
	close(sv[0]);
	free(frame);
	return r;
}

/* ---- the floor: a raw SOCK_SEQPACKET ping-pong of two handoff-sized datagrams ---- */

#define HANDOFF_BYTES 48 /* about a framed FrameReady; FrameRelease is smaller */

__attribute__((noreturn)) static void pong(int fd)
{
	uint8_t buf[HANDOFF_BYTES];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (bh__write_full(fd, buf, (size_t)n) < 0)
			_exit(1);
	}
	_exit(0);
}

/* lat[0 .. iters) get the round trips. */
static int raw_pingpong(unsigned warmup, unsigned iters, double *lat)
{
	uint8_t buf[HANDOFF_BYTES];
	int sv[2], r = 0;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	memset(buf, 1, sizeof buf);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(sv[1]);
		goto out;
	}
	if (pid == 0) {
		close(sv[0]);
		bh_signals_reset();
		pong(sv[1]);
	}
	close(sv[1]);
	for (unsigned i = 0; i < iters; i++)
		lat[i] = -1;
	for (unsigned i = 0; r == 0 && i < warmup + iters; i++) {
		uint64_t t0 = bh_now_ns();

		r = bh__write_full(sv[0], buf, sizeof buf);
		if (r == 0)
			r = bh__read_full(sv[0], buf, sizeof buf);
		if (r == 0 && i >= warmup)
			lat[i - warmup] = (double)(bh_now_ns() - t0) / 1e3;
	}
	shutdown(sv[0], SHUT_WR);
	if (wait_child(pid) < 0 && r == 0)
		r = -ECHILD;
out:
	close(sv[0]);
	return r;
}

/* ---- region creation against reuse ----------------------------------------- */

static void touch_pages(uint8_t *p, uint64_t size, uint8_t v)
{
	for (uint64_t off = 0; off < size; off += PAGE)
		((volatile uint8_t *)p)[off] = v;
}

static int region_costs(const struct frame_size *fs, unsigned iters, double *new_us,
			double *reuse_us)
{
	uint64_t size = (uint64_t)fs->width * fs->height * 4;
	double *a = calloc(iters, sizeof *a), *b = calloc(iters, sizeof *b);
	bh_shm_region *keep = NULL;
	int r = 0;

	if (!a || !b) {
		r = -ENOMEM;
		goto out;
	}
	for (unsigned i = 0; r == 0 && i < iters; i++) {
		uint64_t t0 = bh_now_ns();
		bh_shm_region *reg;

		r = bh_shm_region_create(size, 0, &reg);
		if (r < 0)
			break;
		touch_pages(bh_shm_region_data(reg), size, (uint8_t)i);
		bh_shm_region_destroy(reg);
		a[i] = (double)(bh_now_ns() - t0) / 1e3;
	}
	if (r == 0)
		r = bh_shm_region_create(size, 0, &keep);
	if (r == 0)
		touch_pages(bh_shm_region_data(keep), size, 0xff);
	for (unsigned i = 0; r == 0 && i < iters; i++) {
		uint64_t t0 = bh_now_ns();

		touch_pages(bh_shm_region_data(keep), size, (uint8_t)i);
		b[i] = (double)(bh_now_ns() - t0) / 1e3;
	}
	if (r == 0) {
		*new_us = bench_quantile(a, iters, 0.5);
		*reuse_us = bench_quantile(b, iters, 0.5);
	}
out:
	bh_shm_region_destroy(keep);
	free(a);
	free(b);
	return r;
}

/* ---- the suite ---------------------------------------------------------------- */

/*
 * The machine is shared and its load drifts, so the measurements whose
 * ratios matter run in alternating rounds (socket copies, ping-pong,
 * handoffs, again...) and each figure is the median over every round.
 */
int bench_shm_run(struct bench_ctx *ctx)
{
	unsigned rounds = ctx->quick ? 1 : 6, warmup = ctx->quick ? 20 : 100;
	unsigned iters = ctx->quick ? 200 : 500, copies = ctx->quick ? 5 : 10;
	unsigned region_iters = ctx->quick ? 5 : 40;
	double *copy[NSIZES] = { NULL }, *hand[NSIZES] = { NULL }, *pingpong;
	double new_us = 0, reuse_us = 0;
	struct handoff_stats st;
	char name[96], base[96];
	int r = 0;

	memset(&st, 0, sizeof st);
	pingpong = malloc((size_t)rounds * iters * sizeof *pingpong);
	for (size_t k = 0; k < NSIZES; k++) {
		copy[k] = malloc((size_t)rounds * copies * sizeof *copy[k]);
		hand[k] = malloc((size_t)rounds * iters * sizeof *hand[k]);
		if (!copy[k] || !hand[k])
			r = -ENOMEM;
	}
	if (!pingpong || r < 0) {
		r = -ENOMEM;
		goto out;
	}
	bench_note(ctx, "shm: %u rounds of %u frames per size (after %u warm-up), sizes "
		   "interleaved, 2 slots, %ux%u damage; %u socket copies per size and round",
		   rounds, iters, warmup, DAMAGE, DAMAGE, copies);
	for (unsigned rd = 0; rd < rounds; rd++) {
		double *h[NSIZES];

		for (size_t k = 0; r == 0 && k < NSIZES; k++) {
			r = socket_copy(&sizes[k], copies, copy[k] + (size_t)rd * copies);
			h[k] = hand[k] + (size_t)rd * iters;
		}
		if (r == 0)
			r = raw_pingpong(warmup, iters, pingpong + (size_t)rd * iters);
		if (r == 0)
			r = handoff(warmup, iters, h, &st);
		if (r < 0) {
			bench_note(ctx, "shm: round %u failed: %s", rd, strerror(-r));
			goto out;
		}
	}

	{
		size_t nc = (size_t)rounds * copies, nh = (size_t)rounds * iters;
		double c50[NSIZES], h50[NSIZES], h99[NSIZES], floor_us;

		floor_us = bench_quantile(pingpong, nh, 0.5);
		for (size_t k = 0; k < NSIZES; k++) {
			c50[k] = bench_quantile(copy[k], nc, 0.5);
			h99[k] = bench_quantile(hand[k], nh, 0.99);
			h50[k] = bench_quantile(hand[k], nh, 0.5);
		}
		for (size_t k = 0; k < NSIZES; k++) {
			snprintf(name, sizeof name, "shm.socket_copy.%s", sizes[k].name);
			bench_report(ctx, name, c50[k], "us", NULL, 0);
		}
		bench_report(ctx, "shm.raw_seqpacket_pingpong", floor_us, "us", NULL, 0);
		/* Target: 1080p handoff <= 0.05x its socket copy (20 times faster). */
		for (size_t k = 0; k < NSIZES; k++) {
			snprintf(name, sizeof name, "shm.handoff.%s", sizes[k].name);
			snprintf(base, sizeof base, "shm.socket_copy.%s", sizes[k].name);
			bench_report(ctx, name, h50[k], "us", base, c50[k]);
		}
		/* Target: <= 1.3. */
		bench_report(ctx, "shm.handoff.4k", h50[1], "us", "shm.handoff.1080p", h50[0]);
		/* What a handoff costs above the two wake-ups it cannot avoid. */
		bench_report(ctx, "shm.handoff.1080p", h50[0], "us", "shm.raw_seqpacket_pingpong",
			     floor_us);
		for (size_t k = 0; k < NSIZES; k++) {
			snprintf(name, sizeof name, "shm.handoff.%s.p99", sizes[k].name);
			bench_report(ctx, name, h99[k], "us", NULL, 0);
		}
	}
	/* Targets: 0 (the slots and their pages are reused). */
	bench_report(ctx, "shm.steady.producer_faults", (double)st.producer_faults / st.frames,
		     "/frame", NULL, 0);
	bench_report(ctx, "shm.steady.consumer_faults", st.consumer_faults / st.frames, "/frame",
		     NULL, 0);
	bench_report(ctx, "shm.steady.new_regions", st.new_regions, "regions", NULL, 0);

	for (size_t k = 0; k < NSIZES; k++) {
		r = region_costs(&sizes[k], region_iters, &new_us, &reuse_us);
		if (r < 0) {
			bench_note(ctx, "shm: region costs for %s failed: %s", sizes[k].name,
				   strerror(-r));
			goto out;
		}
		snprintf(name, sizeof name, "shm.region.new.%s", sizes[k].name);
		snprintf(base, sizeof base, "shm.region.reuse.%s", sizes[k].name);
		bench_report(ctx, base, reuse_us, "us", NULL, 0);
		bench_report(ctx, name, new_us, "us", base, reuse_us);
	}
out:
	free(pingpong);
	for (size_t k = 0; k < NSIZES; k++) {
		free(copy[k]);
		free(hand[k]);
	}
	return r;
}
