/*
 * PNG decoding from memory with libpng, for hostile input.
 *
 * Layers of defence, in order: our own look at the IHDR (for a precise
 * message before libpng allocates anything), libpng's user limits on
 * dimensions and on ancillary chunk memory, a reader that never reads past
 * the buffer, and a size check on the decoded image before it is
 * allocated. libpng reports errors by longjmp; everything that must be
 * freed after one lives in a heap context, not in locals, so nothing the
 * jump skips over can leak.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "page_internal.h"

struct decode_ctx {
	const uint8_t *data;
	size_t len, pos;
	jmp_buf jmp;
	char msg[160];
	int code;
	uint32_t *px;
	png_bytep *rows;
	png_uint_32 w, h;
};

static void on_error(png_structp png, png_const_charp msg)
{
	struct decode_ctx *c = png_get_error_ptr(png);

	if (c->code == 0) {
		c->code = -EBADMSG;
		snprintf(c->msg, sizeof c->msg, "corrupt PNG: %s", msg);
	}
	longjmp(c->jmp, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

static void on_read(png_structp png, png_bytep out, size_t n)
{
	struct decode_ctx *c = png_get_io_ptr(png);

	if (n > c->len - c->pos) {
		c->code = -EBADMSG;
		snprintf(c->msg, sizeof c->msg, "truncated PNG data (%zu bytes)", c->len);
		png_error(png, "truncated");
	}
	memcpy(out, c->data + c->pos, n);
	c->pos += n;
}

static uint32_t be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* The signature and the header's size, read directly for clear messages. */
static int precheck(const uint8_t *d, size_t len, int max_dim, size_t max_bytes, char *msg,
		    size_t msgsz)
{
	uint32_t w, h;

	if (len < 8 || png_sig_cmp(d, 0, 8) != 0) {
		snprintf(msg, msgsz, "not a PNG file");
		return -EBADMSG;
	}
	if (len < 33 || memcmp(d + 12, "IHDR", 4) != 0) {
		snprintf(msg, msgsz, "corrupt PNG: no IHDR chunk at the start");
		return -EBADMSG;
	}
	w = be32(d + 16);
	h = be32(d + 20);
	if (w == 0 || h == 0) {
		snprintf(msg, msgsz, "corrupt PNG: image is %ux%u pixels", w, h);
		return -EBADMSG;
	}
	if (w > (uint32_t)max_dim || h > (uint32_t)max_dim) {
		snprintf(msg, msgsz, "image is %ux%u pixels, the limit is %dx%d", w, h, max_dim, max_dim);
		return -EFBIG;
	}
	if ((uint64_t)w * h * 4 > max_bytes) {
		snprintf(msg, msgsz, "image is %ux%u pixels, %llu bytes decoded, the limit is %zu bytes",
			 w, h, (unsigned long long)w * h * 4, max_bytes);
		return -EFBIG;
	}
	return 0;
}

static void decode_rows(png_structp png, png_infop info, struct decode_ctx *c, int max_dim,
			size_t max_bytes)
{
	png_uint_32 w, h;
	int depth, type;

	png_set_user_limits(png, (png_uint_32)max_dim, (png_uint_32)max_dim);
	/* Ancillary chunks (text, ICC profiles) are never needed: cap what they may cost. */
	png_set_chunk_cache_max(png, 64);
	png_set_chunk_malloc_max(png, 1u << 20);
	png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, 0);
	png_read_info(png, info);
	png_get_IHDR(png, info, &w, &h, &depth, &type, NULL, NULL, NULL);
	if (w == 0 || h == 0 || w > (png_uint_32)max_dim || h > (png_uint_32)max_dim ||
	    (uint64_t)w * h * 4 > max_bytes) {
		c->code = -EFBIG;
		snprintf(c->msg, sizeof c->msg, "image is %ux%u pixels, over the limit", (unsigned)w,
			 (unsigned)h);
		png_error(png, "over limit");
	}
	/* Everything to 8-bit RGBA; no gamma correction so output is exact. */
	png_set_expand(png);
	png_set_strip_16(png);
	png_set_gray_to_rgb(png);
	png_set_add_alpha(png, 0xff, PNG_FILLER_AFTER);
	(void)png_set_interlace_handling(png);
	png_read_update_info(png, info);
	if (png_get_rowbytes(png, info) != (size_t)w * 4) {
		c->code = -EBADMSG;
		snprintf(c->msg, sizeof c->msg, "unsupported PNG format");
		png_error(png, "row size");
	}
	/* Zeroed: libpng treats a short image stream as a warning and leaves rows unwritten. */
	c->px = calloc((size_t)w * h, 4);
	c->rows = malloc(sizeof *c->rows * h);
	if (!c->px || !c->rows) {
		c->code = -ENOMEM;
		snprintf(c->msg, sizeof c->msg, "out of memory");
		png_error(png, "oom");
	}
	for (png_uint_32 y = 0; y < h; y++)
		c->rows[y] = (png_bytep)(c->px + (size_t)y * w);
	png_read_image(png, c->rows);
	c->w = w;
	c->h = h;
}

int bh_png_decode(const uint8_t *data, size_t len, int max_dim, size_t max_bytes,
		  struct page_image *out, char *msg, size_t msgsz)
{
	struct decode_ctx *c;
	png_structp png;
	png_infop info = NULL;
	int r;

	if ((r = precheck(data, len, max_dim, max_bytes, msg, msgsz)) < 0)
		return r;
	c = calloc(1, sizeof *c);
	if (!c) {
		snprintf(msg, msgsz, "out of memory");
		return -ENOMEM;
	}
	c->data = data;
	c->len = len;
	png = png_create_read_struct(PNG_LIBPNG_VER_STRING, c, on_error, on_warning);
	if (!png || !(info = png_create_info_struct(png))) {
		png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
		free(c);
		snprintf(msg, msgsz, "out of memory");
		return -ENOMEM;
	}
	png_set_read_fn(png, c, on_read);
	if (setjmp(c->jmp) == 0) {
		decode_rows(png, info, c, max_dim, max_bytes);
	} else {
		free(c->px);
		c->px = NULL;
	}
	png_destroy_read_struct(&png, &info, NULL);
	if (c->px) {
		struct page_image img = { c->px, 0, 0, NULL };
		uint8_t *b = (uint8_t *)c->px;
		size_t n, k;

		img.w = (int)c->w;
		img.h = (int)c->h;
		n = (size_t)img.w * img.h;
		/* RGBA bytes to premultiplied native 0xAARRGGBB, in place. */
		for (k = 0; k < n; k++) {
			uint32_t R = b[4 * k], G = b[4 * k + 1], B = b[4 * k + 2], A = b[4 * k + 3];

			if (A != 255) {
				R = (R * A + 127) / 255;
				G = (G * A + 127) / 255;
				B = (B * A + 127) / 255;
			}
			c->px[k] = (A << 24) | (R << 16) | (G << 8) | B;
		}
		free(c->rows);
		free(c);
		*out = img;
		return 0;
	}
	r = c->code ? c->code : -EBADMSG;
	snprintf(msg, msgsz, "%s", c->msg[0] ? c->msg : "corrupt PNG");
	free(c->rows);
	free(c);
	return r;
}
