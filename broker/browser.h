/*
 * The browser process (broker) of bulkhead-browser: private declarations
 * shared by its files. The broker owns the terminal, the files and the
 * output; it never parses a page or decodes an image itself.
 */
#ifndef BH_BROKER_BROWSER_H
#define BH_BROKER_BROWSER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <bulkhead/loop.h>
#include <bulkhead/shm.h>
#include <bulkhead/record.h>
#include <bulkhead/supervisor.h>

#define BROWSER_MAX_TABS 16
#define URL_MAX 256
#define TITLE_MAX 128
#define TAB_MAX_LINKS 64      /* link targets kept per tab (PageState sends at most these) */

/* Exit statuses of bulkhead-browser (docs/DEMO.md). */
enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1, /* a wait timed out, a command failed, a screenshot could not be written */
	EXIT_USAGE = 2,  /* bad option or argument */
	EXIT_START = 3,  /* could not start (pages folder, sandbox, zygote) */
};

/* Things that happen, counted so that scripts can wait for them (`wait event NAME`). */
enum browser_event {
	EV_LOADED,        /* a page finished (normal or error page) */
	EV_ERROR_PAGE,    /* a page could not be shown: error page */
	EV_CRASH,         /* a renderer crashed */
	EV_HANG,          /* a renderer was killed by the hang watchdog */
	EV_SANDBOX,       /* a renderer was killed by the seccomp filter */
	EV_BAD_MESSAGE,   /* a renderer was killed as a bad-message sender */
	EV_RENDERER_EXIT, /* any renderer end */
	EV_RESTART,       /* a renderer came back after an end */
	EV_SAD,           /* the gpu drew a sad tab */
	EV_FAILED,        /* a tab's renderer crashed too often: permanent sad tab */
	EV_GPU_EXIT,      /* the gpu process ended */
	EV_GPU_READY,     /* the gpu process (re)started */
	EV_FRAME,         /* a composited frame arrived */
	EV_COUNT
};

/*
 * What broker/reliability.c keeps per worker incarnation (Pings, the flood
 * budget) and per worker (chaos kills).
 */
struct wrel {
	uint64_t ping_sent;      /* Pings the channel accepted (seq of the last) */
	uint64_t pong_seq;       /* seq of the last Pong */
	uint64_t pongs;
	uint64_t gaps;           /* Pongs that were not last + 1, plus gaps the worker saw */
	uint64_t worker_gaps;    /* the latest count the worker reported */
	uint64_t worker_refused; /* Pongs the worker said its own queue refused */
	uint64_t wait_since_ns;  /* a Ping is unanswered since (0: none) */
	uint64_t win_start_ns;   /* flood budget: current one-second window */
	uint64_t win_recv;       /* messages received before it */
	bool throttled;          /* channel paused until the window ends */
	unsigned strikes;        /* windows over budget in a row */
	uint64_t flood_t0_ns;    /* first throttle of the current flood (0: none) */
	uint64_t flood_frames0;  /* the broker's frame count then */
	unsigned chaos_kills;    /* for the worker's whole life */
	bool chaos_pending;      /* killed by chaos; not back yet */
	uint64_t queue_full;     /* sends refused with -ENOBUFS, all incarnations */
	size_t peak_queued;      /* largest send queue seen, bytes */
};

struct rel_state {
	bh_timer *tick;
	uint64_t pings, pongs, gaps, throttles, flood_kills, stall_kills;
	uint64_t flood_frames, flood_ms; /* frames composited while a worker flooded, and for how long */
	uint64_t exits[BH_EXIT_KIND_COUNT]; /* ends of renderers and gpu, by kind */
	long fds, peak_fds, rss_kb, peak_rss_kb;
	/* chaos */
	bh_timer *chaos_timer;
	bool chaos_active;
	uint64_t chaos_end_ns, chaos_t0_ns, rng;
	unsigned kills, renderer_kills, gpu_kills, sigkills, sigsegvs;
	/* evil: one tab's renderer in evil-worker mode (renderer/evil.h) */
	bh_timer *evil_timer;
	uint32_t evil_tab;          /* its id (0: none yet) */
	bool evil_active;           /* every incarnation of that tab is sent to about:evil */
	bool evil_reported;
	uint64_t evil_t0_ns, evil_end_ns, evil_seed;
	uint64_t evil_frames0, evil_bad0, evil_reports0; /* frames, bad-message exits, gpu reports at start */
	unsigned evil_rounds;       /* incarnations sent to about:evil */
	unsigned evil_bad_kills;    /* of those, killed as bad-message senders */
	unsigned evil_other_ends;   /* ended otherwise (killed when the time was up, crashed...) */
	unsigned evil_bystanders;   /* ends of other processes (other tabs, the gpu) meanwhile */
	uint32_t evil_gpu_pid;      /* the gpu process when it started: it must be the same at the end */
	uint64_t gpu_bad_reports;   /* BadRenderer reports from the gpu, stale ones included */
};

