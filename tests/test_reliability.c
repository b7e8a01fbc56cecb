/*
 * Reliability under faults and load (docs/RELIABILITY.md), end to end with
 * the real bulkhead-browser binary and real sandboxed processes:
 *
 *   chaos       8 tabs; random renderer and gpu kills (SIGKILL, SIGSEGV)
 *               every 100-500 ms for BH_CHAOS_SECONDS (default 60); then
 *               every tab renders its page again, pixel for pixel; restarts
 *               equal kills; no zombie; broker fds and RSS within 5%; no
 *               Ping or Pong lost or reordered.
 *   flood       a renderer floods the broker: throttled, then killed; the
 *               broker's memory stays put and the animated tab keeps its
 *               frame rate within a factor of 4.
 *   stall       a renderer stops reading: the broker's sends are refused
 *               (bounded queue), never block; the renderer is killed as hung.
 *   exhaustion  memory, threads and processes, socket buffers: each stopped
 *               by its limit, classified, restarted; the others unaffected.
 *   broker death  SIGKILL the broker: every worker gone within 1 s, no
 *               shared memory left anywhere.
 *
 * The only timing asserted is what docs/RELIABILITY.md promises: the 1 s
 * after the broker's death and the frame-rate factor during a flood.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "renderer/page_internal.h"
#include "testutil.h"

#define W 1280
#define H 800
#define NTABS 8
#define MAX_PIDS 32

#if defined(__SANITIZE_ADDRESS__)
#define ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN 1
#endif
#endif
#ifndef ASAN
#define ASAN 0
#endif

static char tmpdir[] = "/tmp/bh-reliability-XXXXXX";
static const char *const chaos_pages[NTABS] = { "index.html", "text.html", "boxes.html", "images.html",
						"lists.html", "colors.html", "links.html", "about.html" };

struct browser_run {
	pid_t pid;
	int out;        /* memfd with stdout and stderr */
	char *text;     /* what it said so far, NUL-terminated */
	int status;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void tmp_path(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", tmpdir, name);
}

