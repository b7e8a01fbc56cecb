/* SHA-256 (FIPS 180-4), incremental. Plain C, no allocation, no system calls. */
#ifndef CHECKSUM_SHA256_H
#define CHECKSUM_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_SIZE 32

struct sha256 {
	uint32_t h[8];
	uint64_t length;      /* bytes hashed so far */
	uint8_t block[64];    /* pending input, block_len bytes */
	size_t block_len;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
/* Writes the digest; `s` must be initialised again before reuse. */
void sha256_final(struct sha256 *s, uint8_t digest[SHA256_DIGEST_SIZE]);

#endif
