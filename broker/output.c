/*
 * What the user sees: PNG screenshots of the composited window (encoded
 * straight from the read-only mapping of the gpu's output, no copy), every
 * frame into a folder if asked, and a live true-colour preview in the
 * terminal drawn with half-block characters, plus a status line.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "broker/browser.h"
#include "renderer/png_write.h"

#define PREVIEW_MIN_NS 80000000ull /* at most ~12 previews per second */

static const uint32_t *frame_pixels(struct browser *b, size_t *stride)
{
	if (!b->out || b->held < 0)
		return NULL;
	*stride = bh_surface_get_geometry(b->out)->stride;
	return bh_surface_slot_data(b->out, (unsigned)b->held);
}

int output_screenshot(struct browser *b, const char *path, char *err, size_t errsz)
{
	const uint32_t *px;
	size_t stride;
	int fd, r;

	px = frame_pixels(b, &stride);
	if (!px) {
		snprintf(err, errsz, "no frame has been composited yet");
		return -EAGAIN;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errsz, "cannot create %s: %s", path, strerror(errno));
		return r;
	}
	r = bh_png_write_argb(fd, px, (int)b->o.width, (int)b->o.height, stride);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0) {
		snprintf(err, errsz, "cannot write %s: %s", path, strerror(-r));
		return r;
	}
	return 0;
}

/* ---- terminal ------------------------------------------------------------------------ */

struct buf {
	char *p;
	size_t len, cap;
};

static void put(struct buf *o, const char *s, size_t n)
{
	if (o->len + n > o->cap) {
		size_t cap = (o->cap ? o->cap * 2 : 65536) + n;
		char *p = realloc(o->p, cap);

		if (!p)
			return;
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void putf(struct buf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct buf *o, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n > 0)
		put(o, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* a terminal that went away: nothing useful to do */
		p += w;
		n -= (size_t)w;
	}
}

/* Average colour of a block of the frame (box filter: small text stays legible). */
static uint32_t average(const uint32_t *px, size_t stride, int x0, int y0, int x1, int y1)
{
	uint64_t r = 0, g = 0, bl = 0, n = 0;

	/* Sample at most a 4x4 grid inside the block: cheap and close enough. */
	int sx = (x1 - x0) / 4 + 1, sy = (y1 - y0) / 4 + 1;

	for (int y = y0; y < y1; y += sy) {
		const uint32_t *row = (const uint32_t *)((const uint8_t *)px + (size_t)y * stride);

		for (int x = x0; x < x1; x += sx) {
			uint32_t p = row[x];

			r += (p >> 16) & 0xff;
			g += (p >> 8) & 0xff;
			bl += p & 0xff;
			n++;
		}
	}
	if (!n)
		return 0;
	return (uint32_t)((r / n) << 16 | (g / n) << 8 | (bl / n));
}

static void terminal_size(int *cols, int *rows)
{
	struct winsize ws;

	*cols = 80;
	*rows = 24;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
		*cols = ws.ws_col;
		*rows = ws.ws_row;
	}
}

static void preview(struct browser *b)
{
	struct buf o = { 0 };
	const uint32_t *px;
	size_t stride;
	int cols, rows, pw, ph, W = (int)b->o.width, H = (int)b->o.height;
	uint32_t last_fg = 0xffffffffu, last_bg = 0xffffffffu;

	px = frame_pixels(b, &stride);
	if (!px)
		return;
	terminal_size(&cols, &rows);
	/* Leave room for the status line and a few lines of output below. */
	ph = (rows - 6) * 2;
	if (ph < 4)
		return;
	pw = cols;
	/* Keep the window's aspect ratio: a cell is about twice as tall as wide. */
	if ((int64_t)pw * H > (int64_t)ph * W)
		pw = (int)((int64_t)ph * W / H);
	else
		ph = (int)((int64_t)pw * H / W) & ~1;
	if (pw < 4 || ph < 2)
		return;
	b->preview_rows = ph / 2;
	put(&o, "\0337\033[H", 5);
	for (int cy = 0; cy < ph / 2; cy++) {
		for (int cx = 0; cx < pw; cx++) {
			int x0 = cx * W / pw, x1 = (cx + 1) * W / pw;
			int y0 = (2 * cy) * H / ph, y1 = (2 * cy + 1) * H / ph, y2 = (2 * cy + 2) * H / ph;
			uint32_t fg = average(px, stride, x0, y0, x1 > x0 ? x1 : x0 + 1, y1 > y0 ? y1 : y0 + 1);
			uint32_t bg = average(px, stride, x0, y1, x1 > x0 ? x1 : x0 + 1, y2 > y1 ? y2 : y1 + 1);

			if (fg != last_fg)
				putf(&o, "\033[38;2;%u;%u;%um", fg >> 16, (fg >> 8) & 0xff, fg & 0xff);
			if (bg != last_bg)
				putf(&o, "\033[48;2;%u;%u;%um", bg >> 16, (bg >> 8) & 0xff, bg & 0xff);
			last_fg = fg;
			last_bg = bg;
			put(&o, "\xe2\x96\x80", 3); /* U+2580 upper half block */
		}
		put(&o, "\033[0m\033[K\r\n", 9);
		last_fg = last_bg = 0xffffffffu;
	}
	put(&o, "\0338", 2);
	if (o.p)
		write_all(STDOUT_FILENO, o.p, o.len);
	free(o.p);
}

