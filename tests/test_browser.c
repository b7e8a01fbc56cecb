/*
 * The demo browser end to end: the real bulkhead-browser binary in headless
 * mode, real sandboxed renderer and gpu processes, real pixels read back
 * from its PNG screenshots. Every debug page produces its event and the
 * recovery; every page of pages/bad shows an error page while another tab
 * keeps rendering; tabs close and reopen; bad options and commands fail
 * with one line and a meaningful exit status. No timing is asserted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <bulkhead/protocol.h>
#include <bulkhead/record.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "renderer/page_internal.h"
#include "testutil.h"

#define RUN_TIMEOUT_MS 60000
#define W 1280
#define H 800
#define STRIP 32

struct run {
	int status;     /* exit status, or -1 if it did not exit normally */
	char *out;      /* stdout and stderr, NUL-terminated */
	size_t len;
};

static char tmpdir[] = "/tmp/bh-browser-test-XXXXXX";

/* A failed run shows what the browser said, which is what one needs to see. */
#define expect_status(r, want)                                                             \
	do {                                                                               \
		if ((r)->status != (want))                                                  \
			fail_msg("browser exited with %d, want %d; its output:\n%s", (r)->status, \
				 (want), (r)->out ? (r)->out : "");                                \
	} while (0)

static void browser_path(char *out, size_t size)
{
	const char *bin = getenv("BH_BINARY_DIR");

	snprintf(out, size, "%s/broker/bulkhead-browser", bin && *bin ? bin : "..");
}

static void tmp_path(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", tmpdir, name);
}