/* Starts the browser with a script and more arguments (NULL-terminated). */
static void start(struct browser_run *r, const char *script, const char *const *args)
{
	char exe[4096], spath[4096];
	const char *argv[40];
	const char *bin = getenv("BH_BINARY_DIR");
	int n = 0;
	FILE *f;

	snprintf(exe, sizeof exe, "%s/broker/bulkhead-browser", bin && *bin ? bin : "..");
	tmp_path(spath, sizeof spath, "script.txt");
	f = fopen(spath, "we");
	assert_non_null(f);
	fputs(script, f);
	fclose(f);
	argv[n++] = exe;
	argv[n++] = "--headless";
	argv[n++] = "--script";
	argv[n++] = spath;
	for (; args && *args && n < 38; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	memset(r, 0, sizeof *r);
	r->out = memfd_create("browser-output", MFD_CLOEXEC);
	assert_true(r->out >= 0);
	fflush(NULL);
	r->pid = fork();
	assert_true(r->pid >= 0);
	if (r->pid == 0) {
		if (dup2(r->out, 1) < 0 || dup2(r->out, 2) < 0)
			_exit(127);
		execv(exe, (char *const *)argv);
		_exit(127);
	}
}

/* Re-reads everything the browser wrote so far. */
static const char *output(struct browser_run *r)
{
	struct stat st;

	assert_int_equal(fstat(r->out, &st), 0);
	free(r->text);
	r->text = calloc(1, (size_t)st.st_size + 1);
	assert_non_null(r->text);
	assert_int_equal(pread(r->out, r->text, (size_t)st.st_size, 0), st.st_size);
	return r->text;
}

static void dump(struct browser_run *r)
{
	fprintf(stderr, "---- browser output ----\n%s\n----\n", output(r));
}

/* Waits (polling its output, without asserting how long it takes) until the browser said `needle`. */
static void wait_output(struct browser_run *r, const char *needle, unsigned timeout_s)
{
	uint64_t end = now_ms() + timeout_s * 1000ull;

	while (!strstr(output(r), needle)) {
		int st;

		if (waitpid(r->pid, &st, WNOHANG) == r->pid) {
			r->pid = 0;
			dump(r);
			fail_msg("the browser ended before saying \"%s\"", needle);
		}
		if (now_ms() > end) {
			dump(r);
			fail_msg("the browser did not say \"%s\" within %u s", needle, timeout_s);
		}
		usleep(20000);
	}
}

static void finish(struct browser_run *r, unsigned timeout_s)
{
	int st;

	if (r->pid > 0) {
		assert_int_equal(bh_test_wait(r->pid, (int)timeout_s * 1000, &st), 0);
		r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	}
	output(r);
	if (getenv("BH_TEST_VERBOSE"))
		fprintf(stderr, "---- browser output (status %d) ----\n%s\n", r->status, r->text);
	if (r->status != 0) {
		dump(r);
		fail_msg("the browser exited with status %d", r->status);
	}
}

static void run_free(struct browser_run *r)
{
	free(r->text);
	r->text = NULL;
	if (r->out >= 0)
		close(r->out);
	r->out = -1;
}

static void expect(struct browser_run *r, const char *needle)
{
	if (!strstr(r->text, needle)) {
		dump(r);
		fail_msg("browser output lacks \"%s\"", needle);
	}
}


/* ---- stats json ----------------------------------------------------------------------- */

/* The n-th (0-based) `stats json` the browser printed: from its '[' line to its ']' line. */
static char *stats_block(const char *text, unsigned n)
{
	const char *p = text, *end;
	char *copy;

	for (;;) {
		if (!(p == text && !strncmp(p, "[\n", 2))) {
			p = strstr(p, "\n[\n");
			if (!p)
				fail_msg("no stats json #%u in the output", n);
			p += 1;
		}
		if (n-- == 0)
			break;
		p++;
	}
	end = strstr(p, "\n]\n");
	assert_non_null(end);
	copy = strndup(p, (size_t)(end - p));
	assert_non_null(copy);
	return copy;
}

/* The number after "key": in s (the first occurrence), or fails. */
static long long num(const char *s, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof pat, "\"%s\":", key);
	p = strstr(s, pat);
	if (!p)
		fail_msg("no \"%s\" in %.300s", key, s);
	return strtoll(p + strlen(pat), NULL, 10);
}

/* The one line of a stats block whose type is `type` (the n-th of them). */
static const char *row(const char *block, const char *type, unsigned n)
{
	char pat[64];
	const char *p = block;

	snprintf(pat, sizeof pat, "\"type\":\"%s\"", type);
	for (;;) {
		p = strstr(p, pat);
		if (!p)
			return NULL;
		if (n-- == 0)
			break;
		p++;
	}
	while (p > block && p[-1] != '\n')
		p--;
	return p;
}

/* ---- screenshots ------------------------------------------------------------------------- */

static void shot_load(struct page_image *img, const char *name)
{
	char path[4096], msg[256];
	uint8_t *data;
	struct stat st;
	int fd;

	tmp_path(path, sizeof path, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail_msg("no screenshot %s: %s", path, strerror(errno));
	assert_int_equal(fstat(fd, &st), 0);
	data = malloc((size_t)st.st_size);
	assert_non_null(data);
	assert_int_equal(read(fd, data, (size_t)st.st_size), st.st_size);
	close(fd);
	memset(img, 0, sizeof *img);
	if (bh_png_decode(data, (size_t)st.st_size, 8192, 64u << 20, img, msg, sizeof msg) < 0)
		fail_msg("screenshot %s: %s", path, msg);
	free(data);
	assert_int_equal(img->w, W);
	assert_int_equal(img->h, H);
}

static uint32_t px(const struct page_image *img, int x, int y)
{
	return img->px[(size_t)y * (size_t)img->w + (size_t)x] & 0xffffffu;
}

static void shot_free(struct page_image *img)
{
	free(img->px);
	free(img->src);
}

/* Two screenshots are the same picture, pixel for pixel. */
static void expect_same(const char *a, const char *b)
{
	struct page_image x, y;
	size_t diff = 0, first = 0;

	shot_load(&x, a);
	shot_load(&y, b);
	for (size_t i = 0; i < (size_t)W * H; i++) {
		if ((x.px[i] & 0xffffffu) != (y.px[i] & 0xffffffu)) {
			if (!diff)
				first = i;
			diff++;
		}
	}
	if (diff)
		fail_msg("%s and %s differ in %zu pixels, the first at (%zu, %zu)", a, b, diff, first % W,
			 first / W);
	shot_free(&x);
	shot_free(&y);
}

/* ---- /proc ---------------------------------------------------------------------------------- */

/* State letter and parent of a process, or 0 if it is gone. */
static char proc_state(pid_t pid, pid_t *ppid)
{
	char path[64], buf[512], *p, st = 0;
	int fd, ppid_v = 0;
	ssize_t n;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%c %d", &st, &ppid_v) != 2)
		return 0;
	if (ppid)
		*ppid = ppid_v;
	return st;
}

/* Zombie children of any of `parents`. */
static unsigned zombies_of(const pid_t *parents, size_t n)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	unsigned z = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		pid_t pid = (pid_t)atoi(de->d_name), pp = 0;

		if (pid <= 0)
			continue;
		if (proc_state(pid, &pp) != 'Z')
			continue;
		for (size_t i = 0; i < n; i++)
			if (pp == parents[i]) {
				fprintf(stderr, "zombie: pid %d, child of %d\n", (int)pid, (int)pp);
				z++;
			}
	}
	closedir(d);
	return z;
}

