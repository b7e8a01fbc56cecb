/*
 * Demo suite: the compositor and the renderers of the demo browser, measured
 * in their real sandboxed processes. The suite runs bulkhead-browser headless
 * with 1, 4 and 8 tabs at 1280x800, asks its gpu process to composite a burst
 * of frames (the browser's `bench` command times it against memcpy of the
 * same bytes inside the same process), and reads every renderer's memory
 * from the browser's `stats json`.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"

static int browser_path(char *out, size_t size)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);

	if (n <= 0)
		return -errno;
	self[n] = '\0';
	snprintf(out, size, "%s/../broker/bulkhead-browser", dirname(self));
	return access(out, X_OK) == 0 ? 0 : -ENOENT;
}

/* Runs the browser with `script` and returns what it printed (caller frees). */
static char *run_browser(const char *browser, const char *script, int tabs, int *status)
{
	static const char *const pages[] = { "index.html", "text.html", "boxes.html", "images.html",
					     "lists.html", "colors.html", "links.html", "unicode.html" };
	char script_path[] = "/tmp/bulkhead-bench-XXXXXX";
	const char *argv[16];
	int fd = mkstemp(script_path), out[2], argc = 0;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	pid_t pid;

	if (fd < 0)
		return NULL;
	if (write(fd, script, strlen(script)) != (ssize_t)strlen(script) || pipe2(out, O_CLOEXEC) < 0) {
		close(fd);
		unlink(script_path);
		return NULL;
	}
	close(fd);
	argv[argc++] = browser;
	argv[argc++] = "--headless";
	argv[argc++] = "--no-preview";
	argv[argc++] = "--script";
	argv[argc++] = script_path;
	for (int i = 0; i < tabs && i < 8; i++)
		argv[argc++] = pages[i];
	argv[argc] = NULL;
	pid = fork();
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(out[1], 2);
		execv(browser, (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	for (;;) {
		ssize_t r;

		if (len + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 16384);

			if (!nb)
				break;
			buf = nb;
		}
		r = read(out[0], buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(out[0]);
	if (buf)
		buf[len] = '\0';
	*status = -1;
	if (pid > 0) {
		int st;

		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		*status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	}
	unlink(script_path);
	return buf;
}

static double number_after(const char *s, const char *key)
{
	const char *p = strstr(s, key);

	return p ? strtod(p + strlen(key), NULL) : -1;
}

int bench_demo(struct bench_ctx *ctx)
{
	static const int tab_counts[] = { 1, 4, 8 };
	char browser[PATH_MAX], name[96], script[256];
	double worst_extra = 0, worst_anon = 0;
	int r = browser_path(browser, sizeof browser);

	if (r < 0) {
		bench_note(ctx, "  (demo suite skipped: bulkhead-browser was not built next to the bench)");
		return 0;
	}
	for (size_t t = 0; t < sizeof tab_counts / sizeof tab_counts[0]; t++) {
		for (int overview = 0; overview < 2; overview++) {
			int status = -1;
			char *out;
			const char *line;
			double fps, pct;

			snprintf(script, sizeof script, "wait loaded\n%sbench %d\n%s", overview ? "overview\n" : "",
				 ctx->quick ? 100 : 500, overview ? "" : "stats json\n");
			out = run_browser(browser, script, tab_counts[t], &status);
			if (!out || status != 0 || !(line = strstr(out, "bench: "))) {
				bench_note(ctx, "  (demo run with %d tabs failed: status %d)", tab_counts[t], status);
				free(out);
				return -EIO;
			}
			fps = number_after(line, "frames of 1280x800: ");
			if (fps < 0)
				fps = number_after(line, "(overview): ");
			pct = number_after(line, "GB/s composited, ");
			snprintf(name, sizeof name, "demo.compositor.%dtabs%s.fps", tab_counts[t],
				 overview ? ".overview" : "");
			bench_report(ctx, name, fps, "frames/s", NULL, 0);
			snprintf(name, sizeof name, "demo.compositor.%dtabs%s.bandwidth", tab_counts[t],
				 overview ? ".overview" : "");
			bench_report(ctx, name, pct / 100.0, "x", "memcpy_same_bytes", 1.0);
			/* Renderer memory: what it holds beyond its shared surface. */
			for (const char *p = out; !overview && (p = strstr(p, "\"type\":\"renderer\"")); p++) {
				const char *end = strchr(p, '\n');
				double rss = number_after(p, "\"rss_kb\":"), shm = number_after(p, "\"shmem_kb\":");
				double anon = number_after(p, "\"anon_kb\":");

				if (end && strstr(p, "\"rss_kb\":") > end)
					continue;
				if (rss - shm > worst_extra)
					worst_extra = rss - shm;
				if (anon > worst_anon)
					worst_anon = anon;
			}
			free(out);
		}
	}
	bench_report(ctx, "demo.renderer.rss_beyond_surface", worst_extra / 1024.0, "MiB", NULL, 0);
	bench_report(ctx, "demo.renderer.private_anon", worst_anon / 1024.0, "MiB", NULL, 0);
	bench_note(ctx, "  (rss_beyond_surface counts the executable's and the fonts' file pages,\n"
			"   which every renderer shares; private_anon is what one renderer adds)");
	return 0;
}
