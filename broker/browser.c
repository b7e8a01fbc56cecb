/*
 * The broker's core: worker specs, the supervisor's callbacks, tabs,
 * navigation, the renderer <-> gpu channels and the scene the gpu draws.
 *
 * Who trusts whom: the broker trusts nobody. A renderer's PageState is
 * checked (navigation id, title length and characters) before it reaches
 * the tab strip; the gpu's frames and surfaces go through the shm API's
 * checks; a bad-frame report from the gpu only ever kills the renderer
 * incarnation it names (channel generation), never its successor.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bulkhead/channel.h>

#include "broker/browser.h"
#include "broker/browser_proto.h"
#include "bulkhead.pb-c.h"
#include "gpu/gpu.h"
#include "renderer/renderer.h"

/* ---- worker specs ------------------------------------------------------------------ */

static const uint32_t renderer_sends[] = { MSG_PAGE_STATE, MSG_PONG, MSG_DEBUG_NOTE };
static const uint32_t gpu_sends[] = {
	MSG_BAD_RENDERER, MSG_COMPOSITED, MSG_BENCH_RESULT, MSG_PONG,
	BH_MSG_SURFACE_ATTACH, BH_MSG_FRAME_READY, BH_MSG_SURFACE_DETACH,
};

/* Filled in once the pages folder is known; the zygote copies them at its fork. */
static bh_file_rule renderer_files[3];
static bh_file_rule gpu_files[1];
static bh_worker_spec specs[2];
static const char *const event_names[EV_COUNT] = {
	[EV_LOADED] = "loaded",         [EV_ERROR_PAGE] = "error-page",
	[EV_CRASH] = "crash",           [EV_HANG] = "hang",
	[EV_SANDBOX] = "sandbox",       [EV_BAD_MESSAGE] = "bad-message",
	[EV_RENDERER_EXIT] = "renderer-exit", [EV_RESTART] = "restart",
	[EV_SAD] = "sad",               [EV_FAILED] = "failed",
	[EV_GPU_EXIT] = "gpu-exit",     [EV_GPU_READY] = "gpu-ready",
	[EV_FRAME] = "frame",
};

const char *browser_event_name(enum browser_event ev)
{
	return (unsigned)ev < EV_COUNT ? event_names[ev] : "?";
}

int browser_event_from_name(const char *name)
{
	for (int i = 0; i < EV_COUNT; i++)
		if (!strcmp(event_names[i], name))
			return i;
	return -ENOENT;
}

static void event(struct browser *b, enum browser_event ev)
{
	b->ev[ev]++;
}

/* ---- small helpers ------------------------------------------------------------------- */

static uint32_t content_height(const struct browser *b)
{
	return b->o.height - b->o.strip;
}

/* Length of the well-formed UTF-8 character at s and its code point; 0 if malformed. */
static size_t utf8_char(const unsigned char *s, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t len;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2, c &= 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, c &= 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, c &= 0x07, min = 0x10000;
	} else {
		return 0;
	}
	/* A NUL is no continuation byte: the scan never passes the end. */
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/*
 * Copies untrusted text for display (the terminal, the tab strip): at most
 * `size - 1` bytes of well-formed UTF-8, never a character cut in two.
 * Control characters become spaces: C0 and DEL, and C1 (U+0080-U+009F),
 * which terminals take for ESC [ and the like. Bytes that are not UTF-8
 * become '?': a lone 0x9b is a CSI to an 8-bit terminal.
 */
static void sanitize(char *out, size_t size, const char *in)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t n = 0;

	if (!size)
		return;
	while (s && *s) {
		uint32_t cp;
		size_t len = utf8_char(s, &cp);

		if (!len) {
			if (n + 1 >= size)
				break;
			out[n++] = '?';
			s++;
			continue;
		}
		if (n + (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) ? 1 : len) >= size)
			break;
		if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
			out[n++] = ' ';
		else
			for (size_t i = 0; i < len; i++)
				out[n++] = (char)s[i];
		s += len;
	}
	out[n] = '\0';
}

/* The exit kind's name, unless the detail already starts with it. */
static const char *exit_prefix(const bh_exit_info *info)
{
	const char *k = bh_exit_kind_name(info->kind);

	return strncmp(info->detail, k, strlen(k)) ? k : "";
}

static const char *tab_name(const struct tab *t)
{
	if (t->title[0])
		return t->title;
	if (t->url[0])
		return t->url;
	return t->loading_url[0] ? t->loading_url : "about:blank";
}

