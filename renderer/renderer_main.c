/*
 * The renderer process: one per tab, inside the strictest sandbox. It can
 * open nothing; every byte it reads arrives through an fd the broker chose
 * to give it (the page, its images, the fonts) and every pixel it draws goes
 * into a sealed region the broker allocated, which the gpu process maps.
 *
 * A navigation runs in steps, each waiting on the broker without blocking
 * the loop (heartbeats keep flowing):
 *   fonts (once) -> surface (once) -> page file -> discovery pass (parse and
 *   lay out with a 1x1 stand-in for every image, recording the names) ->
 *   image files -> final pass -> paint -> FrameReady to the gpu, PageState
 *   to the broker.
 * The page engine's image loader is synchronous, hence the two passes; the
 * second finds every image in the cache, so there are never more than two.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bulkhead/shm.h>
#include <bulkhead/supervisor.h>

#include "broker/browser_proto.h"
#include "bulkhead.pb-c.h"
#include "renderer/evil.h"
#include "renderer/page.h"
#include "renderer/renderer.h"

#define OPEN_TIMEOUT_MS 5000
#define SHM_TIMEOUT_MS 5000
#define MAX_IMAGES PAGE_MAX_IMAGES
#define MAX_PATH 512
/* Files are mapped whole; anything above this is refused before mapping. */
#define MAX_FILE_BYTES (64u << 20)
#define URL_MAX 256

/* A valid 1x1 PNG: what the discovery pass gets for every image it names. */
static const uint8_t stand_in_png[] = {
	0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
	0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00,
	0x00, 0x90, 0x77, 0x53, 0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x78,
	0x9c, 0x63, 0xf8, 0xff, 0xff, 0x3f, 0x00, 0x05, 0xfe, 0x02, 0xfe, 0x0d, 0xef, 0x46,
	0xb8, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
};

/* A file the broker gave us, mapped read-only (or an error). */
struct blob {
	const uint8_t *data;
	size_t len;
	size_t map_len; /* 0: not mapped (empty file or error) */
	int err;        /* 0 or -errno */
};

struct image {
	char path[MAX_PATH]; /* as resolved beside the page */
	struct blob blob;
	int state;           /* 0 wanted, 1 requested, 2 done */
};

enum step { IDLE, WAIT_FONTS, WAIT_SURFACE, WAIT_PAGE, WAIT_IMAGES, DONE };

struct renderer {
	bh_worker_ctx *ctx;
	bh_channel *broker;
	const bh_registry *reg;

	struct blob fonts[2];
	int fonts_requested, fonts_done;
	struct page_engine *engine;

	uint32_t width, height;
	bh_surface *surf;
	int shm_requested, shm_err;

	bh_channel *gpu;
	uint32_t gpu_gen;
	int attached;
	int want_present;

	/* The navigation in progress (or done). */
	uint32_t nav_id;
	char url[URL_MAX];
	uint8_t *html; /* broker-generated source (about:sandbox), owned */
	size_t html_len;
	enum step step;
	struct blob page;
	struct image images[MAX_IMAGES];
	size_t nimages;
	int missing; /* the discovery pass met images not fetched yet */
	unsigned passes; /* layout passes of this navigation */
	unsigned pending_opens;

	/* The result. */
	struct page_doc *doc;
	int ok;
	char error[256];
	char title[PAGE_MAX_TITLE_BYTES + 1];
	uint64_t render_us;
	uint64_t last_seq;
	int scroll_y; /* page row at the top of the frame (Scroll) */

	/* Pings from the broker (broker/reliability.c): the last seq, and how many were not last + 1. */
	uint64_t ping_seq, ping_gaps, pong_refused;

	/* Debug pages that keep running: about:animate, about:flood, about:fillsocket. */
	bh_timer *anim;
	uint32_t anim_frame;
	bh_defer *flood;
	struct evil *evil; /* about:evil (renderer/evil.h) */
};

static struct renderer R;

static void advance(struct renderer *r);

/* ---- small helpers ------------------------------------------------------------ */

static uint64_t now_us(void)
{
	return bh_now_ns() / 1000u;
}

static void blob_release(struct blob *b)
{
	if (b->map_len)
		munmap((void *)b->data, b->map_len);
	memset(b, 0, sizeof *b);
}