/* Every pid of a stats block, broker first. */
static size_t stats_pids(const char *block, pid_t *pids, size_t max)
{
	size_t n = 0;

	for (const char *p = block; n < max && (p = strstr(p, "{\"pid\":")); p++)
		pids[n++] = (pid_t)atoi(p + 7);
	return n;
}

/* Inodes of the shared-memory regions (memfd "bulkhead-shm") that `pid` maps or holds. */
static size_t shm_inodes(pid_t pid, unsigned long *ino, size_t n, size_t max)
{
	char path[64], line[512];
	FILE *f;
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof line, f) && n < max) {
		unsigned long inode = 0;

		if (!strstr(line, "/memfd:bulkhead-shm"))
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %lu", &inode) == 1 && inode)
			ino[n++] = inode;
	}
	if (f)
		fclose(f);
	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	d = opendir(path);
	while (d && (de = readdir(d)) && n < max) {
		char fpath[384], target[256];
		struct stat st;
		ssize_t l;

		snprintf(fpath, sizeof fpath, "%s/%s", path, de->d_name);
		l = readlink(fpath, target, sizeof target - 1);
		if (l <= 0)
			continue;
		target[l] = '\0';
		if (strstr(target, "/memfd:bulkhead-shm") && stat(fpath, &st) == 0)
			ino[n++] = (unsigned long)st.st_ino;
	}
	if (d)
		closedir(d);
	return n;
}

/* How many processes still map or hold one of the regions `ino`. */
static unsigned shm_holders(const unsigned long *ino, size_t n)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	unsigned holders = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		unsigned long found[256];
		pid_t pid = (pid_t)atoi(de->d_name);
		size_t k;

		if (pid <= 0)
			continue;
		k = shm_inodes(pid, found, 0, 256);
		for (size_t i = 0; i < k; i++)
			for (size_t j = 0; j < n; j++)
				if (found[i] == ino[j]) {
					fprintf(stderr, "pid %d still holds shared memory inode %lu\n", (int)pid,
						ino[j]);
					holders++;
				}
	}
	closedir(d);
	return holders;
}

/* ---- chaos ------------------------------------------------------------------------------------ */

static unsigned chaos_seconds(void)
{
	const char *s = getenv("BH_CHAOS_SECONDS");
	long v = s && *s ? strtol(s, NULL, 10) : 0;

	return v > 0 && v <= 86400 ? (unsigned)v : 60;
}

static void append(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t size, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
}

/* The reference: every tab before any fault, in a run of its own. */
static void reference_shots(void)
{
	const char *args[NTABS + 1];
	char script[4096] = "";
	struct browser_run r;

	for (int i = 0; i < NTABS; i++)
		args[i] = chaos_pages[i];
	args[NTABS] = NULL;
	for (int i = 1; i <= NTABS; i++)
		append(script, sizeof script, "tab %d\nwait loaded\nscreenshot %s/ref%d.png\n", i, tmpdir, i);
	start(&r, script, args);
	finish(&r, 120);
	run_free(&r);
}