/* Runs the browser with `argv` (NULL-terminated, without argv[0]) and, if given, a script. */
static void run_browser(struct run *r, const char *script, const char *const *args)
{
	char exe[4096], spath[4096];
	const char *argv[32];
	int out, st, n = 0;
	pid_t pid;
	struct stat sb;

	browser_path(exe, sizeof exe);
	argv[n++] = exe;
	if (script) {
		FILE *f;

		tmp_path(spath, sizeof spath, "script.txt");
		f = fopen(spath, "we");
		assert_non_null(f);
		fputs(script, f);
		fclose(f);
		argv[n++] = "--script";
		argv[n++] = spath;
	}
	for (; args && *args && n < 30; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	out = memfd_create("browser-output", MFD_CLOEXEC);
	assert_true(out >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (dup2(out, 1) < 0 || dup2(out, 2) < 0)
			_exit(127);
		execv(exe, (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(bh_test_wait(pid, RUN_TIMEOUT_MS, &st), 0);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	assert_int_equal(fstat(out, &sb), 0);
	r->len = (size_t)sb.st_size;
	r->out = calloc(1, r->len + 1);
	assert_non_null(r->out);
	assert_int_equal(pread(out, r->out, r->len, 0), (ssize_t)r->len);
	close(out);
	if (getenv("BH_TEST_VERBOSE"))
		fprintf(stderr, "---- browser output (status %d) ----\n%s\n", r->status, r->out);
}

static void run_free(struct run *r)
{
	free(r->out);
	r->out = NULL;
}

static void expect_output(const struct run *r, const char *needle)
{
	if (!strstr(r->out, needle)) {
		/* cmocka's messages are short: the whole output goes to stderr first. */
		fprintf(stderr, "---- browser output ----\n%s\n----\n", r->out);
		fail_msg("browser output lacks \"%s\"", needle);
	}
}


/* ---- screenshots ------------------------------------------------------------------ */

struct shot {
	struct page_image img;
};

static void shot_load(struct shot *s, const char *name)
{
	char path[4096], msg[256];
	uint8_t *data;
	size_t len = 0;
	int fd;
	struct stat st;

	tmp_path(path, sizeof path, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail_msg("no screenshot %s: %s", path, strerror(errno));
	assert_int_equal(fstat(fd, &st), 0);
	len = (size_t)st.st_size;
	data = malloc(len);
	assert_non_null(data);
	assert_int_equal(read(fd, data, len), (ssize_t)len);
	close(fd);
	memset(&s->img, 0, sizeof s->img);
	if (bh_png_decode(data, len, 8192, 64u << 20, &s->img, msg, sizeof msg) < 0)
		fail_msg("screenshot %s: %s", path, msg);
	free(data);
	assert_int_equal(s->img.w, W);
	assert_int_equal(s->img.h, H);
}

static uint32_t px(const struct shot *s, int x, int y)
{
	return s->img.px[(size_t)y * (size_t)s->img.w + (size_t)x] & 0xffffffu;
}

static void expect_px(const struct shot *s, int x, int y, uint32_t rgb)
{
	if (px(s, x, y) != rgb)
		fail_msg("pixel (%d, %d) is %06x, want %06x", x, y, px(s, x, y), rgb);
}

/* Text in a tab of the strip: dark pixels on the tab's light background. */
static unsigned dark_pixels(const struct shot *s, int x0, int x1, int y0, int y1)
{
	unsigned n = 0;

	for (int y = y0; y < y1; y++)
		for (int x = x0; x < x1; x++) {
			uint32_t p = px(s, x, y);

			n += ((p >> 16) & 0xff) < 0x90 && ((p >> 8) & 0xff) < 0x90 && (p & 0xff) < 0x90;
		}
	return n;
}

static void shot_free(struct shot *s)
{
	free(s->img.px);
	free(s->img.src);
}

/* ---- tests ------------------------------------------------------------------------- */

/* Several tabs load; the screenshots hold each page's known pixels. */
static void test_tabs_and_pixels(void **state)
{
	static const char script[] =
		"wait loaded\n"
		"screenshot %s/index.png\n"
		"tab 3\n"
		"wait loaded\n"
		"screenshot %s/boxes.png\n"
		"list\n";
	static const char *const args[] = { "--headless", "index.html", "text.html", "boxes.html",
					    "images.html", NULL };
	char text[1024];
	struct run r;
	struct shot s;

	snprintf(text, sizeof text, script, tmpdir, tmpdir);
	run_browser(&r, text, args);
	expect_status(&r, 0);
	expect_output(&r, "\"Coloured boxes\"");
	assert_int_equal(bh_test_count_substr(r.out, "loaded "), 4);

	shot_load(&s, "index.png");
	/* index.html's logo.png at its natural size: four known quadrants. */
	expect_px(&s, 30, 140, 0xe53935);
	expect_px(&s, 70, 140, 0x43a047);
	expect_px(&s, 30, 180, 0x1e88e5);
	expect_px(&s, 70, 180, 0xfdd835);
	/* Every tab's title is drawn in the strip. */
	for (int i = 0; i < 4; i++)
		if (dark_pixels(&s, i * 240 + 8, i * 240 + 200, 8, STRIP - 4) < 30)
			fail_msg("tab %d has no title text in the strip", i + 1);
	/* Beyond the last tab: the bare strip. */
	assert_int_equal(dark_pixels(&s, 4 * 240 + 8, W, 4, STRIP), 0);
	shot_free(&s);

	shot_load(&s, "boxes.png");
	/* boxes.html's first box, #d32f2f, 200x100 after the margins. */
	expect_px(&s, 100, 80, 0xd32f2f);
	expect_px(&s, 50, 120, 0xd32f2f);
	expect_px(&s, 300, 80, 0xffffff);
	/* The active tab (3rd) is white, the others are not. */
	expect_px(&s, 2 * 240 + 230, 20, 0xffffff);
	assert_int_not_equal(px(&s, 230, 20), 0xffffff);
	shot_free(&s);
	run_free(&r);
}

/*
 * Scrolling: the frame after `scroll 1 300` is the page moved up by 300
 * rows (every content pixel equals the one 300 rows lower before), and a
 * scroll past the end stops at the last row. Links: `links` lists them,
 * `follow` loads one resolved beside the page, and targets that leave the
 * pages folder or do not exist are refused with a reason.
 */
static void test_scroll_and_links(void **state)
{
	static const char script[] =
		"wait loaded\n"
		"screenshot %s/top.png\n"
		"scroll 1 300\n"
		"wait loaded\n"
		"screenshot %s/down.png\n"
		"scroll 1 +1000000\n"
		"wait loaded\n"
		"screenshot %s/end.png\n"
		"scroll 1 -1000000\n"
		"wait loaded\n"
		"screenshot %s/back.png\n"
		"navigate 1 links.html\n"
		"wait loaded\n"
		"links\n"
		"follow 5\n"
		"wait loaded\n"
		"list\n"
		"follow 9\n";
	static const char *const args[] = { "--headless", "long.html", NULL };
	char text[1024];
	struct run r;
	struct shot top, down, end, back;
	unsigned diff = 0, moved = 0;

	snprintf(text, sizeof text, script, tmpdir, tmpdir, tmpdir, tmpdir);
	run_browser(&r, text, args);
	/* The last command fails on purpose: a script stops with status 1 there. */
	expect_status(&r, 1);
	shot_load(&top, "top.png");
	shot_load(&down, "down.png");
	shot_load(&end, "end.png");
	shot_load(&back, "back.png");
	for (int y = STRIP; y < H - 300; y += 3) {
		for (int x = 0; x < W; x += 7) {
			diff += px(&down, x, y) != px(&top, x, y + 300);
			moved += px(&down, x, y) != px(&top, x, y);
		}
	}
	assert_int_equal(diff, 0);
	/* ...and the text really moved (the page is not blank). */
	assert_true(moved > 100);
	/* Past the end: a frame that differs from the 300-row one, and scrolling back is the top again. */
	moved = 0;
	for (int y = STRIP; y < H; y += 3)
		for (int x = 0; x < W; x += 7)
			moved += px(&end, x, y) != px(&down, x, y);
	assert_true(moved > 100);
	assert_int_equal(memcmp(back.img.px, top.img.px, (size_t)W * H * 4), 0);
	shot_free(&top);
	shot_free(&down);
	shot_free(&end);
	shot_free(&back);

	/* links.html: index.html, text.html, images.html, lists.html, boxes.html, about:crash. */
	expect_output(&r, "tab 1: 6 link(s)");
	expect_output(&r, "   1  index.html");
	expect_output(&r, "   5  boxes.html");
	expect_output(&r, "*1  loaded   boxes.html               \"Coloured boxes\"");
	expect_output(&r, "follow: tab 1 has no link 9 (see 'links')");
	run_free(&r);

	/* Resolution beside the page: "../b.html" from sub/a.html is b.html; climbing out is refused. */
	{
		static const char page_a[] = "<title>A</title><a href=\"../b.html\">up</a> "
					     "<a href=\"../../outside.html\">out</a> <a href=\"/etc/passwd\">abs</a>";
		static const char page_b[] = "<title>B</title><p>b</p>";
		char dir[4096], path[4200], pages_arg[4200];
		const char *args2[] = { "--headless", "--pages", pages_arg, "sub/a.html", NULL };
		FILE *f;

		tmp_path(dir, sizeof dir, "pages");
		assert_int_equal(mkdir(dir, 0700), 0);
		snprintf(path, sizeof path, "%s/sub", dir);
		assert_int_equal(mkdir(path, 0700), 0);
		snprintf(path, sizeof path, "%s/sub/a.html", dir);
		f = fopen(path, "we");
		assert_non_null(f);
		fputs(page_a, f);
		fclose(f);
		snprintf(path, sizeof path, "%s/b.html", dir);
		f = fopen(path, "we");
		assert_non_null(f);
		fputs(page_b, f);
		fclose(f);
		snprintf(pages_arg, sizeof pages_arg, "%s", dir);
		run_browser(&r, "wait loaded\nfollow 2\n", args2);
		expect_status(&r, 1);
		expect_output(&r, "follow: link 2 (../../outside.html) leaves the pages folder");
		run_free(&r);
		run_browser(&r, "wait loaded\nfollow 3\n", args2);
		expect_status(&r, 1);
		expect_output(&r, "follow: link 3 (/etc/passwd) leaves the pages folder");
		run_free(&r);
		run_browser(&r, "wait loaded\nfollow 1\nwait loaded\nlist\n", args2);
		expect_status(&r, 0);
		expect_output(&r, "*1  loaded   b.html");
		run_free(&r);
	}
}

/* Counts, in one recording, received frames of `type` and those that came with a memfd. */
static void count_recorded(const char *path, uint32_t type, unsigned *n, unsigned *with_memfd)
{
	bh_record_reader *rd;
	bh_record rec;
	int r;

	assert_int_equal(bh_record_reader_create(path, &rd), 0);
	while ((r = bh_record_reader_next(rd, &rec)) > 0) {
		if (rec.dir != BH_RECORD_RECEIVED || rec.len < BH_HEADER_SIZE)
			continue;
		if ((uint32_t)(rec.data[8] | rec.data[9] << 8 | rec.data[10] << 16 |
			       (uint32_t)rec.data[11] << 24) == type)
			(*n)++;
		for (unsigned i = 0; i < rec.nfds; i++)
			*with_memfd += rec.fd_kinds[i] == BH_FD_KIND_MEMFD;
	}
	assert_int_equal(r, 0);
	bh_record_reader_destroy(rd);
}

/* --record: one recording per worker incarnation, holding what the broker received. */
static void test_record(void **state)
{
	char dir[4096], path[4400];
	const char *args[] = { "--headless", "--record", dir, "boxes.html", "text.html", NULL };
	unsigned page_states = 0, attaches = 0, memfds = 0, files = 0;
	struct dirent *de;
	struct run r;
	DIR *d;

	tmp_path(dir, sizeof dir, "rec");
	assert_int_equal(mkdir(dir, 0700), 0);
	run_browser(&r, NULL, args);
	expect_status(&r, 0);
	run_free(&r);
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d))) {
		unsigned n = 0;

		if (de->d_name[0] == '.')
			continue;
		files++;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (!strncmp(de->d_name, "renderer-", 9)) {
			count_recorded(path, BH_MSG_APP_BASE + 3, &n, &memfds); /* PageState */
			page_states += n;
		} else {
			assert_int_equal(strncmp(de->d_name, "gpu-0-", 6), 0);
			count_recorded(path, BH_MSG_SURFACE_ATTACH, &n, &memfds);
			attaches += n;
		}
	}
	closedir(d);
	/* The gpu and two renderers; both pages reported; the gpu's output surface came with its memfd. */
	assert_int_equal(files, 3);
	assert_true(page_states >= 2);
	assert_int_equal(attaches, 1);
	assert_true(memfds >= 1);
}

/* about:crash: a sad-tab frame, then the renderer restarts and the page reloads. */
static void test_crash_sad_tab_and_reload(void **state)
{
	static const char script[] =
		"tab 2\n"
		"wait loaded\n"
		"navigate about:crash\n"
		"wait event sad\n"
		"screenshot %s/sad.png\n"
		"wait loaded\n"
		"screenshot %s/back.png\n";
	static const char *const args[] = { "--headless", "index.html", "boxes.html", NULL };
	char text[1024];
	struct run r;
	struct shot s;

	snprintf(text, sizeof text, script, tmpdir, tmpdir);
	run_browser(&r, text, args);
	expect_status(&r, 0);
	expect_output(&r, "crashed with SIGSEGV");
	expect_output(&r, "tab 2: sad tab shown");
	expect_output(&r, "tab 2: reloaded boxes.html");
	shot_load(&s, "sad.png");
	/* The sad frame's dark background where the red box was. */
	expect_px(&s, 600, 600, 0x35363a);
	assert_int_not_equal(px(&s, 100, 80), 0xd32f2f);
	shot_free(&s);
	shot_load(&s, "back.png");
	expect_px(&s, 100, 80, 0xd32f2f);
	shot_free(&s);
	run_free(&r);
}

/* hang, escape, both kinds of bad message: each event, then every tab back. */
static void test_debug_pages(void **state)
{
	static const char script[] =
		"wait loaded\n"
		"navigate 1 about:hang\n"
		"wait event hang\n"
		"wait loaded\n"
		"navigate 2 about:escape\n"
		"wait event sandbox\n"
		"wait loaded\n"
		"navigate 2 about:escape-socket\n"
		"wait event sandbox\n"
		"wait loaded\n"
		"navigate 2 about:escape-exec\n"
		"wait event sandbox\n"
		"wait loaded\n"
		"navigate 3 about:badmessage\n"
		"wait event bad-message\n"
		"wait loaded\n"
		"navigate 3 about:badframe\n"
		"wait event bad-message\n"
		"wait loaded\n"
		"list\n";
	static const char *const args[] = { "--headless", "index.html", "text.html", "boxes.html", NULL };
	struct run r;

	run_browser(&r, script, args);
	expect_status(&r, 0);
	expect_output(&r, "hung: no heartbeat");
	/* The broker names each forbidden call. */
	expect_output(&r, "killed by the sandbox for calling openat");
	expect_output(&r, "killed by the sandbox for calling socket");
	expect_output(&r, "killed by the sandbox for calling execve");
	expect_output(&r, "bad message: wrong magic");
	expect_output(&r, "the gpu refused its frame");
	/* Every tab reloaded its page: the debug pages were never committed. */
	expect_output(&r, "1  loaded   index.html");
	expect_output(&r, "2  loaded   text.html");
	expect_output(&r, "3  loaded   boxes.html");
	run_free(&r);
}

/* The gpu dies: it comes back, every tab re-attaches and shows its page again. */
static void test_gpu_crash(void **state)
{
	static const char script[] =
		"wait loaded\n"
		"navigate about:gpucrash\n"
		"wait event gpu-exit\n"
		"wait event gpu-ready\n"
		"wait loaded\n"
		"screenshot %s/gpu.png\n"
		"overview on\n"
		"wait loaded\n"
		"screenshot %s/overview.png\n"
		"list\n";
	static const char *const args[] = { "--headless", "boxes.html", "index.html", "text.html", NULL };
	char text[1024];
	struct run r;
	struct shot s;

	snprintf(text, sizeof text, script, tmpdir, tmpdir);
	run_browser(&r, text, args);
	expect_status(&r, 0);
	expect_output(&r, "gpu process back");
	assert_int_equal(bh_test_count_substr(r.out, "loaded "), 3);
	shot_load(&s, "gpu.png");
	expect_px(&s, 100, 80, 0xd32f2f);
	shot_free(&s);
	/* The overview holds all three tabs: the first cell shows the red box, scaled. */
	shot_load(&s, "overview.png");
	{
		unsigned red = 0;

		for (int y = STRIP; y < H / 2; y++)
			for (int x = 0; x < W / 3; x++)
				red += px(&s, x, y) == 0xd32f2f;
		assert_true(red > 500);
	}
	shot_free(&s);
	run_free(&r);
}

/* Every page of pages/bad shows an error page; the good tab keeps rendering. */
static void test_bad_pages(void **state)
{
	char dir[4096], *script;
	size_t cap = 1 << 16, len = 0;
	const char *src = getenv("BH_SOURCE_DIR");
	struct dirent *de;
	unsigned n = 0;
	DIR *d;
	struct run r;
	struct shot s;
	static const char *const args[] = { "--headless", "boxes.html", "about:blank", NULL };

	snprintf(dir, sizeof dir, "%s/pages/bad", src && *src ? src : "..");
	d = opendir(dir);
	assert_non_null(d);
	script = malloc(cap);
	assert_non_null(script);
	len += (size_t)snprintf(script + len, cap - len, "wait loaded\n");
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);

		if (l < 6 || strcmp(de->d_name + l - 5, ".html"))
			continue;
		len += (size_t)snprintf(script + len, cap - len, "navigate 2 bad/%s\nwait loaded\n", de->d_name);
		n++;
	}
	closedir(d);
	snprintf(script + len, cap - len, "tab 1\nwait loaded\nscreenshot %s/good.png\n", tmpdir);
	assert_true(n >= 10);
	run_browser(&r, script, args);
	expect_status(&r, 0);
	if (bh_test_count_substr(r.out, "error page: ") != n)
		fail_msg("%u bad pages, %u error pages:\n%s", n, bh_test_count_substr(r.out, "error page: "), r.out);
	expect_output(&r, "(bad/binary.html): error page: ");
	expect_output(&r, "(bad/huge.html): error page: page is");
	/* No renderer died: a bad page is refused, not a crash. */
	assert_int_equal(bh_test_count_substr(r.out, "renderer pid"), 0);
	shot_load(&s, "good.png");
	expect_px(&s, 100, 80, 0xd32f2f);
	shot_free(&s);
	free(script);
	run_free(&r);
}