/* Maps a whole file the broker opened for us; takes `fd` in every case. */
static void blob_from_fd(struct blob *b, int fd, size_t limit)
{
	struct stat st;
	void *p;

	memset(b, 0, sizeof *b);
	if (fd < 0) {
		b->err = fd;
		return;
	}
	if (fstat(fd, &st) < 0) {
		b->err = -errno;
	} else if (st.st_size < 0 || (uint64_t)st.st_size > limit) {
		/* Report the real size: the engine names the limit in its message. */
		b->err = -EFBIG;
		b->len = (size_t)st.st_size;
	} else if (st.st_size == 0) {
		b->data = (const uint8_t *)"";
	} else {
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			b->err = -errno;
		} else {
			b->data = p;
			b->len = b->map_len = (size_t)st.st_size;
		}
	}
	close(fd);
}

/* Writes to a small unmapped address the compiler cannot see through. */
static void segfault(void)
{
	volatile uintptr_t a = 8;

	*(volatile int *)a = 1;
}

/* ---- results -------------------------------------------------------------------- */

#define ANIM_BOX 96
#define ANIM_COLOR 0xff1565c0u
#define ANIM_FRAME_MS 40

/*
 * about:animate: a white page with a blue square that moves one step per
 * frame along the top, so that the tab produces frames for as long as it is
 * shown (the reliability tests watch other tabs' frames while one misbehaves).
 * The square never covers (20..ANIM_BOX+20, 200..): a fixed white probe spot.
 */
static int paint_animation(struct renderer *r, struct page_surface *s)
{
	int x0 = 20 + (int)(r->anim_frame % 40u) * 8;

	for (int y = 0; y < s->height; y++) {
		uint32_t *row = (uint32_t *)(void *)((uint8_t *)s->pixels + (size_t)y * s->stride);

		for (int x = 0; x < s->width; x++)
			row[x] = y >= 40 && y < 40 + ANIM_BOX && x >= x0 && x < x0 + ANIM_BOX ? ANIM_COLOR
											       : 0xffffffffu;
	}
	return 0;
}

/* The link targets PageState carries: enough for a `follow` menu, well within a message. */
#define STATE_MAX_LINKS 64
#define STATE_MAX_HREF 255

static void send_state(struct renderer *r)
{
	Browser__PageState ps = BROWSER__PAGE_STATE__INIT;
	char *targets[STATE_MAX_LINKS];

	ps.nav_id = r->nav_id;
	ps.ok = r->ok;
	ps.title = r->title;
	ps.error = r->error;
	if (r->doc) {
		size_t n = page_doc_link_count(r->doc);

		ps.links = (uint32_t)n;
		ps.images = (uint32_t)r->nimages;
		ps.page_height = (uint32_t)page_doc_height(r->doc);
		ps.scroll_y = (uint32_t)r->scroll_y;
		/* An overlong target is sent empty: the broker could not follow it anyway. */
		for (size_t i = 0; i < n && i < STATE_MAX_LINKS; i++) {
			const char *h = page_doc_link(r->doc, i)->href;

			targets[i] = (char *)(h && strlen(h) <= STATE_MAX_HREF ? h : "");
			ps.n_link_targets = i + 1;
		}
		ps.link_targets = targets;
	}
	ps.render_us = r->render_us;
	ps.generation = r->attached ? r->gpu_gen : 0;
	ps.frame_seq = r->attached ? r->last_seq : 0;
	(void)bh_channel_send(r->broker, MSG_PAGE_STATE, &ps.base, NULL, 0);
}

/* Paints the result into a free slot and hands it to the gpu. */
static void present(struct renderer *r)
{
	struct page_surface s;
	unsigned slot;
	void *px;
	uint64_t seq;
	int e;

	r->want_present = 1;
	if (r->step != DONE || !r->surf || !r->gpu || !r->attached)
		return;
	e = bh_surface_acquire(r->surf, &slot, &px);
	if (e < 0)
		return; /* the gpu holds every slot: the next FrameRelease retries */
	s.pixels = px;
	s.width = (int)r->width;
	s.height = (int)r->height;
	s.stride = bh_surface_get_geometry(r->surf)->stride;
	if (r->anim && bh_timer_armed(r->anim))
		e = paint_animation(r, &s);
	else if (r->doc)
		e = page_doc_paint(r->engine, r->doc, &s, r->scroll_y);
	else
		e = page_render_error(r->engine, &s, r->url, r->error);
	if (e < 0 || bh_surface_send_ready(r->gpu, r->surf, slot, NULL, &seq) < 0) {
		(void)bh_surface_cancel(r->surf, slot);
		return;
	}
	r->last_seq = seq;
	r->want_present = 0;
	send_state(r);
}