static void test_chaos(void **state)
{
	unsigned secs = chaos_seconds();
	const char *args[NTABS + 2];
	char script[8192] = "", name[32], ref[32];
	char *before, *after;
	struct browser_run r;
	pid_t pids[MAX_PIDS];
	size_t np;
	long long kills, sum_kills = 0, sum_restarts = 0, fds0, fds1, rss0, rss1;
	const char *rel0, *rel1;
	uint64_t t0 = now_ms();

	reference_shots();
	args[0] = "--chaos-mode";
	for (int i = 0; i < NTABS; i++)
		args[i + 1] = chaos_pages[i];
	args[NTABS + 1] = NULL;
	/*
	 * Warm-up: a short chaos exercises every path of a kill and a restart
	 * once (buffers, timers, channels reach their working size); the
	 * baseline is measured after it, before any screenshot maps pixels.
	 */
	append(script, sizeof script, "wait loaded\nchaos 3 7\nwait loaded\nstats json\n");
	append(script, sizeof script, "chaos %u 42\nwait loaded\nstats json\n", secs);
	for (int i = 1; i <= NTABS; i++)
		append(script, sizeof script, "tab %d\nwait loaded\nscreenshot %s/after%d.png\n", i, tmpdir, i);
	append(script, sizeof script, "list\nsleep 1500\nlist\n");
	start(&r, script, args);

	/* While it is still running: alive, no zombie of its own or of its zygote. */
	wait_output(&r, "after8.png", secs + 240);
	output(&r);
	after = stats_block(r.text, 1);
	np = stats_pids(after, pids, MAX_PIDS);
	assert_true(np >= 2 + 1 + NTABS);
	assert_int_equal(pids[0], r.pid);
	{
		char st = proc_state(r.pid, NULL);

		assert_true(st != 0 && st != 'Z');
	}
	assert_int_equal(zombies_of(pids, 2), 0);
	finish(&r, 60);
	free(after);

	/* Responsive to the end: the last command answered. */
	assert_int_equal(bh_test_count_substr(r.text, "*8  loaded   about.html"), 2);

	before = stats_block(r.text, 0);
	after = stats_block(r.text, 1);
	rel0 = strstr(before, "\"reliability\"");
	rel1 = strstr(after, "\"reliability\"");
	assert_non_null(rel0);
	assert_non_null(rel1);

	/* Kills happened, every one was an exit of kind crash and a restart, and nothing else ended. */
	kills = num(rel1, "kills");
	assert_true(kills >= 2 * (long long)secs);
	assert_int_equal(num(rel1, "crash"), kills);
	assert_int_equal(num(rel1, "hung"), 0);
	assert_int_equal(num(rel1, "bad message"), 0);
	assert_int_equal(num(rel1, "sandbox violation"), 0);
	assert_int_equal(num(rel1, "resource limit"), 0);
	assert_int_equal(num(rel1, "setup failed"), 0);
	assert_true(num(rel1, "gpu_kills") > 0);
	for (unsigned i = 0; i <= NTABS; i++) {
		const char *w = i ? row(after, "renderer", i - 1) : row(after, "gpu", 0);

		assert_non_null(w);
		if (num(w, "restarts") != num(w, "chaos_kills"))
			fail_msg("a worker restarted %lld times but was killed %lld times: %.200s", num(w, "restarts"),
				 num(w, "chaos_kills"), w);
		sum_kills += num(w, "chaos_kills");
		sum_restarts += num(w, "restarts");
		assert_int_equal(num(w, "seq_gaps"), 0);
	}
	assert_int_equal(sum_kills, kills);
	assert_int_equal(sum_restarts, kills);

	/* Every Ping answered in order on every healthy channel. */
	assert_true(num(rel1, "pongs") > 0);
	assert_int_equal(num(rel1, "seq_gaps"), 0);

	/* The broker's own resources came back to where they were. */
	fds0 = num(rel0, "fds");
	fds1 = num(rel1, "fds");
	rss0 = num(rel0, "rss_kb");
	rss1 = num(rel1, "rss_kb");
	fprintf(stderr, "chaos: %u s, %lld kills (%lld gpu), %lld pongs, 0 gaps; fds %lld -> %lld (peak %lld); "
		"rss %lld -> %lld kB (peak %lld); wall time %.1f s\n", secs, kills, num(rel1, "gpu_kills"),
		num(rel1, "pongs"), fds0, fds1, num(rel1, "peak_fds"), rss0, rss1, num(rel1, "peak_rss_kb"),
		(double)(now_ms() - t0) / 1000.0);
	assert_true(fds1 * 100 <= fds0 * 105 && fds1 * 100 >= fds0 * 95);
	/* AddressSanitizer's quarantine keeps freed memory on purpose: the RSS bound is the release build's. */
	if (!ASAN)
		assert_true(rss1 * 100 <= rss0 * 105 && rss1 * 100 >= rss0 * 95);

	/* Every tab shows its page again, exactly as before any fault. */
	for (int i = 1; i <= NTABS; i++) {
		snprintf(name, sizeof name, "after%d.png", i);
		snprintf(ref, sizeof ref, "ref%d.png", i);
		expect_same(ref, name);
	}
	free(before);
	free(after);
	run_free(&r);
}