/* Tabs close and reopen; a crash loop ends in a permanent sad tab with its reason. */
static void test_close_reopen_and_crash_loop(void **state)
{
	static const char script[] =
		"wait loaded\n"
		"close 2\n"
		"close 1\n"
		"open lists.html colors.html\n"
		"wait loaded\n"
		"list\n"
		"crash 1\n"
		"wait event restart\n"
		"wait loaded\n"
		"crash 1\n"
		"wait event restart\n"
		"wait loaded\n"
		"crash 1\n"
		"wait event restart\n"
		"wait loaded\n"
		"crash 1\n"
		"wait event failed\n"
		"wait loaded\n"
		"list\n"
		"stats\n";
	static const char *const args[] = { "--headless", "index.html", "text.html", "boxes.html", NULL };
	struct run r;

	run_browser(&r, script, args);
	expect_status(&r, 0);
	expect_output(&r, "1  loaded   boxes.html");
	expect_output(&r, "2  loaded   lists.html");
	expect_output(&r, "3  loaded   colors.html");
	expect_output(&r, "giving up");
	expect_output(&r, "1  failed   boxes.html");
	/* The others never noticed. */
	assert_int_equal(bh_test_count_substr(r.out, "3  loaded   colors.html"), 2);
	run_free(&r);
}