static void finish(struct renderer *r, struct page_doc *doc, int ok, const char *error)
{
	page_doc_destroy(r->doc);
	r->doc = doc;
	r->ok = ok;
	snprintf(r->error, sizeof r->error, "%s", ok ? "" : error);
	snprintf(r->title, sizeof r->title, "%s", doc ? page_doc_title(doc) : "");
	r->step = DONE;
	blob_release(&r->page);
	for (size_t i = 0; i < r->nimages; i++)
		blob_release(&r->images[i].blob);
	r->nimages = 0;
	free(r->html);
	r->html = NULL;
	if (r->gpu && r->attached)
		present(r);
	else
		send_state(r); /* the broker learns the title now; the frame follows */
	/*
	 * The discovery pass and the decoders are done: hand their freed heap
	 * pages back, or every idle renderer keeps them resident (madvise and
	 * brk are on the renderer's seccomp list).
	 */
	(void)malloc_trim(0);
}

/* ---- images ------------------------------------------------------------------------ */

/* Resolves an image name beside the page ("bad/x.html" + "img/a.png" = "bad/img/a.png"). */
static int resolve(const struct renderer *r, const char *src, char *out, size_t size)
{
	const char *slash = strrchr(r->url, '/');
	int dir = slash ? (int)(slash - r->url + 1) : 0;
	int n = snprintf(out, size, "%.*s%s", dir, r->url, src);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int load_image(void *ud, const char *src, const uint8_t **data, size_t *len)
{
	struct renderer *r = ud;
	char path[MAX_PATH];
	int e = resolve(r, src, path, sizeof path);

	if (e < 0)
		return e;
	for (size_t i = 0; i < r->nimages; i++) {
		struct image *im = &r->images[i];

		if (strcmp(im->path, path))
			continue;
		if (im->state != 2)
			break;
		if (im->blob.err)
			return im->blob.err;
		*data = im->blob.data;
		*len = im->blob.len;
		return 0;
	}
	/* Not fetched yet: remember it and let the pass go on with a stand-in. */
	r->missing = 1;
	if (r->nimages < MAX_IMAGES) {
		int known = 0;

		for (size_t i = 0; i < r->nimages; i++)
			known |= !strcmp(r->images[i].path, path);
		if (!known) {
			memset(&r->images[r->nimages], 0, sizeof r->images[0]);
			snprintf(r->images[r->nimages].path, MAX_PATH, "%s", path);
			r->nimages++;
		}
	}
	*data = stand_in_png;
	*len = sizeof stand_in_png;
	return 0;
}

struct open_cookie {
	uint32_t nav_id;
	size_t index;
};

static void image_opened(bh_worker_ctx *ctx, int fd, void *ud)
{
	struct open_cookie c = *(struct open_cookie *)ud;
	struct renderer *r = &R;

	free(ud);
	r->pending_opens--;
	if (c.nav_id != r->nav_id || r->step != WAIT_IMAGES || c.index >= r->nimages) {
		if (fd >= 0)
			close(fd);
		advance(r);
		return;
	}
	/* The engine refuses files above its own limit with a precise message. */
	/* A file above the engine's limit is not even mapped: the loader reports -EFBIG. */
	blob_from_fd(&r->images[c.index].blob, fd, PAGE_MAX_IMAGE_FILE);
	r->images[c.index].state = 2;
	advance(r);
}

static void fetch_images(struct renderer *r)
{
	for (size_t i = 0; i < r->nimages; i++) {
		struct image *im = &r->images[i];
		struct open_cookie *c;
		int e;

		if (im->state != 0)
			continue;
		im->state = 1;
		c = malloc(sizeof *c);
		e = c ? 0 : -ENOMEM;
		if (c) {
			c->nav_id = r->nav_id;
			c->index = i;
			e = bh_worker_ctx_open(r->ctx, im->path, OPEN_TIMEOUT_MS, image_opened, c);
			if (e < 0)
				free(c);
		}
		if (e < 0) {
			im->blob.err = e;
			im->state = 2;
		} else {
			r->pending_opens++;
		}
	}
}

/* ---- the page ------------------------------------------------------------------------- */

static void layout_pass(struct renderer *r)
{
	struct page_loader ld = { load_image, NULL, r };
	struct page_error err;
	struct page_doc *doc = NULL;
	const uint8_t *src = r->html ? r->html : r->page.data;
	size_t len = r->html ? r->html_len : r->page.len;
	uint64_t t0 = now_us();
	int e;

	memset(&err, 0, sizeof err);
	r->missing = 0;
	if (++r->passes > 3) {
		/* Cannot happen with a deterministic engine; never loop on it anyway. */
		finish(r, NULL, 0, "images kept appearing between layout passes");
		return;
	}
	if (!r->html && r->page.err) {
		if (r->page.err == -EFBIG)
			snprintf(err.message, sizeof err.message, "page is %zu bytes, the limit is %u bytes",
				 r->page.len, PAGE_MAX_INPUT_BYTES);
		else if (r->page.err == -EACCES || r->page.err == -EINVAL)
			snprintf(err.message, sizeof err.message, "the browser refused to open \"%.120s\": %s",
				 r->url, strerror(-r->page.err));
		else
			snprintf(err.message, sizeof err.message, "cannot load \"%.120s\": %s", r->url,
				 strerror(-r->page.err));
		finish(r, NULL, 0, err.message);
		return;
	}
	e = page_doc_create(r->engine, src ? src : (const uint8_t *)"", len, &ld, (int)r->width, &doc, &err);
	r->render_us = now_us() - t0;
	if (e == 0 && r->missing) {
		/* Stand-ins were used: fetch the real images and lay out again. */
		page_doc_destroy(doc);
		r->step = WAIT_IMAGES;
		fetch_images(r);
		if (r->pending_opens == 0)
			advance(r);
		return;
	}
	if (e < 0 && r->missing && r->pending_opens == 0) {
		/*
		 * Failed after naming images it has not seen: fetch them first,
		 * so that a later error names the right cause. A failure the
		 * images cannot explain repeats in the final pass.
		 */
		int fresh = 0;

		for (size_t i = 0; i < r->nimages; i++)
			fresh |= r->images[i].state == 0;
		if (fresh) {
			r->step = WAIT_IMAGES;
			fetch_images(r);
			if (r->pending_opens == 0)
				advance(r);
			return;
		}
	}
	if (e < 0)
		finish(r, NULL, 0, err.message[0] ? err.message : strerror(-e));
	else
		finish(r, doc, 1, NULL);
}

static void page_opened(bh_worker_ctx *ctx, int fd, void *ud)
{
	struct open_cookie c = *(struct open_cookie *)ud;
	struct renderer *r = &R;

	free(ud);
	r->pending_opens--;
	if (c.nav_id != r->nav_id || r->step != WAIT_PAGE) {
		if (fd >= 0)
			close(fd);
		advance(r);
		return;
	}
	blob_from_fd(&r->page, fd, MAX_FILE_BYTES);
	if (r->page.len > PAGE_MAX_INPUT_BYTES && !r->page.err) {
		/* The engine refuses it too; unmap now rather than hold 64 MiB. */
		size_t len = r->page.len;

		blob_release(&r->page);
		r->page.err = -EFBIG;
		r->page.len = len;
	}
	layout_pass(r);
}

static void note(struct renderer *r, const char *text)
{
	Browser__DebugNote dn = BROWSER__DEBUG_NOTE__INIT;

	dn.text = (char *)text;
	(void)bh_channel_send(r->broker, MSG_DEBUG_NOTE, &dn.base, NULL, 0);
	(void)bh_channel_flush(r->broker);
}

static void animate_tick(bh_timer *t, void *ud)
{
	struct renderer *r = ud;

	r->anim_frame++;
	present(r);
}

/* A message the broker must read, decode and then drop (no navigation has id 0). */
static int flood_one(struct renderer *r)
{
	Browser__PageState ps = BROWSER__PAGE_STATE__INIT;

	ps.title = (char *)"flood";
	ps.error = (char *)"";
	return bh_channel_send(r->broker, MSG_PAGE_STATE, &ps.base, NULL, 0);
}

/* about:flood: as many messages as the channel takes, every loop round, heartbeats still flowing. */
static void flood_more(bh_defer *d, void *ud)
{
	struct renderer *r = ud;

	while (flood_one(r) == 0)
		;
	(void)bh_channel_flush(r->broker);
	bh_defer_schedule(d);
}

/*
 * about:fillsocket: write without ever returning to the loop. Whenever the
 * broker reads slower (or throttles it), the socket buffer fills, then its
 * own send queue: from then on every send fails and it spins.
 */
static void fill_socket(struct renderer *r)
{
	bh_channel_pause(r->broker, 1);
	for (;;) {
		(void)flood_one(r);
		(void)bh_channel_flush(r->broker);
	}
}

/*
 * about:oom: take address space 16 MiB at a time until the kernel refuses
 * (RLIMIT_AS of the renderer profile), then end as a worker out of memory
 * does. One page per block is touched: the limit is on address space, and
 * committing gigabytes would test the machine's OOM killer instead. Sanitizer
 * builds run without RLIMIT_AS (docs/SANDBOX.md): there the page stops at the
 * profile's figure by itself, so the outcome is the same.
 */
static void eat_memory(void)
{
	const size_t block = 16u << 20;
	struct rlimit rl;
	uint64_t budget = 0, total = 0;

	if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur == RLIM_INFINITY)
		budget = 2ull << 30;
	for (;;) {
		void *p = mmap(NULL, block, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED || (budget && total >= budget))
			_exit(BH_WORKER_EXIT_OOM);
		*(volatile char *)p = 1;
		total += block;
	}
}