/* ---- flood ------------------------------------------------------------------------------------ */

static void test_flood(void **state)
{
	static const char *const args[] = { "about:animate", "boxes.html", "text.html", NULL };
	char script[2048] = "";
	struct browser_run r;
	char *s0, *s1, *s2;
	const char *a, *b, *c;
	double fps_before, fps_during;
	struct page_image img;

	append(script, sizeof script,
	       "wait loaded\n"
	       "stats json\n"
	       "sleep 2000\n"
	       "stats json\n"
	       "navigate 2 about:flood\n"
	       "wait event bad-message 1 60\n"
	       "stats json\n"
	       "wait loaded\n"
	       "tab 2\n"
	       "wait loaded\n"
	       "screenshot %s/flood.png\n"
	       "list\n", tmpdir);
	start(&r, script, args);
	finish(&r, 120);
	s0 = stats_block(r.text, 0);
	s1 = stats_block(r.text, 1);
	s2 = stats_block(r.text, 2);
	a = strstr(s0, "\"reliability\"");
	b = strstr(s1, "\"reliability\"");
	c = strstr(s2, "\"reliability\"");

	/* The documented rule: throttled twice, killed at the third second over budget. */
	expect(&r, "over 2000 a second: throttled");
	expect(&r, "bad message: refused by the application: flooding");
	assert_int_equal(num(c, "flood_kills"), 1);
	assert_int_equal(num(c, "throttled"), 2);
	assert_int_equal(num(c, "bad message"), 1);
	/* The other tabs never noticed; the flooder's tab came back. */
	assert_int_equal(bh_test_count_substr(r.text, "renderer pid"), 1);
	expect(&r, " 1  loaded   about:animate");
	expect(&r, "*2  loaded   boxes.html");
	shot_load(&img, "flood.png");
	assert_int_equal(px(&img, 100, 80), 0xd32f2f);
	shot_free(&img);

	/* Memory: the broker read and dropped every message; nothing piled up. */
	fprintf(stderr, "flood: broker rss %lld kB before, peak %lld kB; fds %lld, peak %lld\n", num(b, "rss_kb"),
		num(c, "peak_rss_kb"), num(b, "fds"), num(c, "peak_fds"));
	if (!ASAN)
		assert_true(num(c, "peak_rss_kb") * 100 <= num(b, "rss_kb") * 105);
	assert_int_equal(num(c, "peak_fds"), num(b, "fds"));

	/* The animated tab's frame rate while the other one flooded, against before. */
	fps_before = (double)(num(b, "frames") - num(a, "frames")) * 1000.0 / (double)(num(b, "now_ms") - num(a, "now_ms"));
	fps_during = (double)num(c, "flood_frames") * 1000.0 / (double)num(c, "flood_ms");
	fprintf(stderr, "flood: %.1f frames/s before, %.1f during (ratio %.2f)\n", fps_before, fps_during,
		fps_during / fps_before);
	assert_true(fps_before > 0);
	assert_true(fps_during * 4 >= fps_before);
	free(s0);
	free(s1);
	free(s2);
	run_free(&r);
}

/* ---- stall -------------------------------------------------------------------------------------- */

static void test_stall(void **state)
{
	static const char *const args[] = { "boxes.html", "text.html", NULL };
	static const char script[] =
		"wait loaded\n"
		"navigate 2 about:stall\n"
		"sleep 500\n"
		"burst 3000 2\n"
		"list\n"
		"wait event hang 1 30\n"
		"wait loaded\n"
		"burst 500 2\n"
		"sleep 1000\n"
		"stats json\n"
		"list\n";
	struct browser_run r;
	const char *p;
	char *s;
	unsigned queued = 0, refused = 0;
	size_t bytes = 0;

	start(&r, script, args);
	finish(&r, 120);
	/* Sends to the stalled renderer: refused once its queue was full, and the broker went on at once. */
	p = strstr(r.text, "burst: tab 2: ");
	assert_non_null(p);
	assert_int_equal(sscanf(p, "burst: tab 2: %u Pings queued, %u refused (send queue full), queue %zu", &queued,
				&refused, &bytes), 3);
	assert_true(refused > 0);
	assert_true(queued > 0 && queued <= 1024);
	assert_true(bytes <= (1u << 20));
	expect(&r, " 2  loaded   text.html");
	/* Killed by the stall rule, classified hung, restarted. */
	expect(&r, "renderer pid");
	expect(&r, "hung: did not answer a Ping for 3000 ms");
	expect(&r, "tab 2: reloaded text.html");
	/* The new incarnation answers every Ping of a burst, in order. */
	expect(&r, "burst: tab 2: 500 Pings queued, 0 refused");
	s = stats_block(r.text, 0);
	assert_int_equal(num(strstr(s, "\"reliability\""), "stall_kills"), 1);
	assert_int_equal(num(strstr(s, "\"reliability\""), "hung"), 1);
	assert_int_equal(num(strstr(s, "\"reliability\""), "seq_gaps"), 0);
	assert_true(num(row(s, "renderer", 1), "pongs") >= 500);
	assert_int_equal(bh_test_count_substr(r.text, "renderer pid"), 1);
	free(s);
	run_free(&r);
}

/* ---- exhaustion ------------------------------------------------------------------------------------ */

static void test_exhaustion(void **state)
{
	static const char *const args[] = { "boxes.html", "text.html", "colors.html", "lists.html", NULL };
	char script[2048] = "";
	struct browser_run r;
	struct page_image img;
	char *s;

	append(script, sizeof script,
	       "wait loaded\n"
	       "navigate 2 about:oom\n"
	       "wait event renderer-exit 1 60\n"
	       "wait loaded\n"
	       "navigate 3 about:forkbomb\n"
	       "wait event sandbox 1 60\n"
	       "wait loaded\n"
	       "navigate 4 about:fillsocket\n"
	       "wait event renderer-exit 1 60\n"
	       "wait loaded\n"
	       "tab 1\n"
	       "wait loaded\n"
	       "screenshot %s/exhaustion.png\n"
	       "stats json\n"
	       "list\n", tmpdir);
	start(&r, script, args);
	finish(&r, 180);
	/* Memory: RLIMIT_AS refuses, the renderer ends as out of memory. */
	expect(&r, "tab 2 (text.html): renderer pid");
	expect(&r, "resource limit: out of memory; restarting it");
	/* Threads: RLIMIT_NPROC refuses; a process: the seccomp filter kills it. */
	expect(&r, "tab 3: renderer says: about:forkbomb: ");
	expect(&r, "then pthread_create: Resource temporarily unavailable");
	expect(&r, "killed by the sandbox for calling clone");
	/* Socket buffers: throttled until it is killed (flooding), or its blocked loop misses heartbeats (hung). */
	{
		const char *l = strstr(r.text, "tab 4 (lists.html): renderer pid");
		const char *eol = l ? strchr(l, '\n') : NULL;
		char line[512];

		assert_non_null(eol);
		snprintf(line, sizeof line, "%.*s", (int)(eol - l), l);
		if (!strstr(line, ": flooding: over 2000 messages") && !strstr(line, ": hung: "))
			fail_msg("about:fillsocket ended otherwise: %s", line);
	}
	s = stats_block(r.text, 0);
	{
		const char *rel = strstr(s, "\"reliability\"");

		assert_int_equal(num(rel, "resource limit"), 1);
		assert_int_equal(num(rel, "sandbox violation"), 1);
		assert_int_equal(num(rel, "bad message") + num(rel, "hung"), 1);
		assert_int_equal(num(rel, "crash"), 0);
	}
	/* Each came back; the first tab never noticed. */
	expect(&r, " 2  loaded   text.html");
	expect(&r, " 3  loaded   colors.html");
	expect(&r, " 4  loaded   lists.html");
	expect(&r, "*1  loaded   boxes.html");
	assert_int_equal(bh_test_count_substr(r.text, "tab 1 (") , 0);
	assert_int_equal(num(row(s, "renderer", 0), "restarts"), 0);
	shot_load(&img, "exhaustion.png");
	assert_int_equal(px(&img, 100, 80), 0xd32f2f);
	shot_free(&img);
	free(s);
	run_free(&r);
}