struct tab {
	uint32_t id;            /* stable for the tab's life, shown by `list` */
	bh_worker *w;           /* its renderer (keeps its identity across restarts) */
	struct tab *next;
	bool closing;

	char url[URL_MAX];      /* committed: what reload loads ("" = about:blank) */
	char loading_url[URL_MAX];
	uint32_t nav_id;        /* latest Navigate sent */
	bool nav_pending;       /* navigate once the renderer is ready */
	bool loaded;            /* PageState for nav_id arrived */
	bool ok;
	char title[TITLE_MAX + 1];
	char error[256];
	uint64_t render_us;
	uint32_t links;
	char link_targets[TAB_MAX_LINKS][URL_MAX]; /* sanitized; "" when unusable */
	unsigned n_link_targets;
	uint32_t page_height;   /* laid-out height of the page shown */
	uint32_t scroll_y;      /* its row at the top of the frame */
	bool scroll_pending;    /* a Scroll was sent; its frame's PageState has not come */
	uint32_t state_gen;     /* frame the PageState names */
	uint64_t state_seq;

	bool sad;               /* the renderer died; sad-tab until the reload shows */
	bool sad_shown;         /* the gpu drew it */
	bool failed;            /* crash loop: permanent sad tab */
	char sad_reason[200];

	uint32_t chan_gen;      /* gpu channel of the current renderer incarnation (0: none) */
	uint32_t shown_kind, shown_gen;
	uint64_t shown_seq;

	struct wrel rel;
	bh_recorder *rec;       /* --record: its renderer's channel, this incarnation */
};

struct browser_opts {
	const char *pages_dir;  /* absolute */
	const char *font_dir;
	uint32_t width, height, strip;
	bool headless;
	int preview;            /* -1 auto (stdout is a tty), 0 off, 1 on */
	bool verbose;
	bool stats_json;        /* print stats as JSON at exit */
	const char *frames_dir; /* every frame as a PNG here */
	bool chaos_mode;        /* crash-loop limits lifted for `chaos` (--chaos, --chaos-mode) */
	const char *record_dir; /* --record: every worker channel recorded here */
	/*
	 * Internal, for fuzz/fuzz_broker.c only: browser_init() starts no gpu
	 * process and arms no heartbeat watchdog; the harness binds fake workers
	 * (supervisor/supervisor_private.h) as b->gpu and as its tabs' renderers.
	 */
	bool fuzz_fixture;
};

struct script;

struct browser {
	struct browser_opts o;
	bh_loop *loop;
	bh_registry *reg;
	bh_supervisor *sup;
	bh_worker *gpu;
	bh_recorder *gpu_rec;   /* --record: the gpu's channel, this incarnation */
	bool gpu_ready;
	bool gpu_failed;
	bool gpu_started_once;

	struct tab *tabs;       /* in strip order */
	uint32_t next_tab_id, next_nav_id, next_gen;
	uint32_t active;        /* tab id, 0 if none */
	bool overview;
	bh_defer *reaper;
	uint64_t scene_serial;  /* of the latest Scene sent to the gpu */
	uint64_t shown_serial;  /* of the Scene the latest frame reflects */       /* forgets workers of closed tabs outside supervisor callbacks */

	/* Output: the gpu's output surface, mapped read-only. */
	bh_surface *out;
	int held;               /* slot the broker holds (the latest frame), or -1 */
	uint64_t frames;
	uint64_t out_bytes, out_compose_ns;
	uint64_t fps_t0, fps_frames;
	double fps;

	/* Events and scripting. */
	uint64_t ev[EV_COUNT];
	struct script *script;
	int exit_code;
	bool quitting;

	/* Terminal. */
	bool tty_out, tty_in, interactive;
	int preview_rows;       /* rows the preview uses (0: none) */
	uint64_t preview_last_ns;
	bh_watch *stdin_watch;

	/* Pings, flood budget, chaos (reliability.c). */
	struct wrel gpu_rel;
	struct rel_state rel;

	/* Benchmark results from the gpu. */
	bool bench_done;
	double bench_fps, bench_ratio;
};

/* ---- browser.c: processes, tabs, navigation -------------------------------------- */

int browser_init(struct browser *b);
void browser_fini(struct browser *b);
const char *browser_event_name(enum browser_event ev);
int browser_event_from_name(const char *name);

