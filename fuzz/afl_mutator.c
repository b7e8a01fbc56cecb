/*
 * AFL++ custom mutator (AFL_CUSTOM_MUTATOR_LIBRARY) around the
 * descriptor-driven mutator, so that afl-fuzz mutates frames field by field
 * as libFuzzer does through LLVMFuzzerCustomMutator.
 *
 *   BH_FUZZ_FORMAT=envelope (default; fuzz_frame and channel harnesses)
 *   BH_FUZZ_FORMAT=frame    (fuzz_decode: the input is a bare frame)
 *   BH_FUZZ_FORMAT=sequence (fuzz_supervisor, fuzz_surface: fuzz.h sequences)
 *
 * The registry is the fuzz registry (framework types plus the fuzz types);
 * an application's harness builds its own module with its registry.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"

struct afl_bh {
	bh_registry *reg;
	int envelope;
	int sequence;
	unsigned seed;
	uint8_t *buf;
	size_t cap;
};

void *afl_custom_init(void *afl, unsigned int seed);
size_t afl_custom_fuzz(void *data, uint8_t *buf, size_t buf_size, uint8_t **out_buf,
		       uint8_t *add_buf, size_t add_buf_size, size_t max_size);
void afl_custom_deinit(void *data);

void *afl_custom_init(void *afl, unsigned int seed)
{
	struct afl_bh *m = calloc(1, sizeof *m);
	const char *fmt = getenv("BH_FUZZ_FORMAT");

	(void)afl;
	if (!m)
		return NULL;
	if (bh_fuzz_registry_create(&m->reg) < 0) {
		free(m);
		return NULL;
	}
	m->sequence = fmt && strcmp(fmt, "sequence") == 0;
	m->envelope = !m->sequence && (!fmt || strcmp(fmt, "frame") != 0);
	m->seed = seed;
	return m;
}

size_t afl_custom_fuzz(void *data, uint8_t *buf, size_t buf_size, uint8_t **out_buf,
		       uint8_t *add_buf, size_t add_buf_size, size_t max_size)
{
	struct afl_bh *m = data;
	unsigned seed = m->seed++ * 2654435761u;
	size_t n;

	if (m->cap < max_size) {
		uint8_t *nb = realloc(m->buf, max_size);

		if (!nb) {
			*out_buf = buf;
			return buf_size;
		}
		m->buf = nb;
		m->cap = max_size;
	}
	/* Now and then a crossover with the second input AFL++ offers. */
	if (add_buf && add_buf_size && (seed >> 28) == 0) {
		if (m->sequence)
			n = bh_fuzz_crossover_seq(m->reg, buf, buf_size, add_buf, add_buf_size, m->buf,
						  max_size, seed);
		else if (m->envelope)
			n = bh_fuzz_crossover_envelope(m->reg, buf, buf_size, add_buf, add_buf_size,
						       m->buf, max_size, seed);
		else
			n = bh_fuzz_crossover(m->reg, buf, buf_size, add_buf, add_buf_size, m->buf,
					      max_size, seed);
	} else {
		n = buf_size < max_size ? buf_size : max_size;
		memcpy(m->buf, buf, n);
		if (m->sequence)
			n = bh_fuzz_mutate_seq(m->reg, m->buf, n, max_size, seed);
		else if (m->envelope)
			n = bh_fuzz_mutate_envelope(m->reg, m->buf, n, max_size, seed);
		else
			n = bh_fuzz_mutate(m->reg, m->buf, n, max_size, seed);
	}
	*out_buf = m->buf;
	return n;
}

void afl_custom_deinit(void *data)
{
	struct afl_bh *m = data;

	bh_registry_destroy(m->reg);
	free(m->buf);
	free(m);
}