/* ---- evil worker ------------------------------------------------------------------------------------ */

/*
 * Tab 3's renderer, after its handshake, sends mutated and random frames to
 * the broker and the gpu (renderer/evil.h), and so does every incarnation
 * restarted after it, for EVIL_SECONDS. Each must be killed as a bad-message
 * sender, some on the broker's own checks and some on the gpu's report; the
 * broker and the gpu stay up, the other tabs keep rendering and are never
 * restarted, and tab 3 shows its own page again at the end.
 */
#define EVIL_SECONDS 6

static void test_evil(void **state)
{
	static const char *const args[] = { "--chaos-mode", "about:animate", "boxes.html", "text.html",
					    "index.html", NULL };
	char script[1024] = "";
	struct browser_run r;
	char *s0, *s1, *s2, *line;
	const char *a, *b, *c;
	unsigned rounds = 0, bad = 0, other = 0, bystanders = 99;
	unsigned long long reports = 0, frames = 0;
	double fps_before, fps_during, secs = 0;
	struct page_image img;

	append(script, sizeof script,
	       "wait loaded\n"
	       "stats json\n"
	       "sleep 2000\n"
	       "stats json\n"
	       "evil 3 %d 7\n"
	       "stats json\n"
	       "tab 2\n"
	       "wait loaded\n"
	       "screenshot %s/evil2.png\n"
	       "list\n", EVIL_SECONDS, tmpdir);
	start(&r, script, args);
	finish(&r, 180);
	line = strstr(r.text, "evil: tab 3, ");
	assert_non_null(line);
	assert_int_equal(sscanf(line, "evil: tab 3, %lf s: %u renderer(s) sent to about:evil, %u killed as "
			       "bad-message senders, %u ended otherwise; the gpu reported %llu bad frame(s); "
			       "gpu process unchanged; other processes ended: %u; %llu frames",
			       &secs, &rounds, &bad, &other, &reports, &bystanders, &frames), 7);
	fprintf(stderr, "evil: %.1f s, %u rounds, %u bad-message kills, %u other ends, %llu gpu reports, "
		"%u other processes ended, %llu frames\n", secs, rounds, bad, other, reports, bystanders, frames);
	/* Several incarnations, each one killed for what it sent (the last may be cut short by the clock). */
	assert_true(rounds >= 3);
	assert_true(bad >= rounds - 1);
	assert_int_equal(bad + other, rounds);
	/* Both receivers caught some: the broker itself, and the gpu through its reports. */
	assert_true(reports >= 1);
	expect(&r, "renderer pid");
	assert_non_null(strstr(r.text, "the gpu refused its frame"));
	assert_true(bh_test_count_substr(r.text, ": bad message: ") > bh_test_count_substr(r.text, "the gpu refused"));
	/* Nobody else was hurt: no other exit, the gpu never restarted, only tab 3's renderer died. */
	assert_int_equal(bystanders, 0);
	assert_int_equal(bh_test_count_substr(r.text, "gpu process pid"), 0);
	assert_int_equal(bh_test_count_substr(r.text, "renderer pid"), bh_test_count_substr(r.text, "tab 3 (text.html): renderer pid"));

	/* The animated tab kept its frame rate within a factor of four; no Ping lost anywhere. */
	s0 = stats_block(r.text, 0);
	s1 = stats_block(r.text, 1);
	s2 = stats_block(r.text, 2);
	a = strstr(s0, "\"reliability\"");
	b = strstr(s1, "\"reliability\"");
	c = strstr(s2, "\"reliability\"");
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	fps_before = (double)(num(b, "frames") - num(a, "frames")) * 1000.0 /
		     (double)(num(b, "now_ms") - num(a, "now_ms"));
	fps_during = secs > 0 ? (double)frames / secs : 0;
	fprintf(stderr, "evil: %.1f frames/s before, %.1f during (ratio %.2f)\n", fps_before, fps_during,
		fps_during / fps_before);
	assert_true(fps_before > 0);
	assert_true(fps_during * 4 >= fps_before);
	assert_int_equal(num(c, "seq_gaps"), 0);
	assert_int_equal(num(c, "bad_message_kills"), (long long)bad);

	/* Every tab shows its page: tab 3 its own again, tab 2 the red box it always had. */
	expect(&r, " 3  loaded   text.html");
	expect(&r, "*2  loaded   boxes.html");
	expect(&r, " 1  loaded   about:animate");
	shot_load(&img, "evil2.png");
	assert_int_equal(px(&img, 100, 80), 0xd32f2f);
	shot_free(&img);
	free(s0);
	free(s1);
	free(s2);
	run_free(&r);
}

