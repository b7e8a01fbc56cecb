/*
 * bulkhead-browser: a toy browser built the way Chromium is. This process
 * is the broker; the renderer and gpu processes are cloned from the
 * framework's zygote and run the entry points in renderer/ and gpu/.
 *
 * See docs/DEMO.md for the options, the commands and the exit statuses.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bulkhead/version.h>

#include "broker/browser.h"

#ifndef BH_DEFAULT_PAGES_DIR
#define BH_DEFAULT_PAGES_DIR "pages"
#endif
#define DEFAULT_FONT_DIR "/usr/share/fonts/truetype/dejavu"

static const char *const default_pages[] = { "index.html", "text.html", "boxes.html", "images.html" };
/* --chaos: eight tabs, as docs/RELIABILITY.md describes. */
static const char *const chaos_pages[] = { "index.html", "text.html", "boxes.html", "images.html",
					   "lists.html", "colors.html", "links.html", "about.html" };

static const char usage[] =
	"usage: bulkhead-browser [options] [PAGE...]\n"
	"  --headless            no prompt: open the pages, run the script, exit (status 0 on success)\n"
	"  --open PAGE...        pages to open in tabs (default: index, text, boxes, images)\n"
	"  --wait-loaded         wait until every tab shows its page (headless default)\n"
	"  --frames N            wait for N composited frames\n"
	"  --script FILE         run the commands in FILE (see 'help' at the prompt)\n"
	"  --screenshot FILE     write the last frame as a PNG before exiting\n"
	"  --frames-dir DIR      write every frame as DIR/frame-NNNNNN.png\n"
	"  --record DIR          record every worker channel (after its handshake) as\n"
	"                        DIR/<type>-<tab>-<pid>.bhrec (bulkhead-dump reads them)\n"
	"  --size WxH            window size (default 1280x800)\n"
	"  --pages DIR           the pages folder (default: the bundled pages)\n"
	"  --fonts DIR           the folder holding DejaVuSans.ttf (default " DEFAULT_FONT_DIR ")\n"
	"  --preview, --no-preview  live terminal preview (default: when stdout is a terminal)\n"
	"  --stats-json          print per-process statistics as JSON before exiting\n"
	"  --chaos SECONDS       headless chaos run: 8 tabs (unless pages are given), random renderer\n"
	"                        and gpu kills for SECONDS, then every tab must load again\n"
	"  --chaos-mode          lift the crash-loop limits so that scripts can use 'chaos'\n"
	"  --verbose             log what the framework does\n"
	"  --help, --version\n";

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("bulkhead-browser: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see --help)\n", stderr);
	return EXIT_USAGE;
}

static int parse_size(const char *s, uint32_t *w, uint32_t *h)
{
	unsigned long a, b;
	char *end;

	errno = 0;
	a = strtoul(s, &end, 10);
	if (errno || *end != 'x' || end == s)
		return -EINVAL;
	b = strtoul(end + 1, &end, 10);
	if (errno || *end || a < 320 || b < 200 || a > 4096 || b > 4096)
		return -EINVAL;
	*w = (uint32_t)a;
	*h = (uint32_t)b;
	return 0;
}

static int dir_ok(const char *what, const char *dir, char *abs)
{
	struct stat st;

	if (!realpath(dir, abs) || stat(abs, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "bulkhead-browser: %s folder %s: %s\n", what, dir,
			errno ? strerror(errno) : "not a folder");
		return -1;
	}
	return 0;
}

static void on_signal(bh_sigwatch *s, const void *si, void *ud)
{
	struct browser *b = ud;

	if (b->quitting) {
		/* Asked twice: do not wait for graceful stops any more. */
		bh_loop_quit(b->loop, EXIT_FAILED);
		return;
	}
	browser_say(b, "interrupted: closing every tab");
	browser_quit(b, EXIT_FAILED);
}

static void on_stdin(bh_watch *w, int fd, uint32_t events, void *ud)
{
	static char buf[4096];
	static size_t len;
	struct browser *b = ud;
	ssize_t n;

	n = read(fd, buf + len, sizeof buf - 1 - len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		bh_watch_remove(w);
		b->stdin_watch = NULL;
		if (len) {
			buf[len] = '\0';
			(void)script_push(b, buf);
			len = 0;
		}
		(void)script_push(b, "quit");
		script_run(b);
		return;
	}
	len += (size_t)n;
	for (;;) {
		char *nl = memchr(buf, '\n', len);
		size_t used;

		if (!nl) {
			if (len == sizeof buf - 1) {
				browser_say(b, "input line too long: ignored");
				len = 0;
			}
			break;
		}
		*nl = '\0';
		(void)script_push(b, buf);
		used = (size_t)(nl - buf) + 1;
		memmove(buf, nl + 1, len - used);
		len -= used;
	}
	script_run(b);
}