/* Bad options, commands and scripts: one line each and a meaningful status. */
static void test_bad_usage(void **state)
{
	static const char *const bogus[] = { "--headless", "--bogus", NULL };
	static const char *const size[] = { "--headless", "--size", "10x10", NULL };
	static const char *const frames[] = { "--headless", "--frames", "lots", NULL };
	static const char *const pages[] = { "--headless", "--pages", "/nonexistent", NULL };
	static const char *const headless[] = { "--headless", "index.html", NULL };
	struct run r;

	run_browser(&r, NULL, bogus);
	assert_int_equal(r.status, 2);
	expect_output(&r, "unknown option '--bogus'");
	assert_int_equal(bh_test_count_substr(r.out, "\n"), 1);
	run_free(&r);
	run_browser(&r, NULL, size);
	assert_int_equal(r.status, 2);
	assert_int_equal(bh_test_count_substr(r.out, "\n"), 1);
	run_free(&r);
	run_browser(&r, NULL, frames);
	assert_int_equal(r.status, 2);
	run_free(&r);
	run_browser(&r, NULL, pages);
	assert_int_equal(r.status, 3);
	run_free(&r);

	run_browser(&r, "wait loaded\nfrobnicate 3\nlist\n", headless);
	assert_int_equal(r.status, 1);
	expect_output(&r, "unknown command 'frobnicate' (type 'help')");
	/* The script stopped at the bad line. */
	assert_null(strstr(r.out, "loaded   index.html"));
	run_free(&r);
	run_browser(&r, "tab 9\n", headless);
	assert_int_equal(r.status, 1);
	expect_output(&r, "tab: no tab '9'");
	run_free(&r);
	run_browser(&r, "wait event nosuch\n", headless);
	assert_int_equal(r.status, 1);
	run_free(&r);
}