static void *idle_thread(void *arg)
{
	for (;;)
		sleep(1000);
	return arg;
}

/*
 * about:forkbomb: threads until RLIMIT_NPROC refuses one, then a process,
 * which the seccomp filter answers by killing the renderer (clone without the
 * thread flags is not on its list).
 */
static void fork_bomb(struct renderer *r)
{
	char text[128];
	unsigned n = 0;
	int e = 0;

	for (; n < 4096; n++) {
		pthread_t t;
		pthread_attr_t a;

		pthread_attr_init(&a);
		pthread_attr_setstacksize(&a, 64u << 10);
		e = pthread_create(&t, &a, idle_thread, NULL);
		pthread_attr_destroy(&a);
		if (e)
			break;
	}
	snprintf(text, sizeof text, "about:forkbomb: %u threads, then pthread_create: %s; now fork()", n,
		 e ? strerror(e) : "no refusal");
	note(r, text);
	for (;;)
		(void)fork();
}

static void debug_page(struct renderer *r)
{
	static const char blank[] = "<title>about:blank</title>";

	if (!strcmp(r->url, "about:crash")) {
		segfault();
	} else if (!strcmp(r->url, "about:hang")) {
		/* Spin without returning to the loop: heartbeats stop, the watchdog acts. */
		for (;;)
			__asm__ volatile("" ::: "memory");
	} else if (!strncmp(r->url, "about:escape", 12)) {
		const char *how = r->url + 12;

		/* Each of these is refused by the seccomp filter, which kills the process. */
		if (!*how || !strcmp(how, "-open"))
			(void)syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY);
		if (!*how || !strcmp(how, "-socket"))
			(void)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
		if (!*how || !strcmp(how, "-exec")) {
			char *argv[] = { (char *)"/bin/sh", NULL };

			(void)syscall(SYS_execve, "/bin/sh", argv, NULL);
		}
		finish(r, NULL, 0, "the sandbox let an escape attempt through");
		return;
	} else if (!strcmp(r->url, "about:badmessage")) {
		/* A frame that is not one: the broker's channel refuses it and the broker kills us. */
		static const char junk[] = "this is not a bulkhead frame";

		(void)send(bh_channel_fd(r->broker), junk, sizeof junk, MSG_DONTWAIT | MSG_NOSIGNAL);
		r->step = DONE;
		return;
	} else if (!strcmp(r->url, "about:badframe")) {
		/* A FrameReady naming a slot the surface does not have: the gpu refuses it. */
		Bh__FrameReady fr = BH__FRAME_READY__INIT;
		Bh__Rect d = BH__RECT__INIT;

		if (r->gpu && r->surf) {
			fr.surface_id = bh_surface_id(r->surf);
			fr.slot = 77;
			fr.seq = r->last_seq + 1;
			d.width = 1;
			d.height = 1;
			fr.damage = &d;
			(void)bh_channel_send(r->gpu, BH_MSG_FRAME_READY, &fr.base, NULL, 0);
		}
		r->step = DONE;
		return;
	} else if (!strncmp(r->url, "about:evil", 10)) {
		uint64_t seed;
		unsigned to;
		char text[96];

		if (evil_parse_url(r->url, &seed, &to) < 0) {
			finish(r, NULL, 0, "about:evil wants ?seed=N&to=broker|gpu|both");
			return;
		}
		static const uint32_t to_broker[] = {
			BH_MSG_HEARTBEAT, BH_MSG_CRASH_REPORT, BH_MSG_SANDBOX_STATUS, BH_MSG_FILE_OPEN,
			BH_MSG_SHM_ALLOC, MSG_PAGE_STATE, MSG_DEBUG_NOTE, MSG_PONG,
		};
		static const uint32_t to_gpu[] = { BH_MSG_SURFACE_ATTACH, BH_MSG_FRAME_READY, BH_MSG_SURFACE_DETACH };
		struct evil_target tb = { bh_channel_fd(r->broker), to_broker, sizeof to_broker / sizeof to_broker[0] };
		struct evil_target tg = { r->gpu ? bh_channel_fd(r->gpu) : -1, to_gpu, sizeof to_gpu / sizeof to_gpu[0] };

		evil_stop(r->evil);
		r->evil = NULL;
		if (evil_start(bh_worker_ctx_loop(r->ctx), r->reg, &tb, &tg, seed, to, &r->evil) < 0) {
			finish(r, NULL, 0, "cannot start about:evil");
			return;
		}
		snprintf(text, sizeof text, "about:evil: sending mutated frames to the %s (seed %llu)",
			 !r->gpu || to == EVIL_TO_BROKER ? "broker" : to == EVIL_TO_GPU ? "gpu" : "broker and gpu",
			 (unsigned long long)seed);
		note(r, text);
		r->step = DONE;
		return;
	} else if (!strcmp(r->url, "about:animate")) {
		if (!r->anim && bh_timer_create(bh_worker_ctx_loop(r->ctx), animate_tick, r, &r->anim) < 0) {
			finish(r, NULL, 0, "cannot start the animation timer");
			return;
		}
		(void)bh_timer_arm(r->anim, ANIM_FRAME_MS, ANIM_FRAME_MS);
		finish(r, NULL, 1, NULL);
		return;
	} else if (!strcmp(r->url, "about:flood") || !strcmp(r->url, "about:fillsocket")) {
		if (!strcmp(r->url, "about:fillsocket"))
			fill_socket(r); /* never returns */
		if (!r->flood && bh_defer_create(bh_worker_ctx_loop(r->ctx), flood_more, r, &r->flood) < 0) {
			finish(r, NULL, 0, "cannot start flooding");
			return;
		}
		bh_defer_schedule(r->flood);
		r->step = DONE;
		return;
	} else if (!strcmp(r->url, "about:stall")) {
		/*
		 * Stop reading the broker's channel but keep the loop (and so the
		 * heartbeats) alive: only the broker's Pings can tell.
		 */
		bh_channel_pause(r->broker, 1);
		r->step = DONE;
		return;
	} else if (!strcmp(r->url, "about:oom")) {
		eat_memory(); /* never returns */
	} else if (!strcmp(r->url, "about:forkbomb")) {
		fork_bomb(r); /* never returns */
	} else if (!strcmp(r->url, "about:blank")) {
		r->html = malloc(sizeof blank - 1);
		if (r->html) {
			memcpy(r->html, blank, sizeof blank - 1);
			r->html_len = sizeof blank - 1;
		}
		layout_pass(r);
		return;
	}
	finish(r, NULL, 0, "unknown about: page");
}

