/*
 * PNG encoding of 0xAARRGGBB pixel buffers (screenshots, test output).
 * Pure libpng: no files are opened here, the caller hands in an fd.
 */
#ifndef BH_RENDERER_PNG_WRITE_H
#define BH_RENDERER_PNG_WRITE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Writes `h` rows of `w` pixels (native-endian uint32_t 0xAARRGGBB, rows
 * `stride` bytes apart) to `fd` as an 8-bit RGB PNG; alpha is dropped, as
 * frames are opaque. Short writes and EINTR are retried. The fd stays
 * open and is the caller's. Returns 0, -EINVAL (bad size: w and h must be
 * 1..16384, stride >= 4 * w), -ENOMEM or the write's -errno; on failure
 * part of the file may have been written.
 */
int bh_png_write_argb(int fd, const uint32_t *pixels, int w, int h, size_t stride);

/*
 * Same, into memory: on success *out is a malloc'ed buffer of *out_len
 * bytes that the caller frees.
 */
int bh_png_encode_argb(const uint32_t *pixels, int w, int h, size_t stride, uint8_t **out,
		       size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif
