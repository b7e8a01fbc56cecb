/*
 * The command language, the same for the interactive prompt and for
 * --script files: one command per line, '#' starts a comment. Commands run
 * in order; `wait` and `sleep` hold the ones after them until their
 * condition holds (or time out, which fails the script).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/browser.h"

#define MAX_ARGS 8
#define DEFAULT_WAIT_S 30

enum wait_kind { W_NONE, W_LOADED, W_FRAMES, W_EVENT, W_SLEEP, W_BENCH, W_CHAOS, W_EVIL };

struct script {
	char **lines;
	size_t n, cap, pos;
	enum wait_kind wait;
	int ev;
	uint64_t target;
	uint64_t deadline_ns;
	char what[64];
	bh_timer *timer;
	uint64_t base[EV_COUNT]; /* event counts when the last non-wait command ran */
	bool running;
};

static const char help_text[] =
	"commands:\n"
	"  open PAGE...          open tabs (PAGE: a file below the pages folder, or about:...)\n"
	"  close [N]             close tab N (default: the active tab)\n"
	"  navigate [N] PAGE     load PAGE in tab N (alias: go)\n"
	"  tab N                 show tab N\n"
	"  links [N]             the tab's links, numbered\n"
	"  follow [N] LINK       load the tab's link number LINK\n"
	"  scroll [N] Y|+DY|-DY  show the tab's page from row Y (or DY rows further)\n"
	"  reload [N]            load the tab's page again\n"
	"  crash [N]             crash the tab's renderer on purpose\n"
	"  overview [on|off]     a grid of every tab instead of the active one\n"
	"  list                  tabs, their pages and states\n"
	"  stats [json]          every process: pid, type, tab, memory, CPU, restarts, sandbox\n"
	"  sandbox               the sandbox layers of every process\n"
	"  screenshot FILE       write the current frame as a PNG\n"
	"  wait loaded [S]       until every tab shows its page (S seconds at most, default 30)\n"
	"  wait frames N [S]     until N more frames were composited\n"
	"  wait event NAME [N] [S]  until NAME happened N times since the last command\n"
	"  sleep MS              pause the script\n"
	"  bench [FRAMES]        measure the compositor inside the gpu process\n"
	"  chaos SECONDS [SEED]  kill random renderers and the gpu every 100-500 ms, then wait\n"
	"                        until every one is back (use --chaos-mode to lift crash-loop limits)\n"
	"  evil N SECONDS [SEED] tab N's renderers send mutated frames to the broker and the gpu\n"
	"                        until killed, for SECONDS; then wait for its page (needs --chaos-mode)\n"
	"  burst N [TAB|gpu]     send N Pings at once (shows the bounded send queue)\n"
	"  help, quit\n"
	"debug pages: about:crash about:hang about:escape (-open, -socket, -exec) about:badmessage\n"
	"  about:badframe about:gpucrash about:sandbox about:blank about:animate about:flood\n"
	"  about:fillsocket about:stall about:oom about:forkbomb\n"
	"events: loaded error-page crash hang sandbox bad-message renderer-exit restart sad failed\n"
	"  gpu-exit gpu-ready frame\n";

static void on_timer(bh_timer *t, void *ud)
{
	script_poll(ud);
}

int script_create(struct browser *b)
{
	struct script *s = calloc(1, sizeof *s);
	int r;

	if (!s)
		return -ENOMEM;
	r = bh_timer_create(b->loop, on_timer, b, &s->timer);
	if (r < 0) {
		free(s);
		return r;
	}
	b->script = s;
	return 0;
}

void script_destroy(struct browser *b)
{
	struct script *s = b->script;

	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->lines[i]);
	free(s->lines);
	bh_timer_destroy(s->timer);
	free(s);
	b->script = NULL;
}

int script_push(struct browser *b, const char *line)
{
	struct script *s = b->script;
	char *copy;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		char **l = realloc(s->lines, cap * sizeof *l);

		if (!l)
			return -ENOMEM;
		s->lines = l;
		s->cap = cap;
	}
	copy = strdup(line);
	if (!copy)
		return -ENOMEM;
	s->lines[s->n++] = copy;
	return 0;
}

bool script_idle(const struct browser *b)
{
	return b->script->pos == b->script->n && b->script->wait == W_NONE;
}

/* ---- arguments ------------------------------------------------------------------------- */

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static struct tab *tab_arg(struct browser *b, int argc, char **argv, int i, char *err, size_t errsz)
{
	unsigned long n;
	struct tab *t;

	if (argc <= i) {
		t = browser_tab_by_id(b, b->active);
		if (!t)
			snprintf(err, errsz, "no tab is open");
		return t;
	}
	if (parse_uint(argv[i], UINT_MAX, &n) < 0 || !(t = browser_tab_at(b, (unsigned)n))) {
		snprintf(err, errsz, "no tab '%s' (tabs are numbered 1 to %u, see 'list')", argv[i],
			 browser_tab_count(b));
		return NULL;
	}
	return t;
}

static const char *tab_state(const struct tab *t)
{
	if (t->failed)
		return "failed";
	if (t->sad)
		return "sad";
	if (!t->loaded)
		return "loading";
	return t->ok ? "loaded" : "error";
}

static void list_tabs(struct browser *b)
{
	unsigned i = 0;

	for (struct tab *t = b->tabs; t; t = t->next) {
		if (t->closing)
			continue;
		i++;
		browser_say(b, "%c%u  %-8s %-24s %s%s%s", t->id == b->active ? '*' : ' ', i, tab_state(t),
			    t->url[0] ? t->url : "about:blank", t->title[0] ? "\"" : "", t->title,
			    t->title[0] ? "\"" : "");
		if (t->sad || t->failed)
			browser_say(b, "      %s", t->sad_reason);
		else if (t->loaded && !t->ok)
			browser_say(b, "      %s", t->error);
	}
	if (!i)
		browser_say(b, "no tabs");
}

/* ---- waiting ------------------------------------------------------------------------------- */

static bool wait_done(struct browser *b)
{
	struct script *s = b->script;

	switch (s->wait) {
	case W_NONE:
		return true;
	case W_LOADED:
		return browser_all_loaded(b);
	case W_FRAMES:
		return b->frames >= s->target;
	case W_EVENT:
		return b->ev[s->ev] >= s->target;
	case W_SLEEP:
		return bh_now_ns() >= s->deadline_ns;
	case W_BENCH:
		return b->bench_done;
	case W_CHAOS:
		return !rel_chaos_busy(b);
	case W_EVIL:
		return !rel_evil_busy(b);
	}
	return true;
}

static void start_wait(struct browser *b, enum wait_kind kind, uint64_t target, int ev, unsigned secs,
		       const char *what)
{
	struct script *s = b->script;

	s->wait = kind;
	s->target = target;
	s->ev = ev;
	snprintf(s->what, sizeof s->what, "%s", what);
	s->deadline_ns = bh_now_ns() + (uint64_t)secs * 1000000000ull;
	(void)bh_timer_arm(s->timer, (uint64_t)secs * 1000u, 0);
}

/* ---- commands ------------------------------------------------------------------------------ */