void browser_say(struct browser *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

struct tab *browser_tab_by_id(struct browser *b, uint32_t id)
{
	for (struct tab *t = b->tabs; t; t = t->next)
		if (t->id == id && !t->closing)
			return t;
	return NULL;
}

struct tab *browser_tab_at(struct browser *b, unsigned n)
{
	unsigned i = 0;

	for (struct tab *t = b->tabs; t; t = t->next) {
		if (t->closing)
			continue;
		if (++i == n)
			return t;
	}
	return NULL;
}

unsigned browser_tab_index(struct browser *b, const struct tab *t)
{
	unsigned i = 0;

	for (struct tab *x = b->tabs; x; x = x->next) {
		if (x->closing)
			continue;
		i++;
		if (x == t)
			return i;
	}
	return 0;
}

unsigned browser_tab_count(const struct browser *b)
{
	unsigned n = 0;

	for (const struct tab *t = b->tabs; t; t = t->next)
		n += !t->closing;
	return n;
}

/* ---- the scene the gpu draws ------------------------------------------------------------ */

static void send_scene(struct browser *b)
{
	Browser__Scene sc = BROWSER__SCENE__INIT;
	Browser__SceneTab st[BROWSER_MAX_TABS], *stp[BROWSER_MAX_TABS];
	size_t n = 0;

	if (!b->gpu_ready)
		return;
	for (struct tab *t = b->tabs; t && n < BROWSER_MAX_TABS; t = t->next) {
		if (t->closing)
			continue;
		browser__scene_tab__init(&st[n]);
		st[n].tab_id = t->id;
		st[n].title = (char *)tab_name(t);
		st[n].kind = t->sad ? BROWSER__SCENE_TAB__KIND__SAD : BROWSER__SCENE_TAB__KIND__CONTENT;
		st[n].reason = t->sad_reason;
		st[n].loading = !t->loaded && !t->sad;
		stp[n] = &st[n];
		n++;
	}
	sc.tabs = stp;
	sc.n_tabs = n;
	sc.active_tab = b->active;
	sc.overview = b->overview;
	sc.serial = ++b->scene_serial;
	(void)bh_worker_send(b->gpu, MSG_SCENE, &sc.base, NULL, 0);
}

/* Gives a ready renderer and the ready gpu the two ends of a fresh channel. */
static void connect_gpu(struct browser *b, struct tab *t)
{
	Browser__GpuChannel gc = BROWSER__GPU_CHANNEL__INIT;
	int sv[2], r;

	if (!b->gpu_ready || !t->w || !bh_worker_is_ready(t->w) || t->chan_gen || t->closing)
		return;
	if (bh_channel_socketpair(sv) < 0) {
		browser_say(b, "tab %u: cannot make a gpu channel", t->id);
		return;
	}
	gc.tab_id = t->id;
	gc.generation = ++b->next_gen;
	r = bh_worker_send(b->gpu, MSG_GPU_CHANNEL, &gc.base, &sv[1], 1);
	if (r == 0)
		r = bh_worker_send(t->w, MSG_GPU_CHANNEL, &gc.base, &sv[0], 1);
	/* The channels queued duplicates; the broker keeps no end of a worker-to-worker channel. */
	close(sv[0]);
	close(sv[1]);
	if (r == 0)
		t->chan_gen = gc.generation;
}

/* ---- navigation ------------------------------------------------------------------------- */

/* Pages that act instead of showing something: never committed, so a reload after them goes back. */
static bool is_debug_url(const char *url)
{
	static const char *const debug[] = {
		"about:crash", "about:hang", "about:escape", "about:escape-open", "about:escape-socket",
		"about:escape-exec", "about:badmessage", "about:badframe", "about:flood", "about:fillsocket",
		"about:stall", "about:oom", "about:forkbomb",
	};

	for (size_t i = 0; i < sizeof debug / sizeof debug[0]; i++)
		if (!strcmp(url, debug[i]))
			return true;
	return !strncmp(url, "about:evil", 10);
}

static void send_navigate(struct browser *b, struct tab *t)
{
	Browser__Navigate nv = BROWSER__NAVIGATE__INIT;
	char *html = NULL;
	size_t len = 0;

	if (!t->w || !bh_worker_is_ready(t->w) || !t->nav_pending)
		return;
	/* A tab that died shows its sad frame before it reloads: wait until the gpu drew it. */
	if (t->sad && !t->sad_shown && b->gpu_ready)
		return;
	if (!strcmp(t->loading_url, "about:sandbox") && stats_sandbox_html(b, &html, &len) == 0) {
		nv.html.data = (uint8_t *)html;
		nv.html.len = len;
	}
	nv.nav_id = ++b->next_nav_id;
	nv.url = t->loading_url[0] ? t->loading_url : (char *)"about:blank";
	nv.width = b->o.width;
	nv.height = content_height(b);
	if (bh_worker_send(t->w, MSG_NAVIGATE, &nv.base, NULL, 0) == 0) {
		t->nav_id = nv.nav_id;
		t->nav_pending = false;
		t->loaded = false;
		t->scroll_y = 0;
		t->scroll_pending = false;
		t->error[0] = '\0';
	}
	free(html);
	send_scene(b);
}

static int check_url(const char *url, char *err, size_t errsz)
{
	size_t n = strlen(url);

	if (n == 0 || n >= URL_MAX) {
		snprintf(err, errsz, "a page name is 1 to %d characters", URL_MAX - 1);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)url[i] <= ' ' || (unsigned char)url[i] >= 0x7f) {
			snprintf(err, errsz, "a page name has no spaces or control characters");
			return -EINVAL;
		}
	}
	if (!strncmp(url, "about:evil", 10)) {
		snprintf(err, errsz, "about:evil is for the 'evil' command only");
		return -EPERM;
	}
	return 0;
}