static int load_script(struct browser *b, const char *path)
{
	FILE *f = fopen(path, "re");
	char line[1024];
	int r = 0;

	if (!f) {
		fprintf(stderr, "bulkhead-browser: script %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (r == 0 && fgets(line, sizeof line, f))
		r = script_push(b, line);
	fclose(f);
	return r;
}

int main(int argc, char **argv)
{
	static struct browser B;
	struct browser *b = &B;
	const char *pages = getenv("BULKHEAD_PAGES") ? getenv("BULKHEAD_PAGES") : BH_DEFAULT_PAGES_DIR;
	const char *fonts = DEFAULT_FONT_DIR, *script = NULL, *screenshot = NULL;
	const char *open_list[BROWSER_MAX_TABS];
	char pages_abs[PATH_MAX], fonts_abs[PATH_MAX], frames_abs[PATH_MAX], record_abs[PATH_MAX];
	char line[PATH_MAX + 32];
	size_t nopen = 0;
	unsigned long frames = 0, chaos = 0;
	bool wait_loaded = false;
	int r, code;

	b->o.width = 1280;
	b->o.height = 800;
	b->o.strip = 32;
	b->o.preview = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (a[0] != '-' || !strcmp(a, "-")) {
			if (nopen == BROWSER_MAX_TABS)
				return bad_usage("at most %d pages", BROWSER_MAX_TABS);
			open_list[nopen++] = a;
			continue;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(usage, stdout);
			return EXIT_OK;
		} else if (!strcmp(a, "--version")) {
			printf("bulkhead-browser %s\n", BH_VERSION_STRING);
			return EXIT_OK;
		} else if (!strcmp(a, "--headless")) {
			b->o.headless = true;
		} else if (!strcmp(a, "--open")) {
			/* The pages follow, as positional arguments do. */
			if (!v || v[0] == '-')
				return bad_usage("%s needs at least one page", a);
		} else if (!strcmp(a, "--wait-loaded")) {
			wait_loaded = true;
		} else if (!strcmp(a, "--preview")) {
			b->o.preview = 1;
		} else if (!strcmp(a, "--no-preview")) {
			b->o.preview = 0;
		} else if (!strcmp(a, "--chaos-mode")) {
			b->o.chaos_mode = true;
		} else if (!strcmp(a, "--stats-json")) {
			b->o.stats_json = true;
		} else if (!strcmp(a, "--verbose")) {
			b->o.verbose = true;
		} else if (strcmp(a, "--frames") && strcmp(a, "--script") && strcmp(a, "--screenshot") &&
			   strcmp(a, "--frames-dir") && strcmp(a, "--size") && strcmp(a, "--pages") &&
			   strcmp(a, "--fonts") && strcmp(a, "--chaos") && strcmp(a, "--record")) {
			return bad_usage("unknown option '%s'", a);
		} else if (!v) {
			return bad_usage("%s needs a value", a);
		} else if (!strcmp(a, "--frames")) {
			char *end;

			errno = 0;
			frames = strtoul(v, &end, 10);
			if (errno || *end || !*v || frames == 0 || frames > 1000000)
				return bad_usage("--frames wants a number from 1 to 1000000, not '%s'", v);
			i++;
		} else if (!strcmp(a, "--chaos")) {
			char *end;

			errno = 0;
			chaos = strtoul(v, &end, 10);
			if (errno || *end || !*v || chaos == 0 || chaos > 86400)
				return bad_usage("--chaos wants a number of seconds from 1 to 86400, not '%s'", v);
			b->o.chaos_mode = true;
			i++;
		} else if (!strcmp(a, "--script")) {
			script = argv[++i];
		} else if (!strcmp(a, "--screenshot")) {
			screenshot = argv[++i];
		} else if (!strcmp(a, "--frames-dir")) {
			if (dir_ok("frames", v, frames_abs) < 0)
				return EXIT_USAGE;
			b->o.frames_dir = frames_abs;
			i++;
		} else if (!strcmp(a, "--record")) {
			if (dir_ok("record", v, record_abs) < 0)
				return EXIT_USAGE;
			b->o.record_dir = record_abs;
			i++;
		} else if (!strcmp(a, "--size")) {
			if (parse_size(v, &b->o.width, &b->o.height) < 0)
				return bad_usage("--size wants WIDTHxHEIGHT between 320x200 and 4096x4096, not '%s'", v);
			i++;
		} else if (!strcmp(a, "--pages")) {
			pages = argv[++i];
		} else {
			fonts = argv[++i];
		}
	}
	if (dir_ok("pages", pages, pages_abs) < 0 || dir_ok("fonts", fonts, fonts_abs) < 0)
		return EXIT_START;
	snprintf(line, sizeof line, "%s/DejaVuSans.ttf", fonts_abs);
	if (access(line, R_OK) < 0) {
		fprintf(stderr, "bulkhead-browser: no DejaVuSans.ttf in %s (apt-get install fonts-dejavu-core)\n",
			fonts_abs);
		return EXIT_START;
	}
	b->o.pages_dir = pages_abs;
	b->o.font_dir = fonts_abs;
	b->tty_out = isatty(STDOUT_FILENO);
	b->tty_in = isatty(STDIN_FILENO);
	b->interactive = !b->o.headless;
	if (b->o.preview < 0)
		b->o.preview = b->tty_out ? 1 : 0;
	signal(SIGPIPE, SIG_IGN);

	/* First: the supervisor forks its zygote before this process reads anything else. */
	r = browser_init(b);
	if (r < 0) {
		fprintf(stderr, "bulkhead-browser: cannot start: %s\n", strerror(-r));
		browser_fini(b);
		return EXIT_START;
	}
	if (script_create(b) < 0) {
		browser_fini(b);
		return EXIT_START;
	}
	(void)bh_loop_add_signal(b->loop, SIGINT, on_signal, b, NULL);
	(void)bh_loop_add_signal(b->loop, SIGTERM, on_signal, b, NULL);

	/* The start-up commands, then the script, as one queue. */
	if (nopen == 0 && chaos) {
		for (size_t i = 0; i < sizeof chaos_pages / sizeof chaos_pages[0]; i++)
			open_list[nopen++] = chaos_pages[i];
	} else if (nopen == 0) {
		for (size_t i = 0; i < sizeof default_pages / sizeof default_pages[0]; i++)
			open_list[nopen++] = default_pages[i];
	}
	for (size_t i = 0; i < nopen; i++) {
		snprintf(line, sizeof line, "open %s", open_list[i]);
		script_push(b, line);
	}
	/* The first tab is the one shown. */
	script_push(b, "tab 1");
	if (b->o.headless && !script && !frames)
		wait_loaded = true;
	if (wait_loaded)
		script_push(b, "wait loaded");
	if (frames) {
		snprintf(line, sizeof line, "wait frames %lu", frames);
		script_push(b, line);
	}
	if (chaos) {
		/* Every tab up first, then the kills, then every tab up again. */
		script_push(b, "wait loaded");
		snprintf(line, sizeof line, "chaos %lu", chaos);
		script_push(b, line);
		script_push(b, "wait loaded");
		script_push(b, "list");
	}
	code = EXIT_OK;
	if (script && load_script(b, script) < 0)
		code = EXIT_USAGE;
	if (screenshot) {
		snprintf(line, sizeof line, "screenshot %s", screenshot);
		script_push(b, line);
	}
	if (b->o.headless) {
		script_push(b, "quit");
	} else if (code == EXIT_OK) {
		r = bh_loop_add_fd(b->loop, STDIN_FILENO, BH_EV_IN, on_stdin, b, &b->stdin_watch);
		if (r < 0) {
			fprintf(stderr, "bulkhead-browser: cannot read commands: %s\n", strerror(-r));
			code = EXIT_START;
		} else if (b->tty_in) {
			browser_say(b, "bulkhead-browser: %zu tabs opening; type 'help' for commands", nopen);
		}
	}
	if (code != EXIT_OK) {
		script_destroy(b);
		browser_fini(b);
		return code;
	}
	output_init(b);
	script_run(b);
	code = bh_loop_run(b->loop);
	if (code < 0)
		code = EXIT_FAILED;
	output_fini(b);
	browser_say(b, "bulkhead-browser: %llu frames, %u tabs, exit status %d", (unsigned long long)b->frames,
		    browser_tab_count(b), code);
	bh_watch_remove(b->stdin_watch);
	script_destroy(b);
	browser_fini(b);
	return code;
}