/* Runs one command. Returns 0, or -1 after printing one line that says why. */
static int run_command(struct browser *b, int argc, char **argv)
{
	struct script *s = b->script;
	const char *cmd = argv[0];
	char err[256] = "";
	struct tab *t;
	unsigned long n = 0, secs = DEFAULT_WAIT_S;

	if (strcmp(cmd, "wait") && strcmp(cmd, "sleep"))
		memcpy(s->base, b->ev, sizeof s->base);

	if (!strcmp(cmd, "help")) {
		fputs(help_text, stdout);
		return 0;
	}
	if (!strcmp(cmd, "open")) {
		if (argc < 2) {
			browser_say(b, "open: which page? (e.g. open text.html)");
			return -1;
		}
		for (int i = 1; i < argc; i++) {
			if (!browser_tab_open(b, argv[i], err, sizeof err)) {
				browser_say(b, "open: %s", err);
				return -1;
			}
		}
		return 0;
	}
	if (!strcmp(cmd, "close") || !strcmp(cmd, "reload") || !strcmp(cmd, "crash") || !strcmp(cmd, "tab")) {
		if (argc > 2 || (!strcmp(cmd, "tab") && argc != 2)) {
			browser_say(b, "%s: too many arguments (usage: %s %s)", cmd, cmd, !strcmp(cmd, "tab") ? "N" : "[N]");
			return -1;
		}
		t = tab_arg(b, argc, argv, 1, err, sizeof err);
		if (!t) {
			browser_say(b, "%s: %s", cmd, err);
			return -1;
		}
		if (!strcmp(cmd, "close"))
			return browser_tab_close(b, t) < 0 ? -1 : 0;
		if (!strcmp(cmd, "reload"))
			return browser_tab_reload(b, t) < 0 ? -1 : 0;
		if (!strcmp(cmd, "tab")) {
			browser_tab_activate(b, t);
			return 0;
		}
		if (browser_tab_crash(b, t) < 0) {
			browser_say(b, "crash: tab %u has no running renderer", browser_tab_index(b, t));
			return -1;
		}
		return 0;
	}
	if (!strcmp(cmd, "links")) {
		if (argc > 2) {
			browser_say(b, "links: usage: links [N]");
			return -1;
		}
		t = tab_arg(b, argc, argv, 1, err, sizeof err);
		if (!t) {
			browser_say(b, "links: %s", err);
			return -1;
		}
		browser_say(b, "tab %u: %u link(s)%s", browser_tab_index(b, t), t->links,
			    t->links > t->n_link_targets ? " (the first ones listed)" : "");
		for (unsigned i = 0; i < t->n_link_targets; i++)
			browser_say(b, "  %2u  %s", i + 1, t->link_targets[i][0] ? t->link_targets[i] : "(too long)");
		return 0;
	}
	if (!strcmp(cmd, "follow")) {
		if (argc < 2 || argc > 3 || parse_uint(argv[argc - 1], UINT_MAX, &n) < 0 || n == 0) {
			browser_say(b, "follow: usage: follow [N] LINK (LINK as 'links' numbers them)");
			return -1;
		}
		t = tab_arg(b, argc - 1, argv, argc == 3 ? 1 : 99, err, sizeof err);
		if (!t || browser_tab_follow(b, t, (unsigned)n - 1, err, sizeof err) < 0) {
			browser_say(b, "follow: %s", err);
			return -1;
		}
		return 0;
	}
	if (!strcmp(cmd, "scroll")) {
		const char *y = argv[argc - 1];
		long long to;
		char *end;

		errno = 0;
		to = argc >= 2 ? strtoll(y, &end, 10) : 0;
		if (argc < 2 || argc > 3 || errno || end == y || *end) {
			browser_say(b, "scroll: usage: scroll [N] Y|+DY|-DY (page rows)");
			return -1;
		}
		t = tab_arg(b, argc - 1, argv, argc == 3 ? 1 : 99, err, sizeof err);
		if (!t) {
			browser_say(b, "scroll: %s", err);
			return -1;
		}
		if (y[0] == '+' || y[0] == '-')
			to += t->scroll_y;
		if (to < 0)
			to = 0;
		if (to > UINT32_MAX)
			to = UINT32_MAX;
		if (browser_tab_scroll(b, t, (uint32_t)to) < 0) {
			browser_say(b, "scroll: tab %u shows no page yet", browser_tab_index(b, t));
			return -1;
		}
		return 0;
	}
	if (!strcmp(cmd, "navigate") || !strcmp(cmd, "go")) {
		if (argc < 2 || argc > 3) {
			browser_say(b, "%s: usage: %s [N] PAGE", cmd, cmd);
			return -1;
		}
		t = tab_arg(b, argc - 1, argv, argc == 3 ? 1 : 99, err, sizeof err);
		if (!t) {
			browser_say(b, "%s: %s", cmd, err);
			return -1;
		}
		if (browser_tab_navigate(b, t, argv[argc - 1], err, sizeof err) < 0) {
			browser_say(b, "%s: %s", cmd, err);
			return -1;
		}
		return 0;
	}
	if (!strcmp(cmd, "list")) {
		list_tabs(b);
		return 0;
	}
	if (!strcmp(cmd, "stats")) {
		if (argc > 2 || (argc == 2 && strcmp(argv[1], "json"))) {
			browser_say(b, "stats: usage: stats [json]");
			return -1;
		}
		stats_print(b, stdout, argc == 2);
		return 0;
	}
	if (!strcmp(cmd, "sandbox")) {
		stats_sandbox_table(b, stdout);
		return 0;
	}
	if (!strcmp(cmd, "overview")) {
		if (argc > 2 || (argc == 2 && strcmp(argv[1], "on") && strcmp(argv[1], "off"))) {
			browser_say(b, "overview: usage: overview [on|off]");
			return -1;
		}
		browser_set_overview(b, argc == 2 ? !strcmp(argv[1], "on") : !b->overview);
		return 0;
	}
	if (!strcmp(cmd, "screenshot")) {
		if (argc != 2) {
			browser_say(b, "screenshot: usage: screenshot FILE");
			return -1;
		}
		if (output_screenshot(b, argv[1], err, sizeof err) < 0) {
			browser_say(b, "screenshot: %s", err);
			return -1;
		}
		browser_say(b, "screenshot: wrote %s (%ux%u)", argv[1], b->o.width, b->o.height);
		return 0;
	}
	if (!strcmp(cmd, "sleep")) {
		if (argc != 2 || parse_uint(argv[1], 600000, &n) < 0) {
			browser_say(b, "sleep: usage: sleep MILLISECONDS");
			return -1;
		}
		start_wait(b, W_SLEEP, 0, 0, (unsigned)(n / 1000 + 1), "sleep");
		s->deadline_ns = bh_now_ns() + (uint64_t)n * 1000000ull;
		(void)bh_timer_arm(s->timer, n, 0);
		return 0;
	}
	if (!strcmp(cmd, "wait")) {
		int ev;

		if (argc >= 2 && !strcmp(argv[1], "loaded") && argc <= 3 &&
		    (argc == 2 || parse_uint(argv[2], 3600, &secs) == 0)) {
			start_wait(b, W_LOADED, 0, 0, (unsigned)secs, "every tab to load");
			return 0;
		}
		if (argc >= 3 && !strcmp(argv[1], "frames") && argc <= 4 && parse_uint(argv[2], 1000000, &n) == 0 &&
		    (argc == 3 || parse_uint(argv[3], 3600, &secs) == 0)) {
			start_wait(b, W_FRAMES, b->frames + n, 0, (unsigned)secs, "frames");
			return 0;
		}
		if (argc >= 3 && !strcmp(argv[1], "event") && argc <= 5) {
			ev = browser_event_from_name(argv[2]);
			n = 1;
			if (ev < 0) {
				browser_say(b, "wait: unknown event '%s' (see 'help')", argv[2]);
				return -1;
			}
			if ((argc >= 4 && parse_uint(argv[3], 1000000, &n) < 0) ||
			    (argc == 5 && parse_uint(argv[4], 3600, &secs) < 0)) {
				browser_say(b, "wait: usage: wait event NAME [COUNT] [SECONDS]");
				return -1;
			}
			start_wait(b, W_EVENT, s->base[ev] + n, ev, (unsigned)secs, argv[2]);
			return 0;
		}
		browser_say(b, "wait: usage: wait loaded [S] | wait frames N [S] | wait event NAME [N] [S]");
		return -1;
	}
	if (!strcmp(cmd, "bench")) {
		if (argc > 2 || (argc == 2 && parse_uint(argv[1], 2000, &n) < 0)) {
			browser_say(b, "bench: usage: bench [FRAMES] (at most 2000)");
			return -1;
		}
		if (browser_bench(b, argc == 2 ? (unsigned)n : 300) < 0) {
			browser_say(b, "bench: the gpu process is not running");
			return -1;
		}
		start_wait(b, W_BENCH, 0, 0, 60, "the benchmark");
		return 0;
	}
	if (!strcmp(cmd, "chaos")) {
		unsigned long long seed = 0;
		char *end;

		if (argc < 2 || argc > 3 || parse_uint(argv[1], 86400, &n) < 0 || n == 0 ||
		    (argc == 3 && (errno = 0, seed = strtoull(argv[2], &end, 10), errno || *end))) {
			browser_say(b, "chaos: usage: chaos SECONDS [SEED] (1 to 86400 seconds)");
			return -1;
		}
		if (rel_chaos_start(b, (unsigned)n, seed) < 0) {
			browser_say(b, "chaos: already running");
			return -1;
		}
		/* Time to kill, and time for the last ones killed to come back. */
		start_wait(b, W_CHAOS, 0, 0, (unsigned)n + 60, "chaos to end and every process to come back");
		return 0;
	}
	if (!strcmp(cmd, "evil")) {
		unsigned long long seed = 0;
		char *end;
		int e;

		if (argc < 3 || argc > 4 || parse_uint(argv[2], 86400, &n) < 0 || n == 0 ||
		    (argc == 4 && (errno = 0, seed = strtoull(argv[3], &end, 10), errno || *end))) {
			browser_say(b, "evil: usage: evil N SECONDS [SEED] (1 to 86400 seconds)");
			return -1;
		}
		t = tab_arg(b, argc, argv, 1, err, sizeof err);
		if (!t) {
			browser_say(b, "evil: %s", err);
			return -1;
		}
		e = rel_evil_start(b, t, (unsigned)n, seed);
		if (e < 0) {
			browser_say(b, "evil: %s", e == -EPERM ? "start the browser with --chaos-mode: the crash-loop "
				    "limit would end it at once" : e == -EBUSY ? "already running" : strerror(-e));
			return -1;
		}
		start_wait(b, W_EVIL, 0, 0, (unsigned)n + 60, "evil to end and the tab to show its page");
		return 0;
	}
	if (!strcmp(cmd, "burst")) {
		char name[32];

		if (argc < 2 || argc > 3 || parse_uint(argv[1], 1000000, &n) < 0) {
			browser_say(b, "burst: usage: burst N [TAB|gpu]");
			return -1;
		}
		if (argc == 3 && !strcmp(argv[2], "gpu")) {
			rel_burst(b, b->gpu, (unsigned)n, "gpu process");
			return 0;
		}
		t = tab_arg(b, argc, argv, 2, err, sizeof err);
		if (!t) {
			browser_say(b, "burst: %s", err);
			return -1;
		}
		snprintf(name, sizeof name, "tab %u", t->id);
		rel_burst(b, t->w, (unsigned)n, name);
		return 0;
	}
	if (!strcmp(cmd, "quit") || !strcmp(cmd, "exit")) {
		browser_quit(b, b->exit_code);
		return 0;
	}
	browser_say(b, "unknown command '%s' (type 'help')", cmd);
	return -1;
}