struct tab *browser_tab_open(struct browser *b, const char *url, char *err, size_t errsz);
int browser_tab_close(struct browser *b, struct tab *t);
int browser_tab_navigate(struct browser *b, struct tab *t, const char *url, char *err, size_t errsz);
/* Loads url in t without the user's checks (url is valid; debug pages are not committed). */
void browser_tab_load(struct browser *b, struct tab *t, const char *url);
/* Shows t's page from row y (the renderer clamps it). -ENOTCONN if its renderer is not running. */
int browser_tab_scroll(struct browser *b, struct tab *t, uint32_t y);
/*
 * Navigates t to its link k (0-based, as `links` lists them): the target
 * resolved against the directory of the tab's page. -ENOENT for no such
 * link, -EPERM for one that leaves the pages folder or names another scheme;
 * err says why.
 */
int browser_tab_follow(struct browser *b, struct tab *t, unsigned k, char *err, size_t errsz);
int browser_tab_reload(struct browser *b, struct tab *t);
int browser_tab_crash(struct browser *b, struct tab *t);
void browser_tab_activate(struct browser *b, struct tab *t);
void browser_set_overview(struct browser *b, bool on);
/* The tab at 1-based strip position n, or NULL. */
struct tab *browser_tab_at(struct browser *b, unsigned n);
unsigned browser_tab_index(struct browser *b, const struct tab *t);
unsigned browser_tab_count(const struct browser *b);
struct tab *browser_tab_by_id(struct browser *b, uint32_t id);
/* True when every tab shows its page (or failed for good) in the latest frame. */
bool browser_all_loaded(const struct browser *b);
int browser_bench(struct browser *b, unsigned frames);
/* Logs one line to the user (events, errors), above the prompt. */
void browser_say(struct browser *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void browser_quit(struct browser *b, int code);

/* ---- output.c: screenshots, terminal preview, status line ----------------------- */

int output_screenshot(struct browser *b, const char *path, char *err, size_t errsz);
void output_frame(struct browser *b);
void output_status(struct browser *b);
void output_init(struct browser *b);
void output_fini(struct browser *b);

/* ---- commands.c: the command language (interactive and --script) ------------------ */

int script_create(struct browser *b);
void script_destroy(struct browser *b);
/* Queues one command line (from the script file, the options or stdin). */
int script_push(struct browser *b, const char *line);
/* Runs queued commands until one waits or the queue is empty. */
void script_run(struct browser *b);
/* Something happened: a waiting command may be satisfied. */
void script_poll(struct browser *b);
bool script_idle(const struct browser *b);

/* ---- reliability.c: Pings, flood budget, stall rule, chaos ------------------------- */

int rel_init(struct browser *b);
void rel_fini(struct browser *b);
void rel_on_ready(struct browser *b, bh_worker *w);
void rel_on_exit(struct browser *b, bh_worker *w, const bh_exit_info *info, int restarting);
void rel_on_failed(struct browser *b, bh_worker *w);
void rel_on_pong(struct browser *b, bh_worker *w, bh_msg *m);
/* Starts killing random workers for `secs` seconds (seed 0: from the clock). */
int rel_chaos_start(struct browser *b, unsigned secs, uint64_t seed);
/* True while chaos runs or a worker it killed is not back yet. */
bool rel_chaos_busy(const struct browser *b);
/*
 * Evil-worker mode for `secs` seconds: tab t's renderer, and every
 * incarnation restarted after it, is sent to about:evil (seeded from
 * `seed`, the target cycling broker, gpu, both). -EBUSY if one runs,
 * -EPERM without --chaos-mode (the crash-loop limit would end it at once).
 */
int rel_evil_start(struct browser *b, struct tab *t, unsigned secs, uint64_t seed);
/* True until the time is up and the tab shows its own page again. */
bool rel_evil_busy(struct browser *b);
/* Counts BadRenderer reports from the gpu (browser.c). */
void rel_on_gpu_bad_report(struct browser *b);
/* Sends n Pings at once to a worker; says how many the send queue refused. */
void rel_burst(struct browser *b, bh_worker *w, unsigned n, const char *who);
struct wrel *rel_of(struct browser *b, const bh_worker *w);
/* The broker's own open fds and RSS, measured now. */
void rel_sample(struct browser *b);
/* The "reliability" JSON object of `stats json`. */
void rel_print_json(struct browser *b, FILE *f);

/* ---- stats.c: stats, sandbox table, about:sandbox ---------------------------------- */

void stats_print(struct browser *b, FILE *f, bool json);
void stats_sandbox_table(struct browser *b, FILE *f);
/* The about:sandbox page: malloc'ed HTML in *html (caller frees). */
int stats_sandbox_html(struct browser *b, char **html, size_t *len);

#endif