static void start_page(struct renderer *r)
{
	struct open_cookie *c;
	int e;

	if (r->html) {
		layout_pass(r);
		return;
	}
	if (!strncmp(r->url, "about:", 6)) {
		debug_page(r);
		return;
	}
	r->step = WAIT_PAGE;
	c = malloc(sizeof *c);
	if (!c) {
		finish(r, NULL, 0, "out of memory");
		return;
	}
	c->nav_id = r->nav_id;
	c->index = 0;
	e = bh_worker_ctx_open(r->ctx, r->url, OPEN_TIMEOUT_MS, page_opened, c);
	if (e < 0) {
		free(c);
		finish(r, NULL, 0, "cannot ask the browser for the page");
		return;
	}
	r->pending_opens++;
}

/* ---- fonts and surface ------------------------------------------------------------------ */

static void font_opened(bh_worker_ctx *ctx, int fd, void *ud)
{
	struct renderer *r = &R;
	size_t i = (size_t)(uintptr_t)ud;

	blob_from_fd(&r->fonts[i], fd, MAX_FILE_BYTES);
	r->fonts_done++;
	advance(r);
}

static int make_engine(struct renderer *r)
{
	struct page_fonts f = { r->fonts[0].data, r->fonts[0].len, NULL, 0 };
	struct page_error err;

	if (!r->fonts[1].err) {
		f.bold = r->fonts[1].data;
		f.bold_len = r->fonts[1].len;
	}
	if (r->fonts[0].err)
		return r->fonts[0].err;
	r->engine = page_engine_create(&f, &err);
	return r->engine ? 0 : -errno;
}

