/*
 * PNG encoder for pixel buffers. libpng reports errors by longjmp, so the
 * row buffer and the output buffer live in a heap context that the error
 * path frees; no local changed after setjmp is read after a jump.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <png.h>

#include "png_write.h"

#define PNG_WRITE_MAX_DIM 16384

struct encode_ctx {
	jmp_buf jmp;
	int code;
	int fd;          /* -1: into mem */
	uint8_t *mem;
	size_t len, cap;
	uint8_t *row;
};

static void on_error(png_structp png, png_const_charp msg)
{
	struct encode_ctx *c = png_get_error_ptr(png);

	(void)msg;
	if (c->code == 0)
		c->code = -EIO;
	longjmp(c->jmp, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

static void on_write(png_structp png, png_bytep data, size_t n)
{
	struct encode_ctx *c = png_get_io_ptr(png);

	if (c->fd >= 0) {
		while (n > 0) {
			ssize_t k = write(c->fd, data, n);

			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				c->code = k < 0 ? -errno : -EIO;
				png_error(png, "write");
			}
			data += k;
			n -= (size_t)k;
		}
		return;
	}
	if (c->len + n > c->cap) {
		size_t cap = c->cap ? c->cap : 4096;
		uint8_t *nm;

		while (cap < c->len + n)
			cap *= 2;
		nm = realloc(c->mem, cap);
		if (!nm) {
			c->code = -ENOMEM;
			png_error(png, "oom");
		}
		c->mem = nm;
		c->cap = cap;
	}
	memcpy(c->mem + c->len, data, n);
	c->len += n;
}

static void on_flush(png_structp png)
{
	(void)png;
}

static void encode_rows(png_structp png, png_infop info, struct encode_ctx *c,
			const uint32_t *pixels, int w, int h, size_t stride)
{
	png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB,
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	/* Screenshots are taken often: favour speed over the last few percent of size. */
	png_set_compression_level(png, 3);
	png_write_info(png, info);
	for (int y = 0; y < h; y++) {
		const uint32_t *src = (const uint32_t *)((const uint8_t *)pixels + (size_t)y * stride);

		for (int x = 0; x < w; x++) {
			c->row[3 * x] = (uint8_t)(src[x] >> 16);
			c->row[3 * x + 1] = (uint8_t)(src[x] >> 8);
			c->row[3 * x + 2] = (uint8_t)src[x];
		}
		png_write_row(png, c->row);
	}
	png_write_end(png, info);
}

static int encode(struct encode_ctx *c, const uint32_t *pixels, int w, int h, size_t stride)
{
	png_structp png;
	png_infop info = NULL;
	int r;

	if (!pixels || w < 1 || h < 1 || w > PNG_WRITE_MAX_DIM || h > PNG_WRITE_MAX_DIM ||
	    stride < (size_t)w * 4)
		return -EINVAL;
	c->row = malloc((size_t)w * 3);
	if (!c->row)
		return -ENOMEM;
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, c, on_error, on_warning);
	if (!png || !(info = png_create_info_struct(png))) {
		png_destroy_write_struct(png ? &png : NULL, NULL);
		free(c->row);
		return -ENOMEM;
	}
	png_set_write_fn(png, c, on_write, on_flush);
	if (setjmp(c->jmp) == 0)
		encode_rows(png, info, c, pixels, w, h, stride);
	png_destroy_write_struct(&png, &info);
	free(c->row);
	c->row = NULL;
	r = c->code;
	return r;
}

int bh_png_write_argb(int fd, const uint32_t *pixels, int w, int h, size_t stride)
{
	struct encode_ctx *c;
	int r;

	if (fd < 0)
		return -EBADF;
	c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->fd = fd;
	r = encode(c, pixels, w, h, stride);
	free(c);
	return r;
}

int bh_png_encode_argb(const uint32_t *pixels, int w, int h, size_t stride, uint8_t **out,
		       size_t *out_len)
{
	struct encode_ctx *c;
	int r;

	if (!out || !out_len)
		return -EINVAL;
	c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->fd = -1;
	r = encode(c, pixels, w, h, stride);
	if (r == 0) {
		*out = c->mem;
		*out_len = c->len;
	} else {
		free(c->mem);
	}
	free(c);
	return r;
}