int browser_tab_navigate(struct browser *b, struct tab *t, const char *url, char *err, size_t errsz)
{
	int r = check_url(url, err, errsz);

	if (r < 0)
		return r;
	if (!strcmp(url, "about:gpucrash")) {
		Browser__DebugCrash dc = BROWSER__DEBUG_CRASH__INIT;

		if (bh_worker_send(b->gpu, MSG_DEBUG_CRASH, &dc.base, NULL, 0) < 0) {
			snprintf(err, errsz, "the gpu process is not running");
			return -ENOTCONN;
		}
		browser_say(b, "tab %u: about:gpucrash: asking the gpu process to crash", t->id);
		return 0;
	}
	browser_tab_load(b, t, url);
	return 0;
}

void browser_tab_load(struct browser *b, struct tab *t, const char *url)
{
	if (!is_debug_url(url))
		snprintf(t->url, sizeof t->url, "%s", url);
	snprintf(t->loading_url, sizeof t->loading_url, "%s", url);
	t->nav_pending = true;
	t->title[0] = '\0';
	send_navigate(b, t);
}

int browser_tab_scroll(struct browser *b, struct tab *t, uint32_t y)
{
	Browser__Scroll sc = BROWSER__SCROLL__INIT;
	uint32_t view = content_height(b), max = t->page_height > view ? t->page_height - view : 0;
	int r;

	if (!t->w || !bh_worker_is_ready(t->w) || !t->loaded)
		return -ENOTCONN;

	sc.nav_id = t->nav_id;
	sc.y = y < max ? y : max;
	if (sc.y == t->scroll_y)
		return 0;
	r = bh_worker_send(t->w, MSG_SCROLL, &sc.base, NULL, 0);
	if (r == 0) {
		/* Relative scrolls that follow add to this, before the renderer confirms it. */
		t->scroll_y = sc.y;
		t->scroll_pending = true;
	}
	return r;
}

/*
 * Joins a link target to the directory of `base` (both relative to the pages
 * folder) and folds "." and "..": a result that would climb above the
 * folder is refused, as is anything absolute or of another scheme.
 */
static int resolve_link(const char *base, const char *target, char *out, size_t size)
{
	char joined[2 * URL_MAX];
	const char *slash = strrchr(base, '/');
	size_t n = 0, dir = slash && strncmp(base, "about:", 6) ? (size_t)(slash - base + 1) : 0;

	if (!strncmp(target, "about:", 6)) {
		if (snprintf(out, size, "%s", target) >= (int)size)
			return -ENAMETOOLONG;
		return 0;
	}
	if (!target[0] || target[0] == '/' || strchr(target, ':') || strchr(target, '\\'))
		return -EPERM;
	if (snprintf(joined, sizeof joined, "%.*s%s", (int)dir, base, target) >= (int)sizeof joined)
		return -ENAMETOOLONG;
	/* Fold segment by segment into out. */
	for (char *seg = joined, *next; seg; seg = next) {
		next = strchr(seg, '/');
		if (next)
			*next++ = '\0';
		if (!seg[0] || !strcmp(seg, "."))
			continue;
		if (!strcmp(seg, "..")) {
			if (n == 0)
				return -EPERM;
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--;
			continue;
		}
		if (n + (n ? 1 : 0) + strlen(seg) + 1 > size)
			return -ENAMETOOLONG;
		if (n)
			out[n++] = '/';
		memcpy(out + n, seg, strlen(seg));
		n += strlen(seg);
	}
	if (n == 0)
		return -EPERM;
	out[n] = '\0';
	return 0;
}

int browser_tab_follow(struct browser *b, struct tab *t, unsigned k, char *err, size_t errsz)
{
	char url[URL_MAX];
	int r;

	if (!t->loaded || k >= t->n_link_targets || !t->link_targets[k][0]) {
		snprintf(err, errsz, "tab %u has no link %u (see 'links')", t->id, k + 1);
		return -ENOENT;
	}
	r = resolve_link(t->url, t->link_targets[k], url, sizeof url);
	if (r < 0) {
		snprintf(err, errsz, "link %u (%s) %s", k + 1, t->link_targets[k],
			 r == -EPERM ? "leaves the pages folder" : "is too long");
		return r;
	}
	return browser_tab_navigate(b, t, url, err, errsz);
}