static void shm_allocated(bh_channel *ch, int status, bh_msg *reply, void *ud)
{
	struct renderer *r = &R;
	bh_surface_geometry g;
	bh_shm_region *region;
	int e = status;

	if (e == 0)
		e = bh_shm_region_from_reply(reply, 0, &region, NULL);
	if (e == 0) {
		e = bh_surface_geometry_init(&g, r->width, r->height, BH_PIXEL_ARGB8888, RENDERER_SLOTS);
		if (e == 0)
			e = bh_surface_create_from_region(1, &g, region, &r->surf);
		else
			bh_shm_region_destroy(region);
	}
	r->shm_err = e;
	advance(r);
}

/* Sends our surface to a freshly connected gpu. */
static void attach(struct renderer *r)
{
	if (!r->gpu || !r->surf || r->attached)
		return;
	if (bh_surface_send_attach(r->gpu, r->surf, -1) < 0)
		return;
	r->attached = 1;
	if (r->step == DONE)
		present(r);
}

/* Moves the navigation on as far as what has arrived allows. */
static void advance(struct renderer *r)
{
	bh_surface_geometry g;
	uint64_t region;

	switch (r->step) {
	case IDLE:
	case DONE:
		return;
	case WAIT_FONTS:
		if (!r->fonts_requested) {
			static const char *const names[2] = { RENDERER_FONT_REGULAR, RENDERER_FONT_BOLD };

			r->fonts_requested = 1;
			for (size_t i = 0; i < 2; i++) {
				int e = bh_worker_ctx_open(r->ctx, names[i], OPEN_TIMEOUT_MS, font_opened,
							   (void *)(uintptr_t)i);
				if (e < 0) {
					r->fonts[i].err = e;
					r->fonts_done++;
				}
			}
		}
		if (r->fonts_done < 2)
			return;
		if (!r->engine && make_engine(r) < 0) {
			/* Nothing can be drawn without a font: let the broker see us die. */
			_exit(3);
		}
		r->step = WAIT_SURFACE;
		/* fall through */
	case WAIT_SURFACE:
		if (!r->surf) {
			if (!r->shm_requested) {
				r->shm_requested = 1;
				if (bh_surface_geometry_init(&g, r->width, r->height, BH_PIXEL_ARGB8888,
							     RENDERER_SLOTS) < 0 ||
				    bh_surface_geometry_check(&g, NULL, &region) < 0 ||
				    bh_shm_request(r->broker, region, SHM_TIMEOUT_MS, shm_allocated, r) < 0)
					_exit(4);
				return;
			}
			if (r->shm_err == 0)
				return;
			/* Without a surface the tab cannot show anything: fail visibly. */
			_exit(4);
		}
		attach(r);
		start_page(r);
		return;
	case WAIT_PAGE:
		return;
	case WAIT_IMAGES:
		if (r->pending_opens == 0)
			layout_pass(r);
		return;
	}
}