void output_status(struct browser *b)
{
	unsigned restarts = 0, sad = 0;
	char line[256];
	int cols, rows;

	for (struct tab *t = b->tabs; t; t = t->next) {
		if (t->closing)
			continue;
		restarts += bh_worker_restarts(t->w);
		sad += t->sad;
	}
	snprintf(line, sizeof line, "bulkhead-browser | %u tabs | %.1f fps | %llu frames | restarts: "
		 "%u renderer, %u gpu | %u sad",
		 browser_tab_count(b), b->fps, (unsigned long long)b->frames, restarts,
		 b->gpu ? bh_worker_restarts(b->gpu) : 0, sad);
	if (!b->preview_rows)
		return;
	terminal_size(&cols, &rows);
	if (cols > 0 && (int)strlen(line) > cols)
		line[cols] = '\0';
	/* The status line sits right under the preview. */
	{
		char out[512];
		int n = snprintf(out, sizeof out, "\0337\033[%d;1H\033[7m%s\033[0m\033[K\0338",
				 b->preview_rows + 1, line);

		if (n > 0)
			write_all(STDOUT_FILENO, out, (size_t)n < sizeof out ? (size_t)n : sizeof out - 1);
	}
}

void output_frame(struct browser *b)
{
	uint64_t now = bh_now_ns();
	char err[256];

	b->fps_frames++;
	if (!b->fps_t0)
		b->fps_t0 = now;
	if (now - b->fps_t0 >= 1000000000ull) {
		b->fps = (double)b->fps_frames * 1e9 / (double)(now - b->fps_t0);
		b->fps_t0 = now;
		b->fps_frames = 0;
	}
	if (b->o.frames_dir) {
		char path[4096];

		snprintf(path, sizeof path, "%s/frame-%06llu.png", b->o.frames_dir, (unsigned long long)b->frames);
		if (output_screenshot(b, path, err, sizeof err) < 0)
			browser_say(b, "frames: %s", err);
	}
	if (b->o.preview == 1 && now - b->preview_last_ns >= PREVIEW_MIN_NS) {
		bool first = b->preview_rows == 0;

		b->preview_last_ns = now;
		preview(b);
		if (first && b->preview_rows) {
			/* Output scrolls below the preview and its status line from now on. */
			char s[64];
			int rows, cols, n;

			terminal_size(&cols, &rows);
			n = snprintf(s, sizeof s, "\033[%d;%dr\033[%d;1H", b->preview_rows + 2, rows, rows);
			if (n > 0)
				write_all(STDOUT_FILENO, s, (size_t)n);
		}
		output_status(b);
	}
}

void output_init(struct browser *b)
{
	if (b->o.preview == 1) {
		/* Clear the screen once; the preview then redraws in place. */
		write_all(STDOUT_FILENO, "\033[2J\033[H", 7);
	}
}

void output_fini(struct browser *b)
{
	char s[64];
	int rows, cols, n;

	if (b->o.preview != 1 || !b->preview_rows)
		return;
	terminal_size(&cols, &rows);
	n = snprintf(s, sizeof s, "\033[r\033[%d;1H\n", rows);
	if (n > 0)
		write_all(STDOUT_FILENO, s, (size_t)n);
}