int browser_tab_reload(struct browser *b, struct tab *t)
{
	if (t->failed && bh_worker_restart(t->w) == 0) {
		/* The user asked: give a crash-looping tab a fresh start. */
		t->failed = false;
	}
	snprintf(t->loading_url, sizeof t->loading_url, "%s", t->url);
	t->nav_pending = true;
	send_navigate(b, t);
	return 0;
}

int browser_tab_crash(struct browser *b, struct tab *t)
{
	Browser__DebugCrash dc = BROWSER__DEBUG_CRASH__INIT;

	return bh_worker_send(t->w, MSG_DEBUG_CRASH, &dc.base, NULL, 0);
}

void browser_tab_activate(struct browser *b, struct tab *t)
{
	b->active = t ? t->id : 0;
	send_scene(b);
}

void browser_set_overview(struct browser *b, bool on)
{
	b->overview = on;
	send_scene(b);
}

struct tab *browser_tab_open(struct browser *b, const char *url, char *err, size_t errsz)
{
	struct tab *t, **pp;
	int r;

	if (browser_tab_count(b) >= BROWSER_MAX_TABS) {
		snprintf(err, errsz, "at most %d tabs", BROWSER_MAX_TABS);
		return NULL;
	}
	if (check_url(url, err, errsz) < 0)
		return NULL;
	t = calloc(1, sizeof *t);
	if (!t) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	t->id = ++b->next_tab_id;
	r = bh_worker_start(b->sup, "renderer", t, &t->w);
	if (r < 0) {
		snprintf(err, errsz, "cannot start a renderer: %s", strerror(-r));
		free(t);
		return NULL;
	}
	for (pp = &b->tabs; *pp; pp = &(*pp)->next)
		;
	*pp = t;
	b->active = t->id;
	(void)browser_tab_navigate(b, t, url, err, errsz);
	send_scene(b);
	return t;
}