/* ---- messages -------------------------------------------------------------------------- */

static void gpu_message(bh_channel *ch, bh_msg *m, void *ud)
{
	struct renderer *r = ud;
	bh_frame f;

	if (bh_msg_type(m) != BH_MSG_FRAME_RELEASE || bh_surface_parse_frame(m, &f) < 0 || !r->surf) {
		bh_channel_bad_message(ch, "the gpu may only release frames");
		return;
	}
	if (bh_surface_handle_release(r->surf, &f) < 0) {
		bh_channel_bad_message(ch, "bad FrameRelease");
		return;
	}
	if (r->want_present)
		present(r);
}

static void gpu_gone(struct renderer *r)
{
	bh_channel_destroy(r->gpu);
	r->gpu = NULL;
	r->attached = 0;
}

static void gpu_closed(bh_channel *ch, int err, void *ud)
{
	gpu_gone(ud);
}

static void gpu_bad(bh_channel *ch, int reason, const char *detail, void *ud)
{
	gpu_gone(ud);
}

static const bh_channel_ops gpu_ops = {
	.on_message = gpu_message,
	.on_close = gpu_closed,
	.on_bad_message = gpu_bad,
};

/*
 * A new gpu channel means a new consumer: slots the previous gpu held will
 * never come back, so the surface is rebuilt over the same region (a second
 * mapping of the same memfd) with every slot free.
 */