static void prompt(struct browser *b)
{
	if (b->interactive && b->tty_in && !b->quitting) {
		fputs("> ", stdout);
		fflush(stdout);
	}
}

void script_run(struct browser *b)
{
	struct script *s = b->script;

	if (s->running)
		return;
	s->running = true;
	while (!b->quitting) {
		char *argv[MAX_ARGS + 1], *save = NULL, *tok, *line;
		int argc = 0, r;

		if (s->wait != W_NONE) {
			if (!wait_done(b)) {
				if (bh_now_ns() < s->deadline_ns)
					break;
				browser_say(b, "wait: timed out waiting for %s", s->what);
				s->wait = W_NONE;
				bh_timer_disarm(s->timer);
				if (!b->interactive) {
					browser_quit(b, EXIT_FAILED);
					break;
				}
				prompt(b);
				continue;
			}
			s->wait = W_NONE;
			bh_timer_disarm(s->timer);
			prompt(b);
		}
		if (s->pos == s->n)
			break;
		line = s->lines[s->pos++];
		for (tok = strtok_r(line, " \t\r\n", &save); tok && argc <= MAX_ARGS;
		     tok = strtok_r(NULL, " \t\r\n", &save)) {
			if (tok[0] == '#')
				break;
			argv[argc++] = tok;
		}
		if (argc == 0) {
			prompt(b);
			continue;
		}
		if (argc > MAX_ARGS) {
			browser_say(b, "%s: too many arguments", argv[0]);
			r = -1;
		} else {
			argv[argc] = NULL;
			r = run_command(b, argc, argv);
		}
		if (r < 0 && !b->interactive) {
			/* A script that cannot do what it says has failed: stop here. */
			browser_quit(b, EXIT_FAILED);
			break;
		}
		if (s->wait == W_NONE)
			prompt(b);
	}
	s->running = false;
	/* Lines already run are not needed again. */
	if (s->pos == s->n && s->wait == W_NONE) {
		for (size_t i = 0; i < s->n; i++)
			free(s->lines[i]);
		s->n = s->pos = 0;
	}
}

void script_poll(struct browser *b)
{
	if (b->script && b->script->wait != W_NONE)
		script_run(b);
}