static void free_tab(struct browser *b, struct tab *t)
{
	for (struct tab **pp = &b->tabs; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	bh_recorder_destroy(t->rec);
	free(t);
}

int browser_tab_close(struct browser *b, struct tab *t)
{
	unsigned idx = browser_tab_index(b, t);

	t->closing = true;
	if (b->active == t->id) {
		struct tab *n = browser_tab_at(b, idx) ? browser_tab_at(b, idx) : browser_tab_at(b, idx - 1);

		b->active = n ? n->id : 0;
	}
	if (bh_worker_stop(t->w) < 0)
		bh_defer_schedule(b->reaper); /* not running: forget it now */
	send_scene(b);
	return 0;
}

/* Forgets the renderers of closed tabs once they are gone (never inside on_exit). */
static void reap(bh_defer *d, void *ud)
{
	struct browser *b = ud;
	struct tab *t = b->tabs, *next;

	for (; t; t = next) {
		next = t->next;
		if (t->closing && bh_worker_forget(t->w) == 0)
			free_tab(b, t);
	}
}

bool browser_all_loaded(const struct browser *b)
{
	/* The latest frame reflects the latest scene: what a screenshot shows is current. */
	if (!b->gpu_ready || !b->out || b->held < 0 || b->shown_serial != b->scene_serial)
		return false;
	for (const struct tab *t = b->tabs; t; t = t->next) {
		if (t->closing || t->failed)
			continue;
		if (t->sad || !t->loaded || t->nav_pending || t->scroll_pending || t->state_gen == 0)
			return false;
		/* The gpu holds the very frame the renderer presented for this page. */
		if (t->shown_kind != 1 || t->shown_gen != t->state_gen || t->shown_seq < t->state_seq)
			return false;
	}
	return true;
}

/* ---- messages from workers ---------------------------------------------------------------- */

static void on_page_state(struct browser *b, struct tab *t, bh_msg *m)
{
	const Browser__PageState *ps = (const Browser__PageState *)bh_msg_body(m);
	bool first = !t->loaded;

	if (ps->nav_id != t->nav_id)
		return; /* an older navigation finishing late */
	t->loaded = true;
	t->ok = ps->ok;
	sanitize(t->title, sizeof t->title, ps->title);
	sanitize(t->error, sizeof t->error, ps->error);
	t->render_us = ps->render_us;
	t->links = ps->links;
	t->page_height = ps->page_height;
	/* The frame of the last Scroll sent (the renderer clamps as send does), or a newer page. */
	if (first || ps->scroll_y == t->scroll_y)
		t->scroll_pending = false;
	t->scroll_y = ps->scroll_y;
	t->n_link_targets = 0;
	for (size_t i = 0; i < ps->n_link_targets && i < TAB_MAX_LINKS; i++) {
		sanitize(t->link_targets[i], sizeof t->link_targets[i], ps->link_targets[i]);
		t->n_link_targets++;
	}
	t->state_gen = ps->generation;
	t->state_seq = ps->frame_seq;
	if (first) {
		event(b, EV_LOADED);
		if (!t->ok) {
			event(b, EV_ERROR_PAGE);
			browser_say(b, "tab %u (%s): error page: %s", t->id,
				    t->loading_url[0] ? t->loading_url : "about:blank", t->error);
		} else if (b->o.verbose) {
			browser_say(b, "tab %u: loaded %s \"%s\" in %.1f ms", t->id, t->loading_url, t->title,
				    (double)t->render_us / 1000.0);
		}
	}
	if (t->sad) {
		t->sad = false;
		browser_say(b, "tab %u: reloaded %s after the crash", t->id, t->url[0] ? t->url : "about:blank");
	}
	send_scene(b);
	script_poll(b);
}

static void on_composited(struct browser *b, bh_msg *m)
{
	const Browser__Composited *c = (const Browser__Composited *)bh_msg_body(m);

	b->shown_serial = c->scene_serial;
	b->out_bytes += c->bytes;
	b->out_compose_ns += c->compose_ns;
	for (size_t i = 0; i < c->n_tabs; i++) {
		struct tab *t = browser_tab_by_id(b, c->tabs[i]->tab_id);

		if (!t)
			continue;
		t->shown_kind = c->tabs[i]->kind;
		t->shown_gen = c->tabs[i]->generation;
		t->shown_seq = c->tabs[i]->frame_seq;
		if (t->sad && !t->sad_shown && t->shown_kind == 2) {
			t->sad_shown = true;
			event(b, EV_SAD);
			browser_say(b, "tab %u: sad tab shown (%s)", t->id, t->sad_reason);
			send_navigate(b, t);
		}
	}
	script_poll(b);
}

static void on_output_attach(struct browser *b, bh_msg *m)
{
	const bh_surface_geometry *g;
	bh_surface *s;
	int r;

	r = bh_surface_handle_attach(m, &s);
	if (r < 0) {
		bh_worker_bad_message(b->gpu, bh_shm_strerror(r));
		return;
	}
	g = bh_surface_get_geometry(s);
	if (g->width != b->o.width || g->height != b->o.height) {
		bh_surface_destroy(s);
		bh_worker_bad_message(b->gpu, "output surface of the wrong size");
		return;
	}
	bh_surface_destroy(b->out);
	b->out = s;
	b->held = -1;
}

static void on_output_frame(struct browser *b, bh_msg *m)
{
	bh_frame f;
	int r;

	if (!b->out) {
		bh_worker_bad_message(b->gpu, "FrameReady before SurfaceAttach");
		return;
	}
	r = bh_surface_parse_frame(m, &f);
	if (r == 0)
		r = bh_surface_handle_ready(b->out, &f);
	if (r < 0) {
		bh_worker_bad_message(b->gpu, bh_shm_strerror(r));
		return;
	}
	/* Keep the newest frame (screenshots read it); the previous one goes back to the gpu. */
	if (b->held >= 0)
		(void)bh_surface_send_release(bh_worker_channel(b->gpu), b->out, (unsigned)b->held);
	b->held = (int)f.slot;
	b->frames++;
	event(b, EV_FRAME);
	output_frame(b);
}

static void on_bad_renderer(struct browser *b, bh_msg *m)
{
	const Browser__BadRenderer *br = (const Browser__BadRenderer *)bh_msg_body(m);
	struct tab *t = browser_tab_by_id(b, br->tab_id);
	char detail[200];

	rel_on_gpu_bad_report(b);
	/* Only the incarnation that sent the bad frame pays; a stale report is dropped, and so is one naming no channel. */
	if (!t || !t->w || !t->chan_gen || br->generation != t->chan_gen || !bh_worker_is_ready(t->w))
		return;
	sanitize(detail, sizeof detail, br->detail);
	bh_worker_bad_message(t->w, detail);
}

static void on_bench_result(struct browser *b, bh_msg *m)
{
	const Browser__BenchResult *r = (const Browser__BenchResult *)bh_msg_body(m);
	double secs = (double)r->compose_ns / 1e9;

	b->bench_done = true;
	b->bench_fps = secs > 0 ? r->frames / secs : 0;
	b->bench_ratio = r->compose_ns && r->memcpy_ns ? (double)r->memcpy_ns / (double)r->compose_ns : 0;
	browser_say(b, "bench: %u tabs, %u frames of %ux%u%s: %.0f frames/s, %.2f GB/s composited, "
		    "%.0f%% of memcpy bandwidth (%.2f GB/s)", r->tabs, r->frames, b->o.width, b->o.height,
		    b->overview ? " (overview)" : "", b->bench_fps, secs > 0 ? (double)r->bytes / secs / 1e9 : 0,
		    b->bench_ratio * 100.0,
		    r->memcpy_ns ? (double)r->bytes / ((double)r->memcpy_ns / 1e9) / 1e9 : 0);
	script_poll(b);
}

int browser_bench(struct browser *b, unsigned frames)
{
	Browser__BenchRequest rq = BROWSER__BENCH_REQUEST__INIT;

	rq.frames = frames;
	b->bench_done = false;
	return bh_worker_send(b->gpu, MSG_BENCH_REQUEST, &rq.base, NULL, 0);
}

static void on_debug_note(struct browser *b, struct tab *t, bh_msg *m)
{
	const Browser__DebugNote *dn = (const Browser__DebugNote *)bh_msg_body(m);
	char text[200];

	sanitize(text, sizeof text, dn->text);
	browser_say(b, "tab %u: renderer says: %s", t->id, text);
}

static void on_message(bh_worker *w, bh_msg *m, void *ud)
{
	struct browser *b = ud;

	if (bh_msg_type(m) == MSG_PONG) {
		rel_on_pong(b, w, m);
		return;
	}
	if (w == b->gpu) {
		switch (bh_msg_type(m)) {
		case BH_MSG_SURFACE_ATTACH:
			on_output_attach(b, m);
			return;
		case BH_MSG_FRAME_READY:
			on_output_frame(b, m);
			return;
		case BH_MSG_SURFACE_DETACH: {
			uint32_t id;

			/* As the gpu judges its renderers: only the surface that is attached. */
			if (bh_surface_parse_detach(m, &id) < 0 || !b->out || id != bh_surface_id(b->out)) {
				bh_worker_bad_message(b->gpu, "bad SurfaceDetach");
				return;
			}
			bh_surface_destroy(b->out);
			b->out = NULL;
			b->held = -1;
			return;
		}
		case MSG_COMPOSITED:
			on_composited(b, m);
			return;
		case MSG_BAD_RENDERER:
			on_bad_renderer(b, m);
			return;
		case MSG_BENCH_RESULT:
			on_bench_result(b, m);
			return;
		}
		return;
	}
	if (bh_msg_type(m) == MSG_PAGE_STATE && bh_worker_userdata(w))
		on_page_state(b, bh_worker_userdata(w), m);
	else if (bh_msg_type(m) == MSG_DEBUG_NOTE && bh_worker_userdata(w))
		on_debug_note(b, bh_worker_userdata(w), m);
}

/* ---- supervision ------------------------------------------------------------------------------ */

static void gpu_ready(struct browser *b)
{
	Browser__GpuConfig gc = BROWSER__GPU_CONFIG__INIT;

	b->gpu_ready = true;
	if (b->gpu_started_once) {
		event(b, EV_GPU_READY);
		browser_say(b, "gpu process back (pid %d): reconnecting %u tab(s)", (int)bh_worker_pid(b->gpu),
			    browser_tab_count(b));
	}
	b->gpu_started_once = true;
	gc.width = b->o.width;
	gc.height = b->o.height;
	gc.strip_height = b->o.strip;
	(void)bh_worker_send(b->gpu, MSG_GPU_CONFIG, &gc.base, NULL, 0);
	send_scene(b);
	for (struct tab *t = b->tabs; t; t = t->next)
		connect_gpu(b, t);
}

/*
 * --record: this incarnation's channel, from after its handshake, into
 * DIR/<type>-<tab>-<pid>.bhrec (fuzz/make-seeds.sh turns them into seeds).
 * Recording is a debugging aid: a file that cannot be made is said once and
 * the run goes on.
 */
/* Where a worker's recorder is kept: the gpu's, or its tab's (NULL for neither). */
static bh_recorder **rec_slot(struct browser *b, bh_worker *w, struct tab *t)
{
	return w == b->gpu ? &b->gpu_rec : t ? &t->rec : NULL;
}

static void record_worker(struct browser *b, bh_worker *w, struct tab *t)
{
	bh_recorder **slot = rec_slot(b, w, t);
	char path[PATH_MAX];
	int r;

	if (!b->o.record_dir || !slot || !bh_worker_channel(w))
		return;
	bh_recorder_destroy(*slot);
	*slot = NULL;
	snprintf(path, sizeof path, "%s/%s-%u-%d.bhrec", b->o.record_dir, w == b->gpu ? "gpu" : "renderer",
		 t ? t->id : 0, (int)bh_worker_pid(w));
	r = bh_recorder_create(path, slot);
	if (r < 0) {
		browser_say(b, "record: %s: %s", path, strerror(-r));
		*slot = NULL;
		return;
	}
	bh_channel_set_recorder(bh_worker_channel(w), *slot);
}

static void unrecord_worker(struct browser *b, bh_worker *w, struct tab *t)
{
	bh_recorder **slot = rec_slot(b, w, t);

	/* The channel is gone by now (the supervisor detaches before on_exit). */
	if (slot) {
		bh_recorder_destroy(*slot);
		*slot = NULL;
	}
}

static void on_ready(bh_worker *w, void *ud)
{
	struct browser *b = ud;
	struct tab *t = bh_worker_userdata(w);

	rel_on_ready(b, w);
	record_worker(b, w, w == b->gpu ? NULL : t);
	if (w == b->gpu) {
		gpu_ready(b);
		script_poll(b);
		return;
	}
	if (!t || t->closing)
		return;
	if (bh_worker_last_exit(w))
		event(b, EV_RESTART);
	connect_gpu(b, t);
	send_navigate(b, t);
	script_poll(b);
}

static void on_exit_cb(bh_worker *w, const bh_exit_info *info, int restarting, void *ud)
{
	struct browser *b = ud;
	struct tab *t = bh_worker_userdata(w);
	char detail[sizeof info->detail];

	/* The detail may quote the worker (a SetupFailed's text): it goes to the terminal. */
	sanitize(detail, sizeof detail, info->detail);
	rel_on_exit(b, w, info, restarting);
	unrecord_worker(b, w, w == b->gpu ? NULL : t);
	if (w == b->gpu) {
		b->gpu_ready = false;
		bh_surface_destroy(b->out);
		b->out = NULL;
		b->held = -1;
		for (struct tab *x = b->tabs; x; x = x->next)
			x->chan_gen = 0;
		if (info->kind == BH_EXIT_STOPPED || b->quitting)
			return;
		event(b, EV_GPU_EXIT);
		browser_say(b, "gpu process pid %d: %s%s%s%s", (int)info->pid, exit_prefix(info),
			    exit_prefix(info)[0] ? ": " : "", detail, restarting ? "; restarting it" : "");
		/* Tabs waiting to show a sad frame cannot wait for a gpu that is gone. */
		for (struct tab *x = b->tabs; x; x = x->next)
			send_navigate(b, x);
		script_poll(b);
		return;
	}
	if (!t)
		return;
	t->chan_gen = 0;
	if (t->closing || info->kind == BH_EXIT_STOPPED || b->quitting) {
		if (t->closing)
			bh_defer_schedule(b->reaper);
		return;
	}
	event(b, EV_RENDERER_EXIT);
	switch (info->kind) {
	case BH_EXIT_CRASH: event(b, EV_CRASH); break;
	case BH_EXIT_HUNG: event(b, EV_HANG); break;
	case BH_EXIT_SANDBOX: event(b, EV_SANDBOX); break;
	case BH_EXIT_BAD_MESSAGE: event(b, EV_BAD_MESSAGE); break;
	default: break;
	}
	t->sad = true;
	t->sad_shown = false;
	t->loaded = false;
	sanitize(t->sad_reason, sizeof t->sad_reason, info->detail);
	/* Reload what the tab last committed; a debug page is not committed. */
	snprintf(t->loading_url, sizeof t->loading_url, "%s", t->url);
	t->nav_pending = restarting;
	browser_say(b, "tab %u (%s): renderer pid %d: %s%s%s%s", t->id, tab_name(t), (int)info->pid,
		    exit_prefix(info), exit_prefix(info)[0] ? ": " : "", detail,
		    restarting ? "; restarting it" : "");
	t->title[0] = '\0';
	send_scene(b);
	script_poll(b);
}

static void on_failed(bh_worker *w, const bh_exit_info *info, void *ud)
{
	struct browser *b = ud;
	struct tab *t = bh_worker_userdata(w);
	char detail[sizeof info->detail];

	sanitize(detail, sizeof detail, info->detail);
	rel_on_failed(b, w);
	if (w == b->gpu) {
		b->gpu_failed = true;
		browser_say(b, "gpu process crashed too many times (%s): no more restarts", detail);
		script_poll(b);
		return;
	}
	if (!t)
		return;
	t->failed = true;
	t->nav_pending = false;
	snprintf(t->sad_reason, sizeof t->sad_reason, "crashed %u times in a row, giving up: %s",
		 info->restarts + 1, detail);
	event(b, EV_FAILED);
	browser_say(b, "tab %u: %s", t->id, t->sad_reason);
	send_scene(b);
	script_poll(b);
}

static const bh_supervisor_ops sup_ops = {
	.on_ready = on_ready,
	.on_message = on_message,
	.on_exit = on_exit_cb,
	.on_failed = on_failed,
};

static void log_hook(bh_log_level level, const char *msg, void *ud)
{
	struct browser *b = ud;

	if (b->o.verbose || level == BH_LOG_ERROR)
		fprintf(stderr, "bulkhead: %s: %s\n", bh_log_level_name(level), msg);
}

int browser_init(struct browser *b)
{
	const bh_profile *renderer, *gpu;
	bh_surface_geometry g;
	uint64_t rsize = 0, gsize = 0;
	int r;

	b->held = -1;
	r = bh_profile_lookup("renderer", &renderer);
	if (r == 0)
		r = bh_profile_lookup("gpu", &gpu);
	if (r < 0)
		return r;
	r = bh_surface_geometry_init(&g, b->o.width, content_height(b), BH_PIXEL_ARGB8888, RENDERER_SLOTS);
	if (r == 0)
		r = bh_surface_geometry_check(&g, NULL, &rsize);
	if (r == 0)
		r = bh_surface_geometry_init(&g, b->o.width, b->o.height, BH_PIXEL_ARGB8888, GPU_OUTPUT_SLOTS);
	if (r == 0)
		r = bh_surface_geometry_check(&g, NULL, &gsize);
	if (r < 0)
		return r;

	renderer_files[0] = (bh_file_rule){ b->o.pages_dir, ".html" };
	renderer_files[1] = (bh_file_rule){ b->o.pages_dir, ".png" };
	renderer_files[2] = (bh_file_rule){ b->o.font_dir, ".ttf" };
	gpu_files[0] = (bh_file_rule){ b->o.font_dir, ".ttf" };

	specs[0] = (bh_worker_spec){
		.name = "renderer",
		.entry = renderer_main,
		.profile = renderer,
		.restart = BH_RESTART_ON_CRASH,
		.backoff_initial_ms = 50,
		.backoff_max_ms = 1000,
		.crash_limit = 3,
		.crash_period_ms = 30000,
		.heartbeat_ms = 200,
		/* Generous: a busy machine must not make a healthy renderer look hung. */
		.hang_timeout_ms = 3000,
		/* Its surface, once; a second region only if the window were resized. */
		.shm_quota_bytes = rsize,
		.shm_quota_regions = 1,
		.send_types = renderer_sends,
		.n_send_types = sizeof renderer_sends / sizeof renderer_sends[0],
		.files = renderer_files,
		.n_files = 3,
	};
	specs[1] = (bh_worker_spec){
		.name = "gpu",
		.entry = gpu_main,
		.profile = gpu,
		.restart = BH_RESTART_ALWAYS,
		.backoff_initial_ms = 50,
		.backoff_max_ms = 2000,
		.crash_limit = 5,
		.crash_period_ms = 30000,
		.heartbeat_ms = 200,
		.hang_timeout_ms = 3000,
		.shm_quota_bytes = gsize,
		.shm_quota_regions = 1,
		.send_types = gpu_sends,
		.n_send_types = sizeof gpu_sends / sizeof gpu_sends[0],
		.files = gpu_files,
		.n_files = 1,
	};

	if (b->o.fuzz_fixture) {
		/* Fake workers send no heartbeats: the watchdog would call them hung mid-input. */
		specs[0].heartbeat_ms = specs[1].heartbeat_ms = 0;
		specs[0].hang_timeout_ms = specs[1].hang_timeout_ms = 0;
	}
	if (b->o.chaos_mode) {
		/*
		 * `chaos` kills every few hundred milliseconds: the crash-loop
		 * limit would end the run, not test anything. 1000 restarts in
		 * 30 s is far above what chaos can reach (at most 300).
		 */
		specs[0].crash_limit = 1000;
		specs[1].crash_limit = 1000;
	}

	r = bh_loop_create(&b->loop);
	if (r < 0)
		return r;
	bh_loop_set_logger(b->loop, log_hook, b);
	r = browser_registry_create(&b->reg);
	if (r < 0)
		return r;
	/* Before anything else is opened or read: the zygote is a copy of this moment. */
	r = bh_supervisor_create(b->loop, b->reg, specs, 2, &sup_ops, b, &b->sup);
	if (r < 0)
		return r;
	r = bh_defer_create(b->loop, reap, b, &b->reaper);
	if (r < 0)
		return r;
	r = rel_init(b);
	if (r < 0)
		return r;
	if (b->o.fuzz_fixture)
		return 0;
	return bh_worker_start(b->sup, "gpu", NULL, &b->gpu);
}

void browser_fini(struct browser *b)
{
	bh_surface_destroy(b->out);
	b->out = NULL;
	bh_supervisor_destroy(b->sup);
	b->sup = NULL;
	rel_fini(b);
	bh_recorder_destroy(b->gpu_rec);
	b->gpu_rec = NULL;
	while (b->tabs) {
		struct tab *t = b->tabs;

		b->tabs = t->next;
		bh_recorder_destroy(t->rec);
		free(t);
	}
	bh_defer_destroy(b->reaper);
	bh_registry_destroy(b->reg);
	bh_loop_destroy(b->loop);
}

static void shutdown_done(bh_supervisor *sup, void *ud)
{
	struct browser *b = ud;

	bh_loop_quit(b->loop, b->exit_code);
}

void browser_quit(struct browser *b, int code)
{
	if (b->quitting)
		return;
	/* Statistics while every process is still there to be measured. */
	if (b->o.stats_json)
		stats_print(b, stdout, true);
	b->quitting = true;
	b->exit_code = code;
	if (bh_supervisor_shutdown(b->sup, shutdown_done, b) < 0)
		bh_loop_quit(b->loop, code);
}