static int fresh_surface(struct renderer *r)
{
	bh_shm_region *region;
	bh_surface *s;
	int fd, e;

	if (!r->surf)
		return 0;
	fd = fcntl(bh_shm_region_fd(bh_surface_region(r->surf)), F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	e = bh_shm_region_import(fd, bh_shm_region_size(bh_surface_region(r->surf)), 0, &region);
	if (e < 0)
		return e;
	e = bh_surface_create_from_region(1, bh_surface_get_geometry(r->surf), region, &s);
	if (e < 0)
		return e;
	bh_surface_destroy(r->surf);
	r->surf = s;
	return 0;
}

static void on_gpu_channel(struct renderer *r, bh_msg *m)
{
	const Browser__GpuChannel *gc = (const Browser__GpuChannel *)bh_msg_body(m);
	int fd = bh_msg_take_fd(m, 0);

	gpu_gone(r);
	if (fd < 0 || fresh_surface(r) < 0) {
		if (fd >= 0)
			close(fd);
		return;
	}
	if (bh_channel_create(bh_worker_ctx_loop(r->ctx), r->reg, fd, &gpu_ops, r, NULL, &r->gpu) < 0)
		return;
	r->gpu_gen = gc->generation;
	attach(r);
}

static void on_navigate(struct renderer *r, bh_msg *m)
{
	const Browser__Navigate *nv = (const Browser__Navigate *)bh_msg_body(m);

	if (!nv->url || strlen(nv->url) >= URL_MAX || nv->width == 0 || nv->height == 0 ||
	    nv->width > BH_SURFACE_MAX_DIM || nv->height > BH_SURFACE_MAX_DIM ||
	    (r->width && (nv->width != r->width || nv->height != r->height))) {
		bh_channel_bad_message(r->broker, "bad Navigate");
		return;
	}
	/* Whatever is still in flight for the previous navigation is ignored on arrival. */
	if (r->anim)
		bh_timer_disarm(r->anim);
	evil_stop(r->evil);
	r->evil = NULL;
	blob_release(&r->page);
	for (size_t i = 0; i < r->nimages; i++)
		blob_release(&r->images[i].blob);
	r->nimages = 0;
	free(r->html);
	r->html = NULL;
	r->html_len = 0;
	if (nv->html.len) {
		r->html = malloc(nv->html.len);
		if (!r->html)
			_exit(BH_WORKER_EXIT_OOM);
		memcpy(r->html, nv->html.data, nv->html.len);
		r->html_len = nv->html.len;
	}
	r->nav_id = nv->nav_id;
	r->scroll_y = 0;
	r->passes = 0;
	r->width = nv->width;
	r->height = nv->height;
	snprintf(r->url, sizeof r->url, "%s", nv->url);
	r->step = WAIT_FONTS;
	advance(r);
}

static void on_scroll(struct renderer *r, bh_msg *m)
{
	const Browser__Scroll *sc = (const Browser__Scroll *)bh_msg_body(m);
	int max;

	/* A scroll meant for the previous page, or for one still loading, is stale. */
	if (sc->nav_id != r->nav_id || r->step != DONE || !r->doc)
		return;
	max = page_doc_height(r->doc) - (int)r->height;
	if (max < 0)
		max = 0;
	r->scroll_y = sc->y > (uint32_t)max ? max : (int)sc->y;
	present(r);
}

static void broker_message(bh_worker_ctx *ctx, bh_msg *m, void *ud)
{
	struct renderer *r = ud;

	switch (bh_msg_type(m)) {
	case MSG_NAVIGATE:
		on_navigate(r, m);
		return;
	case MSG_GPU_CHANNEL:
		on_gpu_channel(r, m);
		return;
	case MSG_DEBUG_CRASH:
		segfault();
		return;
	case MSG_SCROLL:
		on_scroll(r, m);
		return;
	case MSG_PING: {
		const Browser__Ping *p = (const Browser__Ping *)bh_msg_body(m);
		Browser__Pong pg = BROWSER__PONG__INIT;

		if (p->seq != r->ping_seq + 1)
			r->ping_gaps++;
		r->ping_seq = p->seq;
		pg.seq = p->seq;
		pg.gaps = r->ping_gaps;
		pg.refused = r->pong_refused;
		if (bh_channel_send(r->broker, MSG_PONG, &pg.base, NULL, 0) < 0)
			r->pong_refused++;
		return;
	}
	default:
		/* The broker is trusted, but a message we do not know is a bug: stop. */
		bh_channel_bad_message(r->broker, "unexpected message for a renderer");
		return;
	}
}

int renderer_main(bh_worker_ctx *ctx, void *arg)
{
	struct renderer *r = &R;

	memset(r, 0, sizeof *r);
	r->ctx = ctx;
	r->broker = bh_worker_ctx_channel(ctx);
	r->reg = bh_worker_ctx_registry(ctx);
	bh_worker_ctx_set_handler(ctx, broker_message, r);
	return bh_worker_ctx_run(ctx);
}