/* stats as JSON: every process with its sandbox. */
static void test_stats_json(void **state)
{
	static const char *const args[] = { "--headless", "--stats-json", "index.html", "text.html", NULL };
	struct run r;

	run_browser(&r, "wait loaded\n", args);
	expect_status(&r, 0);
	assert_int_equal(bh_test_count_substr(r.out, "\"type\":\"renderer\""), 2);
	assert_int_equal(bh_test_count_substr(r.out, "\"type\":\"gpu\""), 1);
	assert_int_equal(bh_test_count_substr(r.out, "11/11 layers, seccomp on"), 3);
	run_free(&r);
}

static int setup(void **state)
{
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	bh_test_remove_dir(tmpdir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tabs_and_pixels),
		cmocka_unit_test(test_scroll_and_links),
		cmocka_unit_test(test_record),
		cmocka_unit_test(test_crash_sad_tab_and_reload),
		cmocka_unit_test(test_debug_pages),
		cmocka_unit_test(test_gpu_crash),
		cmocka_unit_test(test_bad_pages),
		cmocka_unit_test(test_close_reopen_and_crash_loop),
		cmocka_unit_test(test_bad_usage),
		cmocka_unit_test(test_stats_json),
	};

	bh_test_deadline(280);
	return cmocka_run_group_tests_name("browser", tests, setup, teardown);
}