/* ---- broker death --------------------------------------------------------------------------------- */

static void test_broker_death(void **state)
{
	static const char *const args[] = { "boxes.html", "text.html", "about:animate", NULL };
	static const char script[] = "wait loaded\nstats json\nsleep 600000\n";
	struct browser_run r;
	pid_t pids[MAX_PIDS];
	unsigned long ino[256];
	size_t np, ni = 0;
	uint64_t t0, gone_ms = 0;
	char *s;
	int st;

	/* Orphaned workers come to this process, so that it can tell when each is really gone. */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
	start(&r, script, args);
	wait_output(&r, "\n]\n", 120);
	s = stats_block(r.text, 0);
	np = stats_pids(s, pids, MAX_PIDS);
	free(s);
	assert_int_equal(np, 2 + 1 + 3);
	assert_int_equal(pids[0], r.pid);
	for (size_t i = 0; i < np; i++)
		ni = shm_inodes(pids[i], ino, ni, 256);
	/* At least the gpu's output, which the broker maps. */
	assert_true(ni >= 1);

	t0 = now_ms();
	assert_int_equal(kill(r.pid, SIGKILL), 0);
	assert_int_equal(waitpid(r.pid, &st, 0), r.pid);
	r.pid = 0;
	for (;;) {
		size_t alive = 0;

		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		for (size_t i = 1; i < np; i++) {
			char c = proc_state(pids[i], NULL);

			alive += c != 0 && c != 'Z';
		}
		if (!alive) {
			gone_ms = now_ms() - t0;
			break;
		}
		if (now_ms() - t0 > 5000) {
			for (size_t i = 1; i < np; i++)
				if (proc_state(pids[i], NULL))
					fprintf(stderr, "pid %d still there\n", (int)pids[i]);
			fail_msg("workers outlived the broker by more than 5 s");
		}
		usleep(5000);
	}
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	fprintf(stderr, "broker death: %zu processes gone %llu ms after the broker; %zu shared regions\n", np - 1,
		(unsigned long long)gone_ms, ni);
	assert_true(gone_ms <= 1000);
	assert_int_equal(shm_holders(ino, ni), 0);
	(void)prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
	output(&r);
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
		cmocka_unit_test(test_broker_death),
		cmocka_unit_test(test_stall),
		cmocka_unit_test(test_exhaustion),
		cmocka_unit_test(test_flood),
		cmocka_unit_test(test_evil),
		cmocka_unit_test(test_chaos),
	};

	bh_test_deadline(chaos_seconds() + 400);
	return cmocka_run_group_tests_name("reliability", tests, setup, teardown);
}
